{#
  The implicit-feedback matrix for recommendation: who bought what, over
  revenue-counted orders up to the as-of date.
#}

with order_items as (

    select * from {{ ref('int_order_items__joined_orders') }}

),

revenue_items as (

    select *
    from order_items
    where is_revenue

),

-- The latest order containing the product; order_id breaks a tie between orders placed
-- at the same moment. Its review, if any, is the customer's latest word on the product.
latest_orders as (

    select
        customer_unique_id,
        product_id,
        latest_review_score,
        row_number() over (
            partition by customer_unique_id, product_id
            order by purchased_at desc, order_id desc
        ) as recency_rank
    from revenue_items

),

interactions as (

    select
        customer_unique_id,
        product_id,
        min(category) as category,
        count(distinct order_id) as purchase_count,
        count(*) as quantity,
        {{ money('sum(price)') }} as spend,
        min(purchased_at) as first_purchased_at,
        max(purchased_at) as last_purchased_at
    from revenue_items
    group by customer_unique_id, product_id

),

final as (

    select
        interactions.customer_unique_id,
        interactions.product_id,
        interactions.category,
        interactions.purchase_count,
        interactions.quantity,
        interactions.spend,
        interactions.first_purchased_at,
        interactions.last_purchased_at,
        latest_orders.latest_review_score as last_review_score
    from interactions
    -- Every row has its rank-1 row, so a left join changes nothing here; it keeps
    -- PostgreSQL's row estimate at that of the left side (it assumes a filter on a
    -- window column keeps 0.5% of rows, and an inner join estimated at a handful of rows
    -- made later anti-joins pick quadratic nested loops).
    left join latest_orders
        on interactions.customer_unique_id = latest_orders.customer_unique_id
        and interactions.product_id = latest_orders.product_id
        and latest_orders.recency_rank = 1

)

select * from final
