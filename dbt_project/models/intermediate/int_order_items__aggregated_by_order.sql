with order_items as (

    select * from {{ ref('stg_olist__order_items') }}

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

    select * from aggregated

)

select * from final
