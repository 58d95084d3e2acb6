-- DIP hospital performance per year (output contract dip_hospital_performance; dip-spec §10, §12), under settlement
-- year Y's catalogue. Grain: (settlement_year, year, hospital_id). cmi = mean S_g / 1000 over grouped cases (例均
-- 分值); cost_index / time_index = mean of C / the group's mean cost of y (LOS / mean LOS) against every hospital
-- of y (dip_group_year_stats); share_high / share_low over the hospital's grouped cases. total_score (the annual
-- case scores, y = Y) and dip_vs_ffs (its DIP 结算率 t_h) come with the settlement (issue 21): null until then.
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}

with cases as (
    select * from {{ ref('int_dip_cases_adjusted') }}
),

stats as (
    select year, code, mean_cost, mean_los from {{ ref('dip_group_year_stats') }}
    where settlement_year = {{ var('settlement_year') | int }}
)

select
    {{ var('settlement_year') | int }}::integer                                          as settlement_year,
    c.year,
    c.hospital_id,
    count(*)::integer                                                                   as n_cases,
    count(*) filter (where c.group_status in ('core', 'basic', 'comprehensive'))::integer as n_grouped,
    null::numeric                                                                       as total_score,
    avg(c.group_score / 1000) filter (where c.group_status in ('core', 'basic', 'comprehensive')) as cmi,
    avg(c.total_cost / nullif(s.mean_cost, 0)) filter (where s.code is not null)        as cost_index,
    avg(c.los_days / nullif(s.mean_los, 0)) filter (where s.code is not null)           as time_index,
    avg(case when c.is_high then 1.0 else 0.0 end)
        filter (where c.group_status in ('core', 'basic', 'comprehensive'))             as share_high,
    avg(case when c.is_low then 1.0 else 0.0 end)
        filter (where c.group_status in ('core', 'basic', 'comprehensive'))             as share_low,
    null::numeric                                                                       as dip_vs_ffs
from cases as c
left join stats as s on s.year = c.year and s.code = c.code
group by c.year, c.hospital_id
