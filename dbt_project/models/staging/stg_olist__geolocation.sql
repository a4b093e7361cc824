with source as (

    select * from {{ source('olist', 'olist_geolocation_dataset') }}

),

renamed as (

    select
        {{ clean_zip_prefix('geolocation_zip_code_prefix') }} as zip_code_prefix,
        geolocation_lat as latitude,
        geolocation_lng as longitude,
        {{ clean_city('geolocation_city') }} as city,
        {{ clean_state('geolocation_state') }} as state
    from source

),

-- Olist's geolocation file repeats many points exactly (more so once city names are
-- cleaned); the repeats carry no information.
deduplicated as (

    select distinct
        zip_code_prefix,
        latitude,
        longitude,
        city,
        state
    from renamed

),

final as (

    select * from deduplicated

)

select * from final
