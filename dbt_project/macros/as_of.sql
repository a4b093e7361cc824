{#
  The day the marts describe: orders purchased after it are ignored, and recency is
  counted back from it. With var as_of_date unset it is the day of the last purchase in
  the data, so a fresh build describes the data set's own "today" rather than the wall
  clock (Olist ends in 2018).
#}
{% macro as_of_date() -%}
    {%- if var('as_of_date', none) is not none -%}
        cast('{{ var("as_of_date") }}' as date)
    {%- else -%}
        (select cast(max(order_purchase_timestamp) as date) from {{ source('olist', 'olist_orders_dataset') }})
    {%- endif -%}
{%- endmacro %}
