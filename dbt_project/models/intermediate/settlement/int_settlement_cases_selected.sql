-- settlement-spec §1 / §4: the cases a settlement run settles: accepted cases (latest version) whose settle_date
-- falls in settlement year Y, and in month M when the run has settlement_month.
{{ config(materialized='view') }}

select
{%- for col in case_key_columns() + case_settlement_columns() %}
    c.{{ col }}{{ ',' if not loop.last }}
{%- endfor %}
from {{ ref('int_cases_in_scope') }} as c
cross join {{ ref('int_parameters_resolved') }} as p
where c.settle_year = p.settlement_year
