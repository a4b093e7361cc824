-- The as-of cut is made once, in int_orders__enriched: no mart may see a purchase, an
-- approval or a delivery after the as-of day (a model trained "as of" a day must not
-- learn from what happened later).
select order_id, purchase_date, approved_at, delivered_to_carrier_at, delivered_to_customer_at
from {{ ref('orders') }}
where purchase_date > {{ as_of_date() }}
    or cast(approved_at as date) > {{ as_of_date() }}
    or cast(delivered_to_carrier_at as date) > {{ as_of_date() }}
    or cast(delivered_to_customer_at as date) > {{ as_of_date() }}
