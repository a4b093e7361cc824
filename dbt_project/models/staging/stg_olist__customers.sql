with source as (

    select * from {{ source('olist', 'olist_customers_dataset') }}

),

renamed as (

    select
        customer_id,
        customer_unique_id,
        {{ clean_zip_prefix('customer_zip_code_prefix') }} as customer_zip_code_prefix,
        {{ clean_city('customer_city') }} as customer_city,
        {{ clean_state('customer_state') }} as customer_state
    from source

),

final as (

    select * from renamed

)

select * from final
