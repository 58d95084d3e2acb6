{# Typed views over raw text: a value that does not parse becomes null (validation rejects its row first).
   The parsers are validation's own (audit.parse_*, plugins/drgflow/sql/30_validation.sql), so staging and
   the rule catalogue read a value the same way; they are inlinable SQL, far cheaper than regular expressions. #}
{% macro to_int(col) -%}
    audit.parse_int({{ col }})
{%- endmacro %}

{% macro to_money(col) -%}
    audit.parse_money({{ col }})
{%- endmacro %}

{% macro to_numeric(col) -%}
    case when translate({{ col }}, '0123456789.+- ', '') = '' and pg_input_is_valid({{ col }}, 'numeric')
         then {{ col }}::numeric end
{%- endmacro %}

{% macro to_date(col) -%}
    audit.parse_date({{ col }})
{%- endmacro %}

{% macro code_list(col) -%}
    coalesce(audit.parse_code_list({{ col }}), array[]::text[])
{%- endmacro %}
