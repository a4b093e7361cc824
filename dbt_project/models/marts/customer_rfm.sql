{#
  Recency, frequency and monetary value of each person with at least one
  revenue-counted order up to the as-of date, scored in quintiles, plus the features the
  customer models read. Every figure is computed over the person's revenue-counted orders
  only (status not canceled or unavailable), so that frequency and monetary agree with
  daily_revenue and with each other.
#}

with orders as (

    select * from {{ ref('int_orders__enriched') }}

),

order_items as (

    select * from {{ ref('int_order_items__joined_orders') }}

),

revenue_orders as (

    select *
    from orders
    where is_revenue

),

revenue_items as (

    select *
    from order_items
    where is_revenue

),

customer_orders as (

    select
        customer_unique_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as frequency,
        {{ money('sum(items_value + freight_value)') }} as monetary,
        {{ whole_count('sum(review_score_total)') }} as review_score_total,
        {{ whole_count('sum(scored_review_count)') }} as scored_review_count,
        {{ whole_count('sum(max_installments)') }} as installments_total,
        count(max_installments) as orders_with_installments,
        count(case when has_credit_card_payment then order_id end) as credit_card_orders
    from revenue_orders
    group by customer_unique_id

),

-- The state of the customer record of the latest revenue-counted order.
latest_states as (

    select
        customer_unique_id,
        customer_state,
        row_number() over (
            partition by customer_unique_id
            order by purchased_at desc, order_id desc
        ) as recency_rank
    from revenue_orders

),

customer_items as (

    select
        customer_unique_id,
        count(*) as items_count,
        {{ money('sum(price)') }} as items_value,
        count(distinct category) as distinct_categories
    from revenue_items
    group by customer_unique_id

),

category_items as (

    select
        customer_unique_id,
        category,
        count(*) as items_count,
        sum(price) as items_value
    from revenue_items
    group by customer_unique_id, category

),

-- Favourite category: most items, then most spent on it, then the category name.
favourite_categories as (

    select
        customer_unique_id,
        category,
        row_number() over (
            partition by customer_unique_id
            order by items_count desc, items_value desc, category asc
        ) as preference_rank
    from category_items

),

rfm_values as (

    select
        customer_orders.*,
        {{ as_of_date() }} as as_of_date,
        {{ days_between('customer_orders.last_purchase_date', as_of_date()) }} as recency_days
    from customer_orders

),

scored as (

    select
        *,
        {{ rfm_quintile_score('recency_days desc') }} as r_score,
        {{ rfm_quintile_score('frequency asc') }} as f_score,
        {{ rfm_quintile_score('monetary asc') }} as m_score
    from rfm_values

),

final as (

    select
        scored.customer_unique_id,
        scored.as_of_date,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        cast(scored.r_score as {{ dbt.type_string() }})
            || cast(scored.f_score as {{ dbt.type_string() }})
            || cast(scored.m_score as {{ dbt.type_string() }}) as rfm_score,
        scored.r_score + scored.f_score + scored.m_score as rfm_total,
        latest_states.customer_state,
        scored.first_purchase_date,
        scored.last_purchase_date,
        {{ days_between('scored.first_purchase_date', 'scored.last_purchase_date') }} as days_between_first_and_last_order,
        {{ safe_ratio('scored.review_score_total', 'scored.scored_review_count') }} as average_review_score,
        {{ safe_ratio('scored.installments_total', 'scored.orders_with_installments') }} as average_installments,
        {{ safe_ratio('scored.credit_card_orders', 'scored.frequency') }} as credit_card_order_share,
        favourite_categories.category as favourite_category,
        coalesce(customer_items.distinct_categories, 0) as distinct_categories,
        coalesce(customer_items.items_count, 0) as items_count,
        {{ safe_ratio('customer_items.items_value', 'customer_items.items_count') }} as average_item_price
    from scored
    -- Every row has its rank-1 row, so a left join changes nothing here; it keeps
    -- PostgreSQL's row estimate at that of the left side (it assumes a filter on a
    -- window column keeps 0.5% of rows, and an inner join estimated at a handful of rows
    -- made later anti-joins pick quadratic nested loops).
    left join latest_states
        on scored.customer_unique_id = latest_states.customer_unique_id
        and latest_states.recency_rank = 1
    left join customer_items
        on scored.customer_unique_id = customer_items.customer_unique_id
    left join favourite_categories
        on scored.customer_unique_id = favourite_categories.customer_unique_id
        and favourite_categories.preference_rank = 1

)

select * from final
