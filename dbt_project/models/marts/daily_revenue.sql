with orders as (

    select * from {{ ref('int_orders__enriched') }}

),

-- The calendar runs from the first to the last purchase day of any status, so a day
-- whose orders were all canceled still appears, with zero revenue.
bounds as (

    select
        min(purchase_date) as first_day,
        max(purchase_date) as last_day
    from orders
    having count(*) > 0

),

calendar as (

    {{ day_spine('bounds', 'first_day', 'last_day') }}

),

revenue_by_day as (

    select
        purchase_date,
        count(*) as orders,
        {{ whole_count('sum(items_count)') }} as items,
        {{ money('sum(items_value)') }} as revenue,
        {{ money('sum(freight_value)') }} as freight
    from orders
    where is_revenue
    group by purchase_date

),

final as (

    select
        calendar.date_day as date,
        coalesce(revenue_by_day.orders, 0) as orders,
        coalesce(revenue_by_day.items, 0) as items,
        {{ money('coalesce(revenue_by_day.revenue, 0)') }} as revenue,
        {{ money('coalesce(revenue_by_day.freight, 0)') }} as freight,
        {{ safe_ratio('revenue_by_day.revenue', 'revenue_by_day.orders') }} as average_order_value
    from calendar
    left join revenue_by_day
        on calendar.date_day = revenue_by_day.purchase_date

)

select * from final
