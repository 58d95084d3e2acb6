{# settlement-spec §2: the weight of each base year, from a parameters row `p` with base_year_first and
   base_weights ('|'-separated, oldest first): rows (year, weight). One rule for the DRG and DIP statistics. #}
{% macro base_year_weights(p) -%}
    select {{ p }}.base_year_first + (w.ord - 1)::integer as year, w.weight
    from {{ p }}
    cross join lateral unnest(string_to_array({{ p }}.base_weights, '|')::numeric[]) with ordinality as w (weight, ord)
{%- endmacro %}
