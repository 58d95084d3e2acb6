-- settlement-spec §1 / §4: the cases a settlement run settles: accepted cases (latest version) whose settle_date
-- falls in settlement year Y, and in month M when the run has settlement_month.
{{ config(materialized='view') }}

select
    c.hospital_id,
    c.case_id,
    c.batch_id,
    c.source_row,
    c.region_code,
    c.settle_year,
    c.settle_period,
    c.total_cost,
    c.fund_paid,
    c.personal_paid,
    c.los_days
from {{ ref('int_cases_in_scope') }} as c
cross join {{ ref('int_parameters_resolved') }} as p
where c.settle_year = p.settlement_year
