with all_reviews as (

    select * from {{ ref('stg_olist__order_reviews') }}

),

-- Point in time: a review written after the as-of day did not exist yet, so it must not
-- feed scores that a model trained "as of" that day will see.
reviews as (

    select *
    from all_reviews
    where cast(review_created_at as date) <= {{ as_of_date() }}

),

-- The latest review is the one answered last; created last and then review_id decide
-- between reviews answered at the same moment.
ranked as (

    select
        order_id,
        review_score,
        review_answered_at,
        row_number() over (
            partition by order_id
            order by
                review_answered_at desc nulls last,
                review_created_at desc nulls last,
                review_id desc
        ) as recency_rank
    from reviews

),

latest_reviews as (

    select
        order_id,
        review_score as latest_review_score,
        review_answered_at as latest_review_answered_at
    from ranked
    where recency_rank = 1

),

totals as (

    select
        order_id,
        count(*) as review_count,
        count(review_score) as scored_review_count,
        {{ whole_count('sum(review_score)') }} as review_score_total
    from reviews
    group by order_id

),

final as (

    select
        totals.order_id,
        totals.review_count,
        totals.scored_review_count,
        totals.review_score_total,
        -- From the integer total rather than avg(), which is numeric on PostgreSQL and
        -- double on DuckDB.
        {{ safe_ratio('totals.review_score_total', 'totals.scored_review_count') }} as average_review_score,
        latest_reviews.latest_review_score,
        latest_reviews.latest_review_answered_at
    from totals
    -- Every row has its rank-1 row, so a left join changes nothing here; it keeps
    -- PostgreSQL's row estimate at that of the left side (it assumes a filter on a
    -- window column keeps 0.5% of rows, and an inner join estimated at a handful of rows
    -- made later anti-joins pick quadratic nested loops).
    left join latest_reviews
        on totals.order_id = latest_reviews.order_id

)

select * from final
