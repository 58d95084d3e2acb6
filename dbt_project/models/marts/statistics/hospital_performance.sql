-- settlement-spec §6 / §8 hospital performance per scheme version and year: cases (any status), distinct
-- grouped DRGs, CMI = Σ n_{h,g}·RW_g / Σ n_{h,g} over grouped cases of DRGs with base points in the
-- calibration of settlement year = year (null without one), CEI and TEI = Σ n_{h,g}·(mean_{h,g}/mean_g) / Σ n_{h,g}
-- over the hospital's grouped cases against the same year's all-hospital means (cost, LOS), and low-risk
-- mortality (deaths / cases in DRGs of risk level low, from drg_year_stats).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='scheme_version',
          on_schema_change='append_new_columns') }}

with agg as (
    select * from {{ ref('int_hospital_drg_aggregated') }}
),

drg_stats as (
    select scheme_version, year, drg, mean_cost, mean_los, mortality_risk
    from {{ ref('drg_year_stats') }}
),

calibrations as (
    select settlement_year as year, scheme_version, drg, rw
    from {{ ref('drg_base_points') }}
    where base_points is not null
),

calibrated_years as (
    select distinct settlement_year as year, scheme_version from {{ ref('drg_base_points') }}
),

grouped as (
    select
        a.scheme_version, a.year, a.hospital_id, a.drg, a.n, a.deaths,
        (a.sum_cost / a.n) / nullif(s.mean_cost, 0)                  as cost_ratio,
        (a.sum_los::numeric / a.n) / nullif(s.mean_los, 0)           as los_ratio,
        c.rw,
        s.mortality_risk
    from agg as a
    join drg_stats as s using (scheme_version, year, drg)
    left join calibrations as c using (scheme_version, year, drg)
    where a.group_status = 'grouped'
),

per_hospital as (
    select
        scheme_version, year, hospital_id,
        count(distinct drg)                                                      as drg_count,
        sum(n * rw) / nullif(sum(n) filter (where rw is not null), 0)             as cmi,
        sum(n * cost_ratio) / nullif(sum(n) filter (where cost_ratio is not null), 0) as cei,
        sum(n * los_ratio) / nullif(sum(n) filter (where los_ratio is not null), 0)   as tei,
        coalesce(sum(deaths) filter (where mortality_risk = 'low'), 0)           as low_risk_deaths,
        coalesce(sum(n) filter (where mortality_risk = 'low'), 0)                as low_risk_cases
    from grouped
    group by scheme_version, year, hospital_id
),

all_cases as (
    select scheme_version, year, hospital_id, sum(n) as n_cases
    from agg
    group by scheme_version, year, hospital_id
)

select
    a.scheme_version,
    a.year,
    a.hospital_id,
    a.n_cases::integer                                   as n_cases,
    coalesce(h.drg_count, 0)::integer                    as drg_count,
    case when cy.year is not null then h.cmi end         as cmi,
    h.cei,
    h.tei,
    coalesce(h.low_risk_deaths, 0)::integer              as low_risk_deaths,
    coalesce(h.low_risk_cases, 0)::integer               as low_risk_cases,
    coalesce(h.low_risk_deaths, 0)::numeric / nullif(h.low_risk_cases, 0) as low_risk_mortality
from all_cases as a
left join per_hospital as h using (scheme_version, year, hospital_id)
left join calibrated_years as cy using (scheme_version, year)
