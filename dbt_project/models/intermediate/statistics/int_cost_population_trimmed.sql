-- settlement-spec §2 (trimming) and §8: the outlier rule per (DRG, year), applied to two populations:
--   base  = §2 statistical population: base years Y−k … Y−1, grouped, not bed-day, los_days <= stats_max_los;
--   stats = §6 population: every year, all grouped cases (any LOS, bed-day included).
-- Methods: percentile (P_low <= C <= P_high, linear interpolation exactly as percentile_cont, evaluated in
-- numeric rather than percentile_cont's double precision so bounds are exact), log_sd
-- (|ln C − mean ln C| <= k·sample sd), iqr (Q1 − k·IQR <= C <= Q3 + k·IQR), none. Bounds are inclusive;
-- groups with fewer than trim_min_n cases are never trimmed, whatever the method.
{{ config(post_hook='analyze {{ this }}') }}  {# fresh tables: give the planner row counts #}
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

ranked as (
    select
        population.population, population.hospital_id, population.case_id, population.year, population.drg,
        population.level, population.total_cost,
        row_number() over (partition by population, drg, year order by total_cost) as rn,
        count(*) over (partition by population, drg, year)                          as n_group,
        -- numeric ln is costly: computed only when the method needs it
        case when p.trim_method = 'log_sd' and total_cost > 0 then ln(total_cost) end as ln_cost
    from population
    cross join p
),

positions as (
    -- 1-based ranks around position h = (n − 1)·f, as percentile_cont does
    select r.population, r.drg, r.year, r.n_group
    {%- for name, f in fractions %},
        floor((r.n_group - 1) * ({{ f }}))::bigint + 1                       as {{ name }}_lo,
        ceil((r.n_group - 1) * ({{ f }}))::bigint + 1                        as {{ name }}_hi,
        (r.n_group - 1) * ({{ f }}) - floor((r.n_group - 1) * ({{ f }}))     as {{ name }}_frac
    {%- endfor %}
    from (select population, drg, year, count(*) as n_group from population group by population, drg, year) as r
    cross join p
),

bounds as (
    select
        r.population, r.drg, r.year, max(r.n_group) as n_group,
    {%- for name, f in fractions %}
        max(r.total_cost) filter (where r.rn = x.{{ name }}_lo)
          + max(x.{{ name }}_frac)
            * (max(r.total_cost) filter (where r.rn = x.{{ name }}_hi)
               - max(r.total_cost) filter (where r.rn = x.{{ name }}_lo))       as {{ name }},
    {%- endfor %}
        avg(r.ln_cost)          as mean_ln,
        stddev_samp(r.ln_cost)  as sd_ln
    from ranked as r
    join positions as x using (population, drg, year)
    group by r.population, r.drg, r.year
)

select
    r.population,
    r.hospital_id,
    r.case_id,
    r.year,
    r.drg,
    r.level,
    r.total_cost,
    r.n_group,
    b.p_low, b.p_high, b.q1, b.q3, b.mean_ln, b.sd_ln,
    case
        when r.n_group < p.trim_min_n or p.trim_method = 'none' then true
        when p.trim_method = 'percentile' then r.total_cost between b.p_low and b.p_high
        when p.trim_method = 'iqr'
            then r.total_cost between b.q1 - p.trim_iqr_k * (b.q3 - b.q1) and b.q3 + p.trim_iqr_k * (b.q3 - b.q1)
        -- a cost <= 0 has no logarithm: it cannot be judged typical, so it is dropped (docs/settlement-choices.md)
        when p.trim_method = 'log_sd' then
            case when r.ln_cost is null then false
                 when b.sd_ln is null then true
                 else abs(r.ln_cost - b.mean_ln) <= p.trim_log_sd_k * b.sd_ln end
    end as kept
from ranked as r
join bounds as b using (population, drg, year)
cross join p
