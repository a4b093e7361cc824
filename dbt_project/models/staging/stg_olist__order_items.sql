with source as (

    select * from {{ source('olist', 'olist_order_items_dataset') }}

),

renamed as (

    select
        order_id,
        cast(order_item_id as {{ dbt.type_int() }}) as order_item_id,
        product_id,
        seller_id,
        shipping_limit_date as shipping_limit_at,
        price,
        freight_value
    from source

),

final as (

    select * from renamed

)

select * from final
