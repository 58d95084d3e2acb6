-- DIP grouping quality per year (output contract dip_grouping_quality; dip-spec §10, §12), under settlement year
-- Y's catalogue. Grain: (settlement_year, year). Rates over every case of y of Y's DIP regions; grouped_rate
-- (入组率) = 1 − unmatched − invalid; conservative_share: cases without a procedure after §2.2 over grouped cases;
-- groups with cases, and of them those with CV < 0.5 and CV > 1 (n >= 2, dip_group_year_stats).
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}

with cases as (
    select year, group_status, class from {{ ref('int_dip_cases_grouped') }}
),

groups as (
    select year, count(*) as n_groups,
           count(*) filter (where n >= 2 and cv < 0.5) as n_groups_cv_below_0_5,
           count(*) filter (where n >= 2 and cv > 1) as n_groups_cv_above_1
    from {{ ref('dip_group_year_stats') }}
    where settlement_year = {{ var('settlement_year') | int }}
    group by year
)

select
    {{ var('settlement_year') | int }}::integer                                          as settlement_year,
    c.year,
    count(*)::integer                                                                   as n_cases,
    avg(case when c.group_status = 'core' then 1.0 else 0.0 end)                        as core_rate,
    avg(case when c.group_status = 'basic' then 1.0 else 0.0 end)                       as basic_rate,
    avg(case when c.group_status = 'comprehensive' then 1.0 else 0.0 end)               as comprehensive_rate,
    avg(case when c.group_status = 'unmatched' then 1.0 else 0.0 end)                   as unmatched_rate,
    avg(case when c.group_status = 'invalid' then 1.0 else 0.0 end)                     as invalid_rate,
    1 - avg(case when c.group_status in ('unmatched', 'invalid') then 1.0 else 0.0 end) as grouped_rate,
    avg(case when c.class = 'BSZL' then 1.0 else 0.0 end)
        filter (where c.group_status in ('core', 'basic', 'comprehensive'))             as conservative_share,
    coalesce(max(g.n_groups), 0)::integer                                               as n_groups,
    coalesce(max(g.n_groups_cv_below_0_5), 0)::integer                                  as n_groups_cv_below_0_5,
    coalesce(max(g.n_groups_cv_above_1), 0)::integer                                    as n_groups_cv_above_1
from cases as c
left join groups as g on g.year = c.year
group by c.year
