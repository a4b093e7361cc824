with source as (

    select * from {{ source('olist', 'olist_order_reviews_dataset') }}

),

renamed as (

    select
        review_id,
        order_id,
        cast(review_score as {{ dbt.type_int() }}) as review_score,
        {{ clean_text('review_comment_title') }} as review_comment_title,
        {{ clean_text('review_comment_message') }} as review_comment_message,
        review_creation_date as review_created_at,
        review_answer_timestamp as review_answered_at
    from source

),

-- Olist ships some (review_id, order_id) pairs more than once; keep the latest answer.
-- The trailing keys only order rows that agree on both timestamps, so that the same row
-- survives on every warehouse.
ranked as (

    select
        *,
        row_number() over (
            partition by review_id, order_id
            order by
                review_answered_at desc nulls last,
                review_created_at desc nulls last,
                review_score desc nulls last,
                review_comment_title asc nulls last,
                review_comment_message asc nulls last
        ) as answer_rank
    from renamed

),

final as (

    select
        review_id,
        order_id,
        review_score,
        review_comment_title,
        review_comment_message,
        review_created_at,
        review_answered_at
    from ranked
    where answer_rank = 1

)

select * from final
