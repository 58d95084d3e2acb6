-- settlement-spec §3 difference coefficient (差异系数) c_{h,g}: hospital ratio η = A_{h,g}/A_g (usable with
-- >= coef_min_n kept cases of h in g), level ratio λ = A_{L,g}/A_g (1 when the level average is not usable);
-- c = α·η + (1 − α)·λ if η is usable else λ, clamped to [coef_min, coef_max], rounded to 4 decimals, from the
-- unrounded ratios (§8). One row per registry hospital × DRG with base points, per settlement year (kept).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='settlement_year',
          full_refresh=false, on_schema_change='append_new_columns') }}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

drgs as (
    select drg, mean_cost
    from {{ ref('drg_base_points') }}
    where settlement_year = (select p.settlement_year from p) and base_points is not null
),

averages as (
    select * from {{ ref('int_base_costs_averaged') }}
),

ratios as (
    select
        h.hospital_id,
        h.level,
        d.drg,
        d.mean_cost,
        hm.weighted_mean                                   as hospital_mean,
        coalesce(hm.n_kept, 0)                             as hospital_n_kept,
        lm.weighted_mean                                   as level_mean,
        coalesce(lm.n_kept, 0)                             as level_n_kept,
        case when hm.n_kept >= p.coef_min_n then hm.weighted_mean / d.mean_cost end      as hospital_ratio,
        case when lm.n_kept >= p.coef_min_n then lm.weighted_mean / d.mean_cost else 1 end as level_ratio
    from {{ ref('stg_raw__hospitals') }} as h
    cross join drgs as d
    cross join p
    left join averages as hm
      on hm.scope = 'hospital' and hm.hospital_id = h.hospital_id and hm.drg = d.drg
    left join averages as lm
      on lm.scope = 'level' and lm.level = h.level and lm.drg = d.drg
)

select
    p.settlement_year,
    r.hospital_id,
    r.drg,
    r.level,
    round(least(greatest(
        case when r.hospital_ratio is not null
             then p.coef_alpha * r.hospital_ratio + (1 - p.coef_alpha) * r.level_ratio
             else r.level_ratio end,
        p.coef_min), p.coef_max), 4)::numeric(18, 4)      as coefficient,
    r.hospital_ratio,
    r.level_ratio,
    r.hospital_mean,
    r.hospital_n_kept::integer                           as hospital_n_kept,
    r.level_mean,
    r.level_n_kept::integer                              as level_n_kept,
    r.mean_cost,
    p.scheme_version,
    p.parameter_hash
from ratios as r
cross join p
