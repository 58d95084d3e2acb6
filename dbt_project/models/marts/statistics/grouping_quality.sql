-- settlement-spec §6 / §8 grouping quality per scheme version and year: case count (every case of the year),
-- grouped / QY / ungroupable rates (入组率), RIV of total cost over grouped cases untrimmed and trimmed
-- (RIV = 1 − SSW/SST; the trimmed RIV recomputes grand and group means on the kept cases), and the share of
-- DRGs with CV < 1 among DRGs with n >= 2.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='scheme_version',
          on_schema_change='append_new_columns') }}

with cases as (
    select * from {{ ref('int_cases_grouped') }}
),

counts as (
    select scheme_version, year,
           count(*)                                           as n_cases,
           count(*) filter (where group_status = 'grouped')   as n_grouped,
           count(*) filter (where group_status = 'qy')        as n_qy,
           count(*) filter (where group_status = 'ungroupable') as n_ungroupable
    from cases
    group by scheme_version, year
),

grouped as (
    select c.scheme_version, c.year, c.drg, c.total_cost, t.kept
    from cases as c
    join {{ ref('int_cost_population_trimmed') }} as t
      on t.population = 'stats' and t.hospital_id = c.hospital_id and t.case_id = c.case_id
    where c.group_status = 'grouped'
),

per_drg as (
    -- sums per DRG and year, over all grouped cases and over the kept ones
    select scheme_version, year, drg,
           count(*)                                           as n,
           sum(total_cost)                                    as s,
           sum(total_cost * total_cost)                       as ss,
           count(*) filter (where kept)                       as n_kept,
           sum(total_cost) filter (where kept)                as s_kept,
           sum(total_cost * total_cost) filter (where kept)   as ss_kept
    from grouped
    group by scheme_version, year, drg
),

riv as (
    -- RIV = 1 − SSW/SST, with the sums of squared deviations from their sums:
    -- SST = Σx² − (Σx)²/n over the year, SSW = Σ_g (Σx² − (Σx)²/n_g) over its DRGs (exact numeric, one pass)
    select scheme_version, year,
           1 - sum(ss - s * s / n)
               / nullif(sum(ss) - sum(s) * sum(s) / sum(n), 0)                          as riv,
           1 - sum(ss_kept - s_kept * s_kept / n_kept) filter (where n_kept > 0)
               / nullif(sum(ss_kept) - sum(s_kept) * sum(s_kept) / nullif(sum(n_kept), 0), 0) as riv_trimmed
    from per_drg
    group by scheme_version, year
),

cv_share as (
    select scheme_version, year,
           count(*) filter (where cv < 1)::numeric / nullif(count(*), 0) as share_drg_cv_below_1
    from {{ ref('drg_year_stats') }}
    where n >= 2 and scheme_version = (select r.scheme_version from {{ ref('int_parameters_resolved') }} as r)
    group by scheme_version, year
)

select
    c.scheme_version,
    c.year,
    c.n_cases::integer                                  as n_cases,
    c.n_grouped::integer                                as n_grouped,
    c.n_grouped::numeric / c.n_cases                    as grouped_rate,
    c.n_qy::numeric / c.n_cases                         as qy_rate,
    c.n_ungroupable::numeric / c.n_cases                as ungroupable_rate,
    r.riv,
    r.riv_trimmed,
    s.share_drg_cv_below_1
from counts as c
left join riv as r using (scheme_version, year)
left join cv_share as s using (scheme_version, year)
