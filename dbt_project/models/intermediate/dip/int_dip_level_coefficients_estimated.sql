-- dip-spec §6.1: the level coefficient λ (医疗机构调节系数) of each stratum of settlement year Y. Grain: one row per
-- stratum: the registry level ('1', '2', '3'), or 'level:hospital_type' with coef_strata = level_type; every stratum
-- of the hospital registry has a row.
-- coef_method computed: K_{L,y} = the kept cases (int_dip_population_trimmed) of base year y in core or
-- comprehensive groups (not basic) at hospitals of stratum L, K_y the same over all strata;
-- ratio_{L,y} = (Σ_{K_{L,y}} C / Σ_{K_{L,y}} S_g) / (Σ_{K_y} C / Σ_{K_y} S_g), S_g the group's score (rounded);
-- raw = Σ_y w_y ratio_{L,y} / Σ_y w_y over the years with K_{L,y} non-empty; coefficient = round(clamp(raw,
-- coef_min, coef_max), 4), or 1 when Σ_y |K_{L,y}| < coef_min_n. coef_method fixed: fixed_level_coef[L], no clamp.
-- ratios: {year: ratio} of the base years with kept cases.
{{ config(materialized='table') }}

with p as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

weights as (
    {{ base_year_weights('p') }}
),

strata as (
    select distinct
        h.level::text || case when p.coef_strata = 'level_type' then ':' || coalesce(h.hospital_type, '') else '' end
            as stratum,
        h.level
    from {{ ref('stg_raw__hospitals') }} as h
    cross join p
    where h.level is not null
),

kept as (
    select
        t.year,
        t.level::text || case when p.coef_strata = 'level_type' then ':' || coalesce(t.hospital_type, '') else '' end
            as stratum,
        t.total_cost,
        s.score
    from {{ ref('int_dip_population_trimmed') }} as t
    inner join {{ ref('int_dip_group_scores') }} as s on s.code = t.code
    cross join p
    where t.kept and t.group_status in ('core', 'comprehensive') and t.level is not null
),

all_years as (
    select year, sum(total_cost) / sum(score) as cost_per_point from kept group by year
),

stratum_years as (
    select k.stratum, k.year, count(*) as n_kept,
           (sum(k.total_cost) / sum(k.score)) / a.cost_per_point as ratio
    from kept as k
    inner join all_years as a using (year)
    group by k.stratum, k.year, a.cost_per_point
),

raw as (
    select y.stratum, sum(w.weight * y.ratio) / sum(w.weight) as raw, sum(y.n_kept) as n_kept,
           jsonb_object_agg(y.year::text, y.ratio order by y.year) as ratios
    from stratum_years as y
    inner join weights as w using (year)
    group by y.stratum
),

fixed as (
    select split_part(e.entry, ':', 1) as level, split_part(e.entry, ':', 2)::numeric as coefficient
    from p cross join unnest(string_to_array(p.fixed_level_coef, '|')) as e (entry)
)

select
    p.settlement_year,
    s.stratum,
    s.level,
    coalesce(r.ratios, '{}'::jsonb)                                    as ratios,
    r.raw,
    coalesce(r.n_kept, 0)::integer                                     as n_kept,
    case
        when p.coef_method = 'fixed' then coalesce(f.coefficient, 1)
        when coalesce(r.n_kept, 0) < p.coef_min_n or r.raw is null then 1
        else round(least(greatest(r.raw, p.coef_min), p.coef_max), 4)
    end                                                                as coefficient
from strata as s
cross join p
left join raw as r on r.stratum = s.stratum
left join fixed as f on f.level = s.level::text
