with order_items as (

    select * from {{ ref('stg_olist__order_items') }}

),

products as (

    select * from {{ ref('int_products__categorized') }}

),

-- The main category is the one the order spent most on; of equal spend, the first by name.
category_spend as (

    select
        order_items.order_id,
        products.category,
        sum(order_items.price) as category_value
    from order_items
    left join products
        on order_items.product_id = products.product_id
    group by order_items.order_id, products.category

),

ranked_categories as (

    select
        order_id,
        category,
        row_number() over (
            partition by order_id
            order by category_value desc nulls last, category asc
        ) as spend_rank
    from category_spend

),

main_categories as (

    select
        order_id,
        category as main_category
    from ranked_categories
    where spend_rank = 1

),

aggregated as (

    select
        order_id,
        count(*) as items_count,
        count(distinct product_id) as distinct_products,
        count(distinct seller_id) as distinct_sellers,
        {{ money('sum(price)') }} as items_value,
        {{ money('sum(freight_value)') }} as freight_value
    from order_items
    group by order_id

),

final as (

    select
        aggregated.order_id,
        aggregated.items_count,
        aggregated.distinct_products,
        aggregated.distinct_sellers,
        aggregated.items_value,
        aggregated.freight_value,
        main_categories.main_category
    from aggregated
    -- One rank-1 row per order: a left join keeps PostgreSQL's row estimate (see the payments).
    left join main_categories
        on aggregated.order_id = main_categories.order_id

)

select * from final
