{#
  The date column holds every calendar day from its first to its last value exactly once:
  no gap, no repeat.
#}
{% test contiguous_days(model, column_name) %}

with bounds as (
    select
        min({{ column_name }}) as first_day,
        max({{ column_name }}) as last_day,
        count(*) as row_count,
        count(distinct {{ column_name }}) as distinct_days
    from {{ model }}
)

select *
from bounds
where row_count > 0
    and (
        distinct_days != row_count
        or row_count != {{ dbt.datediff('first_day', 'last_day', 'day') }} + 1
    )

{% endtest %}
