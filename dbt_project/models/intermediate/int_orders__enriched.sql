{#
  The one place where order facts are assembled and the as-of cut is made: every mart
  reads its orders from here, so --vars '{as_of_date: 2018-01-31}' rebuilds them all as
  of that day.
#}

with orders as (

    select * from {{ ref('stg_olist__orders') }}

),

customers as (

    select * from {{ ref('stg_olist__customers') }}

),

items as (

    select * from {{ ref('int_order_items__aggregated_by_order') }}

),

payments as (

    select * from {{ ref('int_order_payments__aggregated_by_order') }}

),

reviews as (

    select * from {{ ref('int_order_reviews__aggregated_by_order') }}

),

as_of_orders as (

    select *
    from orders
    where cast(purchased_at as date) <= {{ as_of_date() }}

),

-- Point in time: what was known at the end of the as-of day. Later milestones are
-- masked, and an order delivered later was still on its way then. Other final statuses
-- (canceled, unavailable) carry no date, so they stay as recorded. With the default
-- as-of day (the last purchase day) nothing changes.
point_in_time as (

    select
        order_id,
        customer_id,
        case
            when order_status = 'delivered'
                and cast(delivered_to_customer_at as date) > {{ as_of_date() }}
                then
                    case
                        when cast(delivered_to_carrier_at as date) <= {{ as_of_date() }} then 'shipped'
                        when cast(approved_at as date) <= {{ as_of_date() }} then 'approved'
                        else 'created'
                    end
            else order_status
        end as order_status,
        purchased_at,
        case when cast(approved_at as date) <= {{ as_of_date() }} then approved_at end as approved_at,
        case
            when cast(delivered_to_carrier_at as date) <= {{ as_of_date() }} then delivered_to_carrier_at
        end as delivered_to_carrier_at,
        case
            when cast(delivered_to_customer_at as date) <= {{ as_of_date() }} then delivered_to_customer_at
        end as delivered_to_customer_at,
        estimated_delivery_at
    from as_of_orders

),

joined as (

    select
        point_in_time.order_id,
        point_in_time.customer_id,
        customers.customer_unique_id,
        customers.customer_zip_code_prefix,
        customers.customer_city,
        customers.customer_state,
        point_in_time.order_status,
        point_in_time.order_status not in ('canceled', 'unavailable') as is_revenue,
        point_in_time.purchased_at,
        cast(point_in_time.purchased_at as date) as purchase_date,
        point_in_time.approved_at,
        point_in_time.delivered_to_carrier_at,
        point_in_time.delivered_to_customer_at,
        point_in_time.estimated_delivery_at,
        -- Calendar days, so that the same order counts the same on both warehouses.
        {{ days_between('point_in_time.purchased_at', 'point_in_time.delivered_to_customer_at') }} as delivery_days,
        -- Olist promises a day, not a time: delivered on the promised day is on time.
        cast(point_in_time.delivered_to_customer_at as date)
            > cast(point_in_time.estimated_delivery_at as date) as is_late,
        coalesce(items.items_count, 0) as items_count,
        coalesce(items.distinct_products, 0) as distinct_products,
        coalesce(items.distinct_sellers, 0) as distinct_sellers,
        {{ money('coalesce(items.items_value, 0)') }} as items_value,
        {{ money('coalesce(items.freight_value, 0)') }} as freight_value,
        items.main_category,
        {{ money('coalesce(payments.payment_value, 0)') }} as payment_value,
        coalesce(payments.payment_rows, 0) as payment_rows,
        payments.main_payment_type,
        payments.max_installments,
        coalesce(payments.has_credit_card_payment, false) as has_credit_card_payment,
        coalesce(reviews.review_count, 0) as review_count,
        coalesce(reviews.scored_review_count, 0) as scored_review_count,
        coalesce(reviews.review_score_total, 0) as review_score_total,
        reviews.average_review_score,
        reviews.latest_review_score
    from point_in_time
    inner join customers
        on point_in_time.customer_id = customers.customer_id
    left join items
        on point_in_time.order_id = items.order_id
    left join payments
        on point_in_time.order_id = payments.order_id
    left join reviews
        on point_in_time.order_id = reviews.order_id

),

final as (

    select * from joined

)

select * from final
