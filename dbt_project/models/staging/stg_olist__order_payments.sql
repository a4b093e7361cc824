with source as (

    select * from {{ source('olist', 'olist_order_payments_dataset') }}

),

renamed as (

    select
        order_id,
        cast(payment_sequential as {{ dbt.type_int() }}) as payment_sequential,
        lower(trim(payment_type)) as payment_type,
        cast(payment_installments as {{ dbt.type_int() }}) as payment_installments,
        payment_value
    from source

),

final as (

    select * from renamed

)

select * from final
