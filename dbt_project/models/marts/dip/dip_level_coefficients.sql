-- DIP level coefficients λ (医疗机构调节系数) of settlement year Y (output contract dip_level_coefficients;
-- dip-spec §6.1, §12). Grain: (settlement_year, stratum). ratio_<year>: the cost-per-point ratio of each base year
-- (null for a year that is not one of Y's base years or had no kept case); raw before clamping and rounding;
-- coefficient; n_kept = Σ_y |K_{L,y}|. Partitioned by settlement_year. The ratio columns of earlier settlement
-- years stay, in their order, and a new base year's column is appended (the partitioned table keeps one shape).
-- depends_on: {{ ref('int_dip_parameters_resolved') }}
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}
{%- set years = [] %}
{%- if execute %}
{%- set relation = adapter.get_relation(this.database, this.schema, this.identifier) %}
{%- if relation is not none %}
{%- for col in adapter.get_columns_in_relation(relation) if col.name.startswith('ratio_') %}
{%- do years.append(col.name[6:] | int) %}
{%- endfor %}
{%- endif %}
{%- set span = run_query("select base_year_first, base_year_last from " ~ ref('int_dip_parameters_resolved')) %}
{%- for y in range(span.columns[0].values()[0] | int, (span.columns[1].values()[0] | int) + 1) if y not in years %}
{%- do years.append(y) %}
{%- endfor %}
{%- endif %}

select
    settlement_year,
    stratum,
    level,
    raw,
    coefficient,
    n_kept
{%- for y in years %},
    (ratios ->> '{{ y }}')::numeric as ratio_{{ y }}
{%- endfor %}
from {{ ref('int_dip_level_coefficients_estimated') }}
