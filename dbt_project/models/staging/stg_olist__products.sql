with source as (

    select * from {{ source('olist', 'olist_products_dataset') }}

),

renamed as (

    select
        product_id,
        {{ clean_text('product_category_name') }} as product_category_name,
        -- Olist's header says "lenght"; the misspelling stops here.
        {{ whole_number('product_name_lenght') }} as product_name_length,
        {{ whole_number('product_description_lenght') }} as product_description_length,
        {{ whole_number('product_photos_qty') }} as product_photos_count,
        {{ whole_number('product_weight_g') }} as product_weight_g,
        {{ whole_number('product_length_cm') }} as product_length_cm,
        {{ whole_number('product_height_cm') }} as product_height_cm,
        {{ whole_number('product_width_cm') }} as product_width_cm
    from source

),

final as (

    select * from renamed

)

select * from final
