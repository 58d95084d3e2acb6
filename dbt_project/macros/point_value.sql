{# settlement-spec §5: the point value machinery every payment method shares (DRG today; DIP beside it).

   region_totals(cases): per pooling region, the points and personal payments of `cases` (a relation or CTE
   with region_code, points, personal_paid) and the region's fund and usable budget (int_region_budgets_resolved).

   point_value(r, months): (U / months + ΣP) / Σpoints for the totals row `r`, written as one division
   (U + months × ΣP) / (months × Σpoints), so that a month (months = 12) and a year (months = 1) round alike. #}
{% macro region_totals(cases) -%}
    select c.region_code,
           sum(c.points)        as region_points,
           sum(c.personal_paid) as region_personal,
           b.fund_budget,
           b.usable_budget
    from {{ cases }} as c
    left join {{ ref('int_region_budgets_resolved') }} as b on b.region_code = c.region_code
    group by c.region_code, b.fund_budget, b.usable_budget
{%- endmacro %}

{% macro point_value(r, months) -%}
    {%- if months | int == 1 -%}
    ({{ r }}.usable_budget + {{ r }}.region_personal) / nullif({{ r }}.region_points, 0)
    {%- else -%}
    ({{ r }}.usable_budget + {{ months }} * {{ r }}.region_personal) / nullif({{ months }} * {{ r }}.region_points, 0)
    {%- endif -%}
{%- endmacro %}
