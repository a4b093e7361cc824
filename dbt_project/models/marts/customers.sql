with orders as (

    select * from {{ ref('int_orders__enriched') }}

),

-- The address of the customer record of the person's latest order; order_id breaks a
-- tie between orders placed at the same moment.
latest_addresses as (

    select
        customer_unique_id,
        customer_zip_code_prefix,
        customer_city,
        customer_state,
        row_number() over (
            partition by customer_unique_id
            order by purchased_at desc, order_id desc
        ) as recency_rank
    from orders

),

order_totals as (

    select
        customer_unique_id,
        min(purchased_at) as first_purchased_at,
        max(purchased_at) as last_purchased_at,
        count(*) as orders_count,
        count(case when is_revenue then order_id end) as revenue_orders_count,
        {{ money('coalesce(sum(case when is_revenue then items_value + freight_value end), 0)') }} as total_spend
    from orders
    group by customer_unique_id

),

final as (

    select
        order_totals.customer_unique_id,
        latest_addresses.customer_zip_code_prefix,
        latest_addresses.customer_city,
        latest_addresses.customer_state,
        order_totals.first_purchased_at,
        order_totals.last_purchased_at,
        order_totals.orders_count,
        order_totals.revenue_orders_count,
        order_totals.total_spend
    from order_totals
    -- Every row has its rank-1 row, so a left join changes nothing here; it keeps
    -- PostgreSQL's row estimate at that of the left side (it assumes a filter on a
    -- window column keeps 0.5% of rows, and an inner join estimated at a handful of rows
    -- made later anti-joins pick quadratic nested loops).
    left join latest_addresses
        on order_totals.customer_unique_id = latest_addresses.customer_unique_id
        and latest_addresses.recency_rank = 1

)

select * from final
