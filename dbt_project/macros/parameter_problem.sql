{# The checks a loaded parameter row (dip_parameters.csv / drg_parameters.csv) passes, as the text of what is
   wrong with row `l` (settlement_year, parameter, value, value_type: null for an unknown parameter), or null.
   `unknown` names where the known parameters are listed; `empty` is the text for an empty value (null: allowed). #}
{% macro parameter_problem(l, unknown, empty=none) -%}
    case
        when {{ l }}.settlement_year is null then 'settlement_year is not a year'
        when {{ l }}.value_type is null then 'unknown parameter ' || coalesce({{ l }}.parameter, '(empty)')
            || ' ({{ unknown }})'
        when {{ l }}.value = '' then {{ ("'" ~ empty | replace("'", "''") ~ "'") if empty else 'null' }}
        when {{ l }}.value_type = 'integer' and {{ l }}.value !~ '^[0-9]+$' then 'not a whole number: ' || {{ l }}.value
        when {{ l }}.value_type = 'numeric' and not pg_input_is_valid({{ l }}.value, 'numeric')
            then 'not a number: ' || {{ l }}.value
        when {{ l }}.value_type = 'boolean' and lower({{ l }}.value) not in ('true', 'false')
            then 'not true/false: ' || {{ l }}.value
        when {{ l }}.value_type = 'map' and {{ l }}.value !~ '^[^:|]+:[0-9.]+(\|[^:|]+:[0-9.]+)*$'
            then 'not a map key:value|key:value: ' || {{ l }}.value
        when {{ l }}.parameter = 'base_weights' and {{ l }}.value !~ '^[0-9.]+(\|[0-9.]+)*$'
            then 'not a |-separated list of numbers: ' || {{ l }}.value
    end
{%- endmacro %}
