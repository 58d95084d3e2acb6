-- dip-spec §5: the score of every group of settlement year Y's catalogue. Grain: one row per code.
-- Imported catalogue: S_g, m_g, n, CV, LOS and M as published. Local catalogue, from the base period
-- (int_dip_population_trimmed): m_{g,y} = mean C of the kept cases; m_g = Σ_y w_y m_{g,y} / Σ_y w_y over the years
-- where g has kept cases (weights renormalised, settlement-spec §2); M by score_method: average (Σ_y w_y M_y / Σ w_y,
-- M_y = mean C of all kept cases of y), reference (m_g of reference_group) or fixed (fixed_mean_cost);
-- S_g = round(m_g / M × 1000, 4); n_g, CV_g (sample sd / mean; null when n < 2) and mean LOS over the untrimmed
-- population of all base years.
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

with p as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

catalogue as (
    select * from {{ ref('int_dip_catalogue_resolved') }}
),

weights as (
    {{ base_year_weights('p') }}
),

population as (
    select * from {{ ref('int_dip_population_trimmed') }}
),

group_years as (
    select code, year, avg(total_cost) as mean_cost from population where kept group by code, year
),

group_means as (
    select y.code, sum(w.weight * y.mean_cost) / sum(w.weight) as mean_cost
    from group_years as y
    inner join weights as w using (year)
    group by y.code
),

all_years as (
    select year, avg(total_cost) as mean_cost from population where kept group by year
),

reference as (
    select
        case p.score_method
            when 'average' then (select sum(w.weight * a.mean_cost) / sum(w.weight)
                                 from all_years as a inner join weights as w using (year))
            when 'reference' then (select m.mean_cost from group_means as m where m.code = p.reference_group)
            when 'fixed' then p.fixed_mean_cost
        end as reference_mean
    from p
),

untrimmed as (
    select code, count(*) as n, case when count(*) >= 2 then stddev_samp(total_cost) / avg(total_cost) end as cv,
           avg(los_days) as mean_los
    from population
    group by code
)

select
    c.code,
    c.source,
    case when c.source = 'import' then c.score
         else round(m.mean_cost / nullif(r.reference_mean, 0) * 1000, 4) end     as score,
    case when c.source = 'import' then c.mean_cost else m.mean_cost end          as mean_cost,
    case when c.source = 'import' then c.n else coalesce(u.n, 0)::integer end    as n,
    case when c.source = 'import' then c.cv else u.cv end                        as cv,
    case when c.source = 'import' then c.mean_los else u.mean_los end            as mean_los,
    case when c.source = 'import' then c.reference_mean else r.reference_mean end as reference_mean
from catalogue as c
cross join reference as r
left join group_means as m on m.code = c.code
left join untrimmed as u on u.code = c.code
