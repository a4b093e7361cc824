{#
  Dialect differences live here, behind adapter.dispatch, so that models read the same on
  DuckDB and PostgreSQL.
#}

{#
  A 64-bit float. dbt.type_float() renders "float", which is double precision on
  PostgreSQL but a 32-bit REAL on DuckDB: ratios computed through it would differ between
  the two warehouses from the seventh digit on.
#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}


{#
  numerator / denominator as a double, null when the denominator is zero or null. Both
  operands are cast so that neither warehouse falls back to integer or numeric division.
#}
{% macro safe_ratio(numerator, denominator) -%}
    (cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0))
{%- endmacro %}


{#
  One row per calendar day, column date_day, from first_day_column to last_day_column of
  each row of the relation (a CTE name) `bounds`; no row when bounds is empty. Generated
  in SQL rather than with dbt.date_spine, which runs a query at compile time to size the
  spine and so cannot read a CTE (nor a unit-test fixture).
#}
{% macro day_spine(bounds, first_day_column, last_day_column) -%}
    {{ return(adapter.dispatch('day_spine')(bounds, first_day_column, last_day_column)) }}
{%- endmacro %}

{% macro default__day_spine(bounds, first_day_column, last_day_column) -%}
    select cast(spine.day_start as date) as date_day
    from {{ bounds }}
    cross join lateral generate_series(
        cast({{ bounds }}.{{ first_day_column }} as timestamp),
        cast({{ bounds }}.{{ last_day_column }} as timestamp),
        interval '1 day'
    ) as spine (day_start)
{%- endmacro %}


{#
  A sum of money as numeric(18, 2) on both warehouses (sum(decimal(14, 2)) is an
  unconstrained numeric on PostgreSQL and decimal(38, 2) on DuckDB).
#}
{% macro money(expression) -%}
    cast({{ expression }} as numeric(18, 2))
{%- endmacro %}

{#
  A count or sum of integers as bigint on both warehouses (sum(integer) is bigint on
  PostgreSQL but a 128-bit hugeint on DuckDB; sum(bigint) is numeric on PostgreSQL).
#}
{% macro whole_count(expression) -%}
    cast({{ expression }} as {{ dbt.type_bigint() }})
{%- endmacro %}

{#
  Calendar days from the day of first_date to the day of second_date, as an integer
  (dbt.datediff gives bigint on DuckDB and integer on PostgreSQL). Times of day are
  ignored on both warehouses.
#}
{% macro days_between(first_date, second_date) -%}
    cast({{ dbt.datediff(first_date, second_date, 'day') }} as {{ dbt.type_int() }})
{%- endmacro %}
