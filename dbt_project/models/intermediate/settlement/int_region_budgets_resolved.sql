-- settlement-spec §5: usable budget per pooling region for settlement year Y,
-- U_r = fund_budget_{r,Y} × (1 − reserve_ratio) (调剂金 kept back), unrounded. A missing budget is refused by
-- drgflow settle before this runs (§8: an error, not a zero).
{{ config(materialized='view') }}

select
    b.region_code,
    p.settlement_year,
    b.fund_budget,
    p.reserve_ratio,
    b.fund_budget * (1 - p.reserve_ratio) as usable_budget
from {{ ref('stg_raw__budgets') }} as b
cross join {{ ref('int_parameters_resolved') }} as p
where b.year = p.settlement_year
