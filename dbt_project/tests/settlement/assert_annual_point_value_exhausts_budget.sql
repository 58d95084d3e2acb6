-- settlement-spec §5 / §8 invariant: with every K_h = 1, Σ_h points_{r,h,Y} × PV_{r,Y} = U_r + Σ P_i per region,
-- exactly before rounding (up to numeric division precision), and within (number of hospitals) × 0.005 yuan
-- after rounding each hospital's payable to cents. Returns the regions that break it.
{{ config(severity='error', tags=['severity_error', 'invariant']) }}

with a as (
    select * from {{ ref('settlement_annual') }}
    where settlement_year = {{ var('settlement_year') or 'null' }}
),

regions as (
    select
        region_code,
        max(usable_budget)                                           as usable_budget,
        sum(personal_paid)                                           as personal,
        sum(total_points * point_value)                              as money_exact,
        sum(round(total_points * point_value - personal_paid, 2))    as payable_k1,
        count(*)                                                     as n_hospitals
    from a
    where case_count > 0
    group by region_code
)

select *
from regions
where abs(money_exact - (usable_budget + personal)) > 0.000001
   or abs(payable_k1 - usable_budget) > n_hospitals * 0.005
