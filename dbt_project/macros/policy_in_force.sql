{#- settlement-spec §7: the rows of a policy seed in force for settlement year `year_sql` (SQL text), as a
    subquery: the rows with the greatest effective_from_year <= Y, so that a year without rows of its own
    inherits the latest earlier policy (the 1900 rows hold the spec's defaults). The one statement of the rule:
    every model that reads a policy seed goes through this macro. -#}
{% macro policy_in_force(policy, year_sql) -%}
(
    select in_force.*
    from {{ ref(policy) }} as in_force
    where in_force.effective_from_year = (
        select max(latest.effective_from_year) from {{ ref(policy) }} as latest
        where latest.effective_from_year <= {{ year_sql }}
    )
)
{%- endmacro %}
