{#
  Light cleaning shared by the staging models.
#}

{#
  Olist wrote zip-code prefixes as integers and so lost their leading zeros (01046 became
  1046); restore the five digits.
#}
{% macro clean_zip_prefix(column) -%}
    lpad(nullif(trim({{ column }}), ''), 5, '0')
{%- endmacro %}

{% macro clean_state(column) -%}
    upper(nullif(trim({{ column }}), ''))
{%- endmacro %}

{#
  Lower-case city names. PostgreSQL's lower() only folds ASCII under the C collation the
  CI database uses (lower('SÃO') is 'sÃo' there, 'são' on DuckDB), so the accented
  capitals of Portuguese are folded explicitly first.
#}
{% macro clean_city(column) -%}
    lower(translate(
        nullif(trim({{ column }}), ''),
        'ÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ',
        'áàâãäéèêëíìîïóòôõöúùûüçñ'
    ))
{%- endmacro %}

{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#
  Olist stores counts and dimensions as doubles (1.0, 500.0); they are whole numbers.
  Rounding through numeric gives the same half-away-from-zero rule on both warehouses
  (a direct double-to-integer cast rounds half to even on PostgreSQL).
#}
{% macro whole_number(column) -%}
    cast(round(cast({{ column }} as numeric(18, 3))) as integer)
{%- endmacro %}
