{# Typed views over raw text: a value that does not parse becomes null (validation rejects its row first). #}
{% macro to_int(col) -%}
    case when btrim({{ col }}) ~ '^[+-]?[0-9]{1,9}$' then btrim({{ col }})::integer end
{%- endmacro %}

{% macro to_money(col) -%}
    case when btrim({{ col }}) ~ '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$' then btrim({{ col }})::numeric(18, 2) end
{%- endmacro %}

{% macro to_numeric(col) -%}
    case when btrim({{ col }}) ~ '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$' then btrim({{ col }})::numeric end
{%- endmacro %}

{% macro to_date(col) -%}
    raw.try_date({{ col }})
{%- endmacro %}

{% macro code_list(col) -%}
    case when nullif(btrim({{ col }}), '') is null then array[]::text[]
         else array_remove(string_to_array(regexp_replace(btrim({{ col }}), '\s*[|]\s*', '|', 'g'), '|'), '') end
{%- endmacro %}
