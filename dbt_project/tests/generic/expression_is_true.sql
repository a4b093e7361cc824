{#
  Every row of the model (optionally only those matching `where`) satisfies `expression`.
  A null result counts as a failure: pass `where` to skip rows where null is allowed.
  Attached to a column, the test still evaluates `expression` as written.
#}
{% test expression_is_true(model, expression, where=none, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where is not none %}
    and ({{ where }})
{%- endif %}

{% endtest %}
