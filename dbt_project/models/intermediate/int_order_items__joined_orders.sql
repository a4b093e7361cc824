{#
  Every item of an order in int_orders__enriched (so as-of filtered), with the facts of
  its order and the category of its product: the item grain the product and customer
  marts aggregate.
#}

with order_items as (

    select * from {{ ref('stg_olist__order_items') }}

),

orders as (

    select * from {{ ref('int_orders__enriched') }}

),

products as (

    select * from {{ ref('int_products__categorized') }}

),

joined as (

    select
        order_items.order_id,
        order_items.order_item_id,
        order_items.product_id,
        order_items.seller_id,
        order_items.price,
        order_items.freight_value,
        orders.customer_unique_id,
        orders.order_status,
        orders.is_revenue,
        orders.purchased_at,
        orders.purchase_date,
        orders.latest_review_score,
        products.category
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id

),

final as (

    select * from joined

)

select * from final
