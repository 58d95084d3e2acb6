{# PostgreSQL parallel workers per grouping statement besides the leader: DRGFLOW_GROUPING_WORKERS, default 1
   (one less than the 2 cores of the reference machine; docs/operators.md), and at least `minimum`. #}
{% macro grouping_workers(minimum=0) -%}
    {{ [minimum, env_var('DRGFLOW_GROUPING_WORKERS', '1') | int] | max }}
{%- endmacro %}
