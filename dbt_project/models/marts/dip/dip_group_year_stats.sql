-- DIP group statistics per year (output contract dip_group_year_stats; dip-spec §10, §12), under settlement year
-- Y's catalogue. Grain: (settlement_year, year, code): the cases of year y grouped to the code (any LOS, bed-day
-- included). median = percentile_cont(0.5); sd sample; share_high / share_low: the §7 step-4 tests of Y
-- (int_dip_cases_adjusted; dip3 counts high_candidate), over n; drug_score (西药 + 中成药 + 中药饮片) and
-- material_score (卫生材料费): the group's mean per case over the mean per case of every grouped case of y.
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}

with grouped as (
    select * from {{ ref('int_dip_cases_adjusted') }}
    where group_status in ('core', 'basic', 'comprehensive')
),

year_means as (
    select year, avg(drug_cost) as drug_mean, avg(material_cost) as material_mean from grouped group by year
)

select
    {{ var('settlement_year') | int }}::integer                          as settlement_year,
    g.year,
    g.code,
    count(*)::integer                                                   as n,
    avg(g.total_cost)                                                   as mean_cost,
    percentile_cont(0.5) within group (order by g.total_cost)           as median_cost,
    stddev_samp(g.total_cost)                                           as sd_cost,
    stddev_samp(g.total_cost) / nullif(avg(g.total_cost), 0)            as cv,
    avg(g.los_days)                                                     as mean_los,
    max(g.group_score)                                                  as score,
    avg(case when g.is_high then 1.0 else 0.0 end)                      as share_high,
    avg(case when g.is_low then 1.0 else 0.0 end)                       as share_low,
    avg(g.drug_cost) / nullif(max(y.drug_mean), 0)                      as drug_score,
    avg(g.material_cost) / nullif(max(y.material_mean), 0)              as material_score
from grouped as g
inner join year_means as y on y.year = g.year
group by g.year, g.code
