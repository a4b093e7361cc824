{#
  An aggregate of the model equals an aggregate of another relation, e.g. the total of
  daily revenue equals the items value of revenue-counted orders:
    expression: sum(revenue)
    compare_model: ref('orders')
    compare_expression: sum(items_value)
    compare_where: is_revenue
  Empty relations compare equal (null is not distinct from null; count(*) is 0 on both).
#}
{% test aggregate_equals(model, expression, compare_model, compare_expression, where=none, compare_where=none) %}

with model_side as (
    select {{ expression }} as model_value
    from {{ model }}
    {%- if where is not none %}
    where {{ where }}
    {%- endif %}
),

compare_side as (
    select {{ compare_expression }} as compare_value
    from {{ compare_model }}
    {%- if compare_where is not none %}
    where {{ compare_where }}
    {%- endif %}
)

select
    model_side.model_value,
    compare_side.compare_value
from model_side
cross join compare_side
where model_side.model_value is distinct from compare_side.compare_value

{% endtest %}
