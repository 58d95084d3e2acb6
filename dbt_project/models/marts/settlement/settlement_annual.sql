-- settlement-spec §5 / §8 annual settlement (年度清算) per pooling region r and hospital h for settlement year Y:
-- PV_{r,Y} = (U_r + Σ P_i) / Σ points over region r's cases of Y; K_h from the year-Y assessment score by band
-- (no score → assessment_no_score_coef); payable = round(points × PV × K − personal, 2);
-- prepaid = Σ of the recorded monthly prepayments (settlement_monthly, closed months never recomputed);
-- clearing = payable − prepaid (> 0 the fund pays, < 0 it recovers). Cases corrected after their month was
-- closed enter here with their current points: adjusted_case_count / adjustment_points show the difference to
-- what the closed months recorded. Built by the annual run only (selector settlement_annual, without
-- settlement_month); a run with settlement_month that selected it would fail here rather than replace the year.
{%- if execute and var('settlement_month') %}
    {{ exceptions.raise_compiler_error("settlement_annual is built by the annual settlement (selector "
        ~ "settlement_annual, without settlement_month), not by a run of month " ~ var('settlement_month')) }}
{%- endif %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='settlement_year',
          full_refresh=false, on_schema_change='append_new_columns') }}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

closed_year as (
    select 1 from {{ ref('stg_settlement_audit__periods') }}
    where period = (select p.settlement_year::text from p) and status = 'closed'
),

cases as (
    select cp.*
    from {{ ref('case_points') }} as cp
    cross join p
    where cp.settlement_year = p.settlement_year
      and not exists (select 1 from closed_year)
),

regions as (
    {{ region_totals('cases') }}
),

point_values as (
    select r.*, {{ point_value('r', 1) }} as point_value
    from regions as r
),

hospitals as (
    select region_code, hospital_id,
           count(*)           as case_count,
           sum(points)        as total_points,
           sum(total_cost)    as total_cost,
           sum(personal_paid) as personal_paid,
           sum(fund_paid)     as fund_paid
    from cases
    group by region_code, hospital_id
),

prepaid as (
    select m.region_code, m.hospital_id, sum(m.prepayment) as prepaid, count(*) as months_prepaid
    from {{ ref('settlement_monthly') }} as m
    cross join p
    where m.settlement_year = p.settlement_year
      and not exists (select 1 from closed_year)
    group by m.region_code, m.hospital_id
),

bands as (
    select b.score_min, b.coef
    from {{ policy_in_force('policy_assessment_bands', '(select p.settlement_year from p)') }} as b
),

scores as (
    select s.hospital_id, s.score,
           coalesce(
               (select b.coef from bands as b where b.score_min is not null and s.score >= b.score_min
                order by b.score_min desc limit 1),
               (select b.coef from bands as b where b.score_min is null limit 1)
           ) as coef
    from {{ ref('stg_raw__assessment_scores') }} as s
    where s.year = (select p.settlement_year from p) and s.score is not null
),

-- what the closed months recorded per case (audit.closed_period_cases) against the current case points
closed_cases as (
    select cc.*
    from {{ ref('stg_settlement_audit__closed_period_cases') }} as cc
    join {{ ref('stg_settlement_audit__periods') }} as pe on pe.period = cc.period and pe.status = 'closed'
    where cc.period like (select p.settlement_year::text from p) || '-%'
),

adjustments as (
    select coalesce(now_.region_code, rec.region_code) as region_code,
           coalesce(now_.hospital_id, rec.hospital_id) as hospital_id,
           count(*) filter (where rec.case_id is null or now_.case_id is null
                            or rec.batch_id <> now_.batch_id or rec.source_row <> now_.source_row
                            or rec.points <> now_.points)                       as adjusted_case_count,
           coalesce(sum(now_.points), 0) - coalesce(sum(rec.points), 0)          as adjustment_points
    from (select c.* from cases as c
          where exists (select 1 from {{ ref('stg_settlement_audit__periods') }} as pe
                        where pe.period = c.period and pe.status = 'closed')) as now_
    full join closed_cases as rec
      on rec.hospital_id = now_.hospital_id and rec.case_id = now_.case_id
    group by coalesce(now_.region_code, rec.region_code), coalesce(now_.hospital_id, rec.hospital_id)
),

rows_ as (
    select
        coalesce(h.region_code, pp.region_code) as region_code,
        coalesce(h.hospital_id, pp.hospital_id) as hospital_id,
        coalesce(h.case_count, 0)              as case_count,
        coalesce(h.total_points, 0)            as total_points,
        coalesce(h.total_cost, 0)              as total_cost,
        coalesce(h.personal_paid, 0)           as personal_paid,
        coalesce(h.fund_paid, 0)               as fund_paid,
        coalesce(pp.prepaid, 0)                as prepaid,
        coalesce(pp.months_prepaid, 0)         as months_prepaid
    from hospitals as h
    full join prepaid as pp on pp.region_code = h.region_code and pp.hospital_id = h.hospital_id
)

select
    r.region_code,
    r.hospital_id,
    p.settlement_year,
    r.case_count::integer                                       as case_count,
    r.total_points::numeric(18, 4)                              as total_points,
    r.total_cost::numeric(18, 2)                                as total_cost,
    r.personal_paid::numeric(18, 2)                             as personal_paid,
    r.fund_paid::numeric(18, 2)                                 as fund_paid,
    v.point_value,
    s.score                                                     as assessment_score,
    coalesce(s.coef, p.assessment_no_score_coef)                as assessment_coef,
    round(r.total_points * v.point_value * coalesce(s.coef, p.assessment_no_score_coef)
          - r.personal_paid, 2)::numeric(18, 2)                 as payable,
    r.prepaid::numeric(18, 2)                                   as prepaid,
    (round(r.total_points * v.point_value * coalesce(s.coef, p.assessment_no_score_coef)
           - r.personal_paid, 2) - r.prepaid)::numeric(18, 2)   as clearing,
    r.months_prepaid::integer                                   as months_prepaid,
    coalesce(a.adjusted_case_count, 0)::integer                 as adjusted_case_count,
    coalesce(a.adjustment_points, 0)::numeric(18, 4)            as adjustment_points,
    v.fund_budget,
    v.usable_budget,
    v.region_points,
    v.region_personal,
    p.scheme_version,
    p.parameter_hash
from rows_ as r
cross join p
left join point_values as v using (region_code)
left join scores as s on s.hospital_id = r.hospital_id
left join adjustments as a on a.region_code = r.region_code and a.hospital_id = r.hospital_id
