-- settlement-spec §6 / §8 per-DRG statistics for analysts, per scheme version and year: all grouped cases of
-- the year (any LOS, bed-day included) grouped with the settlement year's scheme. Untrimmed n, mean, median
-- (percentile_cont(0.5)), sample sd, CV; after the §2 trimming rule per (DRG, year): n, mean, CV; LOS; deaths
-- (discharge_way 5) and mortality; cost structure as ratios of sums; mortality risk level (§6 grading, same
-- year, all hospitals and regions; σ = 0 when one DRG has deaths). sd and cv are null when n = 1.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='scheme_version',
          on_schema_change='append_new_columns') }}
{%- set fees = fee_columns() %}

with cases as (
    select c.*, t.kept
    from {{ ref('int_cases_grouped') }} as c
    join {{ ref('int_cost_population_trimmed') }} as t
      on t.population = 'stats' and t.hospital_id = c.hospital_id and t.case_id = c.case_id
    where c.group_status = 'grouped'
),

per_drg as (
    select
        scheme_version, year, drg,
        count(*)                                                        as n,
        avg(total_cost)                                                 as mean_cost,
        (percentile_cont(0.5) within group (order by total_cost))::numeric as median_cost,
        stddev_samp(total_cost)                                         as sd_cost,
        stddev_samp(total_cost) / nullif(avg(total_cost), 0)            as cv,
        count(*) filter (where kept)                                    as n_trimmed,
        avg(total_cost) filter (where kept)                             as mean_cost_trimmed,
        stddev_samp(total_cost) filter (where kept)
            / nullif(avg(total_cost) filter (where kept), 0)            as cv_trimmed,
        avg(los_days)                                                   as mean_los,
        (percentile_cont(0.5) within group (order by los_days))::numeric as median_los,
        count(*) filter (where discharge_way = 5)                       as deaths,
        sum(total_cost)                                                 as sum_cost,
        sum(fund_paid)                                                  as sum_fund_paid,
    {%- for fee in fees %}
        sum({{ fee }})                                                  as sum_{{ fee }}{{ ',' if not loop.last }}
    {%- endfor %}
    from cases
    group by scheme_version, year, drg
),

risk as (
    -- x_g = ln(mortality_g) over DRGs with deaths, per year
    select year, avg(x) as mu, coalesce(stddev_samp(x), 0) as sigma
    from (select year, ln(deaths::numeric / n) as x from per_drg where deaths > 0) as d
    group by year
)

select
    d.scheme_version,
    d.year,
    d.drg,
    d.n::integer                                        as n,
    d.mean_cost,
    d.median_cost,
    d.sd_cost,
    d.cv,
    d.n_trimmed::integer                                as n_trimmed,
    d.mean_cost_trimmed,
    d.cv_trimmed,
    d.mean_los,
    d.median_los,
    d.deaths::integer                                   as deaths,
    d.deaths::numeric / d.n                             as mortality,
    (d.sum_fee_western_drug + d.sum_fee_chinese_patent + d.sum_fee_herbal) / nullif(d.sum_cost, 0) as drug_share,
    d.sum_fee_material / nullif(d.sum_cost, 0)          as material_share,
    d.sum_fund_paid / nullif(d.sum_cost, 0)             as fund_share,
{%- for fee in fees %}
    d.sum_{{ fee }} / nullif(d.sum_cost, 0)             as share_{{ fee }},
{%- endfor %}
    case
        when d.deaths = 0 then 'low'
        when ln(d.deaths::numeric / d.n) < r.mu - r.sigma then 'low'
        when ln(d.deaths::numeric / d.n) < r.mu then 'medium_low'
        when ln(d.deaths::numeric / d.n) < r.mu + r.sigma then 'medium_high'
        else 'high'
    end                                                 as mortality_risk
from per_drg as d
left join risk as r using (year)
