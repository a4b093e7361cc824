{#
  Every layer lives in its own schema named after the folder (raw, staging, intermediate,
  marts), optionally prefixed per tenant and suffixed while a build is not yet published.
  dbt's default would prepend the target schema ("public_marts"), which BI users should
  never have to type.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set layer = custom_schema_name if custom_schema_name is not none else target.schema -%}
    {{ var('schema_prefix', '') ~ layer ~ var('schema_suffix', '') }}
{%- endmacro %}
