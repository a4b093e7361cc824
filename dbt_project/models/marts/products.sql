with products as (

    select * from {{ ref('int_products__categorized') }}

),

order_items as (

    select * from {{ ref('int_order_items__joined_orders') }}

),

-- Sales count only the items of revenue-counted orders, as daily_revenue does.
sales as (

    select
        product_id,
        count(*) as units_sold,
        count(distinct order_id) as orders_count,
        {{ money('sum(price)') }} as revenue,
        min(purchased_at) as first_sold_at,
        max(purchased_at) as last_sold_at
    from order_items
    where is_revenue
    group by product_id

),

final as (

    select
        products.product_id,
        products.category,
        products.category_portuguese,
        products.category_english,
        products.product_name_length,
        products.product_description_length,
        products.product_photos_count,
        products.product_weight_g,
        products.product_length_cm,
        products.product_height_cm,
        products.product_width_cm,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.orders_count, 0) as orders_count,
        {{ money('coalesce(sales.revenue, 0)') }} as revenue,
        {{ safe_ratio('sales.revenue', 'sales.units_sold') }} as average_price,
        sales.first_sold_at,
        sales.last_sold_at
    from products
    left join sales
        on products.product_id = sales.product_id

)

select * from final
