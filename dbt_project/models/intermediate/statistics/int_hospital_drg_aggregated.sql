-- settlement-spec §6: per scheme, year, hospital, group status and DRG: case count, cost, LOS and deaths sums,
-- the inputs of CMI, CEI, TEI and low-risk mortality in hospital_performance.
{{ config(post_hook='analyze {{ this }}') }}  {# fresh tables: give the planner row counts #}
select
    scheme_version,
    year,
    hospital_id,
    group_status,
    drg,
    count(*)                                 as n,
    sum(total_cost)                          as sum_cost,
    sum(los_days)                            as sum_los,
    count(*) filter (where discharge_way = 5) as deaths
from {{ ref('int_cases_grouped') }}
group by scheme_version, year, hospital_id, group_status, drg
