-- settlement-spec §2 (trimming) and §8: the outlier rule per (DRG, year), applied to two populations:
--   base  = §2 statistical population: base years Y−k … Y−1, grouped, not bed-day, los_days <= stats_max_los;
--   stats = §6 population: every year, all grouped cases (any LOS, bed-day included).
-- Methods: percentile (P_low <= C <= P_high, linear interpolation exactly as percentile_cont, evaluated in
-- numeric rather than percentile_cont's double precision so bounds are exact), log_sd
-- (|ln C − mean ln C| <= k·sample sd), iqr (Q1 − k·IQR <= C <= Q3 + k·IQR), none. Bounds are inclusive;
-- groups with fewer than trim_min_n cases are never trimmed, whatever the method.
-- Merge joins off: the planner misjudges the per-group bounds as large and sorts the millions of case rows to
-- merge-join them (and the bed-day exclusion), where a hash on the few thousand groups is ~2x faster.
{{ config(post_hook='analyze {{ this }}', pre_hook='set local enable_mergejoin = off') }}  {# analyze: fresh table #}
{%- set fractions = [('p_low', 'p.trim_low_pct / 100'), ('p_high', 'p.trim_high_pct / 100'),
                     ('q1', '0.25'), ('q3', '0.75')] %}

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

counts as (
    select population, drg, year, count(*) as n_group from population group by population, drg, year
),

bounds as (
    -- the values at the 1-based ranks around h = (n − 1)·f, as percentile_cont interpolates them, read with
    -- percentile_disc: rank r is percentile_disc((r − 0.5) / n) (its row number ceil(f·n) is exactly r).
    -- One sort per group inside the aggregate; the interpolation itself stays in exact numeric.
    select
        r.population, r.drg, r.year, k.n_group,
        percentile_disc(array[
        {%- for name, f in fractions %}
            (floor((k.n_group - 1) * ({{ f }}))::double precision + 0.5) / k.n_group,
            (ceil((k.n_group - 1) * ({{ f }}))::double precision + 0.5) / k.n_group{{ ',' if not loop.last }}
        {%- endfor %}
        ]) within group (order by r.total_cost) as v,
        -- numeric ln is costly: computed only when the method needs it
        avg(case when p.trim_method = 'log_sd' and r.total_cost > 0 then ln(r.total_cost) end)          as mean_ln,
        stddev_samp(case when p.trim_method = 'log_sd' and r.total_cost > 0 then ln(r.total_cost) end)  as sd_ln
    from population as r
    join counts as k using (population, drg, year)
    cross join p
    group by r.population, r.drg, r.year, k.n_group, p.trim_low_pct, p.trim_high_pct
),

interpolated as materialized (
    -- one row per group, materialized: inlined, the interpolation would be evaluated again for every case
    select
        b.population, b.drg, b.year, b.n_group, b.mean_ln, b.sd_ln
    {%- for name, f in fractions %},
        b.v[{{ 2 * loop.index - 1 }}] + ((b.n_group - 1) * ({{ f }}) - floor((b.n_group - 1) * ({{ f }})))
            * (b.v[{{ 2 * loop.index }}] - b.v[{{ 2 * loop.index - 1 }}])                 as {{ name }}
    {%- endfor %}
    from bounds as b
    cross join p
)

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
    case
        when b.n_group < p.trim_min_n or p.trim_method = 'none' then true
        when p.trim_method = 'percentile' then r.total_cost between b.p_low and b.p_high
        when p.trim_method = 'iqr'
            then r.total_cost between b.q1 - p.trim_iqr_k * (b.q3 - b.q1) and b.q3 + p.trim_iqr_k * (b.q3 - b.q1)
        -- a cost <= 0 has no logarithm: it cannot be judged typical, so it is dropped (docs/settlement-choices.md)
        when p.trim_method = 'log_sd' then
            case when r.total_cost is null or r.total_cost <= 0 then false
                 when b.sd_ln is null then true
                 else abs(ln(r.total_cost) - b.mean_ln) <= p.trim_log_sd_k * b.sd_ln end
    end as kept
from population as r
join interpolated as b using (population, drg, year)
cross join p
