-- settlement-spec §2 (trimming) and §8: the outlier rule per (DRG, year), applied to two populations:
--   base  = §2 statistical population: base years Y−k … Y−1, grouped, not bed-day, los_days <= stats_max_los;
--   stats = §6 population: every year, all grouped cases (any LOS, bed-day included).
-- The bounds and the rule are macros/trimming.sql (trim_bounds, trim_kept), which DIP's statistics share.
-- Merge joins off: the planner misjudges the per-group bounds as large and sorts the millions of case rows to
-- merge-join them (and the bed-day exclusion), where a hash on the few thousand groups is ~2x faster.
{{ config(post_hook='analyze {{ this }}', pre_hook='set local enable_mergejoin = off') }}  {# analyze: fresh table #}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

cases as (
    select * from {{ ref('int_cases_grouped') }} where group_status = 'grouped'
),

population as (
    select 'base' as population, c.hospital_id, c.case_id, c.year, c.drg, c.level, c.total_cost
    from cases as c
    cross join p
    where c.year between p.base_year_first and p.base_year_last
      and c.los_days <= p.stats_max_los
      and not exists (
          select 1 from {{ ref('int_case_bed_day_matched') }} as b
          where b.hospital_id = c.hospital_id and b.case_id = c.case_id
      )
    union all
    select 'stats' as population, c.hospital_id, c.case_id, c.year, c.drg, c.level, c.total_cost
    from cases as c
),

{{ trim_bounds('population', ['population', 'drg', 'year'], 'p') }}

select
    r.population,
    r.hospital_id,
    r.case_id,
    r.year,
    r.drg,
    r.level,
    r.total_cost,
    b.n_group,
    b.p_low, b.p_high, b.q1, b.q3, b.mean_ln, b.sd_ln,
    {{ trim_kept('r', 'b', 'p') }} as kept
from population as r
join trim_interpolated as b using (population, drg, year)
cross join p
