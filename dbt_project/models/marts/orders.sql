with enriched_orders as (

    select * from {{ ref('int_orders__enriched') }}

),

final as (

    select
        order_id,
        customer_id,
        customer_unique_id,
        customer_zip_code_prefix,
        customer_city,
        customer_state,
        order_status,
        is_revenue,
        purchased_at,
        purchase_date,
        approved_at,
        delivered_to_carrier_at,
        delivered_to_customer_at,
        estimated_delivery_at,
        delivery_days,
        is_late,
        items_count,
        distinct_products,
        distinct_sellers,
        items_value,
        freight_value,
        {{ money('items_value + freight_value') }} as order_value,
        main_category,
        payment_value,
        payment_rows,
        main_payment_type,
        max_installments,
        has_credit_card_payment,
        review_count,
        average_review_score,
        latest_review_score
    from enriched_orders

)

select * from final
