-- settlement-spec §2 / §3 / §8: the base-period weighted average of kept cost, one formula for every grain:
--   scope drg      A_g     = Σ_y w_y·A_{g,y} / Σ_y w_y     over the years where g has kept cases
--   scope hospital A_{h,g}                                 over the years where h has kept cases of g
--   scope level    A_{L,g}                                 over the years where level L has kept cases of g
--   scope all      A_all   = Σ_y w_y·A_all,y / Σ_y w_y     over the years with any kept case
-- A_{·,y} is the plain mean of the kept cases; n_kept is unweighted over all base years (usability, §8).
{{ config(post_hook='analyze {{ this }}') }}  {# fresh tables: give the planner row counts #}
with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

weights as (
    {{ base_year_weights('p') }}
),

kept as (
    select t.hospital_id, t.level, t.drg, t.year, t.total_cost
    from {{ ref('int_cost_population_trimmed') }} as t
    where t.population = 'base' and t.kept
),

yearly as (
    select
        -- grouping() bits: hospital_id 4, level 2, drg 1 (set = aggregated away)
        case grouping(hospital_id, level, drg)
            when 6 then 'drg' when 2 then 'hospital' when 4 then 'level' else 'all' end as scope,
        hospital_id, level, drg, year,
        count(*)        as n_kept,
        avg(total_cost) as mean_cost
    from kept
    group by grouping sets ((drg, year), (hospital_id, drg, year), (level, drg, year), (year))
)

select
    y.scope,
    y.hospital_id,
    y.level,
    y.drg,
    sum(w.weight * y.mean_cost) / sum(w.weight) as weighted_mean,
    sum(y.n_kept)                               as n_kept,
    count(*)                                    as n_years
from yearly as y
join weights as w using (year)
-- a hospital missing from the registry has no level: it joins no level average
where not (y.scope = 'level' and y.level is null)
group by y.scope, y.hospital_id, y.level, y.drg
