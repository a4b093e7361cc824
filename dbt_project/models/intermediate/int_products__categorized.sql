with products as (

    select * from {{ ref('stg_olist__products') }}

),

translations as (

    select * from {{ ref('stg_olist__category_translations') }}

),

categorized as (

    select
        products.product_id,
        products.product_category_name as category_portuguese,
        translations.product_category_name_english as category_english,
        coalesce(
            translations.product_category_name_english,
            products.product_category_name,
            'unknown'
        ) as category,
        products.product_name_length,
        products.product_description_length,
        products.product_photos_count,
        products.product_weight_g,
        products.product_length_cm,
        products.product_height_cm,
        products.product_width_cm
    from products
    left join translations
        on products.product_category_name = translations.product_category_name

),

final as (

    select * from categorized

)

select * from final
