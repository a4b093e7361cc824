with source as (

    select * from {{ source('olist', 'olist_sellers_dataset') }}

),

renamed as (

    select
        seller_id,
        {{ clean_zip_prefix('seller_zip_code_prefix') }} as seller_zip_code_prefix,
        {{ clean_city('seller_city') }} as seller_city,
        {{ clean_state('seller_state') }} as seller_state
    from source

),

final as (

    select * from renamed

)

select * from final
