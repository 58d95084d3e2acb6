{# settlement-spec §4.2 / §8: whether a principal diagnosis `dx` (upper-cased, dots removed) matches bed-day
   category row `k` (code_from / code_to likewise): range rows compare the three-character category, prefix rows
   the code's start. One rule for the DRG (int_case_bed_day_matched) and DIP (int_dip_cases_coded) sides. #}
{% macro bed_day_matches(dx, k) -%}
    case when {{ k }}.match_type = 'range' then left({{ dx }}, 3) between {{ k }}.code_from and {{ k }}.code_to
         else {{ dx }} like {{ k }}.code_from || '%' end
{%- endmacro %}

{# The same rule as a CASE over category rows read at compile time (dicts with category, match_type, code_from,
   code_to, in priority order): the first matching category, null when none. #}
{% macro bed_day_case(dx, categories) -%}
{%- if categories -%}
    case
    {%- for k in categories %}
        when {% if k.match_type == 'range' -%}
            left({{ dx }}, 3) between '{{ k.code_from }}' and '{{ k.code_to }}'
        {%- else -%}
            {{ dx }} like '{{ k.code_from }}%'
        {%- endif %} then '{{ k.category }}'
    {%- endfor %}
    end
{%- else -%}
    null::text
{%- endif -%}
{%- endmacro %}
