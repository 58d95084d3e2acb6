-- settlement-spec §5 / §8 monthly pre-settlement (月度预结算) per pooling region r and hospital h for the run's
-- month m: PV_{r,m} = (U_r/12 + Σ P_i) / Σ points over region r's cases of m, U_r = fund_budget × (1 − reserve);
-- prepay = round((points × PV − personal) × ρ, 2), not floored. Rows of other months are kept; a closed month
-- is never recomputed (drgflow settle refuses it, this model selects nothing for it, and a trigger on the
-- table refuses any change to its rows). Runs without settlement_month change nothing here.
{%- set month = var('settlement_month') %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='period',
          full_refresh=false, on_schema_change='append_new_columns') }}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

target as (
    select
    {%- if month %}
        to_char(make_date(p.settlement_year, {{ month | int }}, 1), 'YYYY-MM') as period
    {%- else %}
        null::text as period
    {%- endif %}
    from p
),

cases as (
    select cp.*
    from {{ ref('case_points') }} as cp
    cross join p
    where cp.settlement_year = p.settlement_year
      and cp.period = (select target.period from target)
      and not exists (
          select 1 from {{ ref('stg_settlement_audit__periods') }} as cl
          where cl.period = cp.period and cl.status = 'closed'
      )
),

regions as (
    {{ region_totals('cases') }}
),

point_values as (
    -- (U/12 + ΣP) / Σpoints written as one division
    select r.*, {{ point_value('r', 12) }} as point_value
    from regions as r
),

hospitals as (
    select region_code, hospital_id, period,
           count(*)           as case_count,
           sum(points)        as total_points,
           sum(total_cost)    as total_cost,
           sum(personal_paid) as personal_paid,
           sum(fund_paid)     as fund_paid
    from cases
    group by region_code, hospital_id, period
)

select
    h.region_code,
    h.hospital_id,
    h.period,
    p.settlement_year,
    h.case_count::integer                                  as case_count,
    h.total_points::numeric(18, 4)                         as total_points,
    h.total_cost::numeric(18, 2)                           as total_cost,
    h.personal_paid::numeric(18, 2)                        as personal_paid,
    h.fund_paid::numeric(18, 2)                            as fund_paid,
    v.point_value,
    round((h.total_points * v.point_value - h.personal_paid) * p.prepay_ratio, 2)::numeric(18, 2) as prepayment,
    v.fund_budget,
    v.usable_budget,
    v.region_points,
    v.region_personal,
    p.prepay_ratio,
    p.scheme_version,
    p.parameter_hash
from hospitals as h
join point_values as v using (region_code)
cross join p
