with payments as (

    select * from {{ ref('stg_olist__order_payments') }}

),

-- The main payment type is that of the largest payment; of equal payments, the first made.
ranked as (

    select
        order_id,
        payment_type,
        row_number() over (
            partition by order_id
            order by payment_value desc nulls last, payment_sequential asc
        ) as value_rank
    from payments

),

main_payment_types as (

    select
        order_id,
        payment_type as main_payment_type
    from ranked
    where value_rank = 1

),

totals as (

    select
        order_id,
        {{ money('sum(payment_value)') }} as payment_value,
        count(*) as payment_rows,
        max(payment_installments) as max_installments,
        max(case when payment_type = 'credit_card' then 1 else 0 end) = 1 as has_credit_card_payment
    from payments
    group by order_id

),

final as (

    select
        totals.order_id,
        totals.payment_value,
        totals.payment_rows,
        main_payment_types.main_payment_type,
        totals.max_installments,
        totals.has_credit_card_payment
    from totals
    -- Every row has its rank-1 row, so a left join changes nothing here; it keeps
    -- PostgreSQL's row estimate at that of the left side (it assumes a filter on a
    -- window column keeps 0.5% of rows, and an inner join estimated at a handful of rows
    -- made later anti-joins pick quadratic nested loops).
    left join main_payment_types
        on totals.order_id = main_payment_types.order_id

)

select * from final
