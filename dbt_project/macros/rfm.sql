{#
  RFM quintile score 1..5 of the expression `order_by` over all rows of the query:
  1 + floor(5 * percent_rank()), capped at 5 (percent_rank is 1 for the last row).

  Rows with equal values share a rank and so a score, unlike ntile(5), which splits a run
  of identical values (most customers order once) across scores in an arbitrary,
  warehouse-dependent way. percent_rank is (rank - 1) / (rows - 1) in double precision on
  both warehouses, so the scores are identical on DuckDB and PostgreSQL.

  Pass "recency_days desc" for recency so that the most recent customers score 5.
#}
{% macro rfm_quintile_score(order_by) -%}
    least(5, 1 + cast(floor(5 * percent_rank() over (order by {{ order_by }})) as integer))
{%- endmacro %}
