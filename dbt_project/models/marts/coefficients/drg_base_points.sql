-- settlement-spec §2 base points (基准点数): BP_g = round(A_g / A_all × 100, 4), RW_g = BP_g / 100,
-- stability (n_g >= stable_min_n and CV_g <= stable_max_cv, CV over the untrimmed §2 population, undefined
-- when n_g < 2), and the high-ratio multiple k_g read from the rounded BP_g (§4.6 tiers, §8).
-- One calibration per settlement year: rows of other years are kept (incremental by settlement_year, never
-- fully refreshed), so last year's base points can always be shown again.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='settlement_year',
          full_refresh=false, on_schema_change='append_new_columns') }}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

population as (
    select drg, count(*) as n_base,
           stddev_samp(total_cost) / nullif(avg(total_cost), 0) as cv_base
    from {{ ref('int_cost_population_trimmed') }}
    where population = 'base'
    group by drg
),

a_g as (
    select drg, weighted_mean, n_kept from {{ ref('int_base_costs_averaged') }} where scope = 'drg'
),

a_all as (
    select weighted_mean from {{ ref('int_base_costs_averaged') }} where scope = 'all'
),

tiers as (
    select t.bp_upper, t.multiple
    from {{ policy_in_force('policy_high_ratio_tiers', '(select p.settlement_year from p)') }} as t
),

points as (
    select
        pop.drg,
        pop.n_base,
        pop.cv_base,
        a_g.n_kept,
        a_g.weighted_mean                                                           as mean_cost,
        (select a_all.weighted_mean from a_all)                                     as all_mean_cost,
        round(a_g.weighted_mean / (select a_all.weighted_mean from a_all) * 100, 4) as bp
    from population as pop
    left join a_g using (drg)
)

select
    p.settlement_year,
    x.drg,
    p.scheme_version,
    x.bp::numeric(18, 4)                                  as base_points,
    (x.bp / 100)::numeric(18, 6)                          as rw,
    x.mean_cost,
    x.all_mean_cost,
    x.n_base::integer                                     as n_base,
    coalesce(x.n_kept, 0)::integer                        as n_kept,
    x.cv_base,
    coalesce(x.n_base >= p.stable_min_n and x.cv_base <= p.stable_max_cv, false) as stable,
    (select t.multiple from tiers as t
     where t.bp_upper is null or x.bp <= t.bp_upper
     order by t.bp_upper nulls last limit 1)              as high_ratio_multiple,
    p.parameter_hash
from points as x
cross join p
