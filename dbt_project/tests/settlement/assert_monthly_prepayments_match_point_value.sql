-- settlement-spec §5 invariant, per region and month: the monthly point value hands out exactly U_r/12,
-- Σ_h (points × PV_m − personal) = U_r/12, and the prepayments sum to ρ × U_r/12 within
-- (number of hospitals) × 0.005 yuan of rounding. Checks every recorded month of the settlement year.
{{ config(severity='error', tags=['severity_error', 'invariant']) }}

with m as (
    select * from {{ ref('settlement_monthly') }}
    where settlement_year = {{ var('settlement_year') or 'null' }}
),

regions as (
    select region_code, period,
           max(usable_budget)                                   as usable_budget,
           max(prepay_ratio)                                    as prepay_ratio,
           count(distinct point_value)                          as point_values,
           sum(total_points * point_value - personal_paid)      as fund_share,
           sum(prepayment)                                      as prepaid,
           count(*)                                             as n_hospitals
    from m
    group by region_code, period
)

select *
from regions
where point_values <> 1
   or abs(fund_share - usable_budget / 12) > 0.000001
   or abs(prepaid - prepay_ratio * usable_budget / 12) > n_hospitals * 0.005
