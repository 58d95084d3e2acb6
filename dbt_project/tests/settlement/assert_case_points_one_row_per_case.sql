-- settlement-spec §4 invariant: every accepted case of the settled period (the month, or the year without
-- settlement_month) has exactly one case_points row, and case_points has no case outside it. The accepted
-- cases are read from int_cases_in_scope, the run's one copy of staging.stg_raw__cases (the view is costly).
{{ config(severity='error', tags=['severity_error', 'invariant']) }}
{%- set y = var('settlement_year') %}
{%- set m = var('settlement_month') %}

with cases as (
    select hospital_id, case_id
    from {{ ref('int_cases_in_scope') }}
    where settle_year = {{ y or 'null' }}
    {%- if m %} and settle_period = '{{ "%04d-%02d" | format(y | int, m | int) }}'{% endif %}
),

points as (
    select hospital_id, case_id, count(*) as n
    from {{ ref('case_points') }}
    where settlement_year = {{ y or 'null' }}
    {%- if m %} and period = '{{ "%04d-%02d" | format(y | int, m | int) }}'{% endif %}
    group by hospital_id, case_id
)

select coalesce(c.hospital_id, p.hospital_id) as hospital_id,
       coalesce(c.case_id, p.case_id)         as case_id,
       coalesce(p.n, 0)                       as case_points_rows,
       c.case_id is not null                  as accepted_case
from cases as c
full join points as p on p.hospital_id = c.hospital_id and p.case_id = c.case_id
where p.n is distinct from 1 or c.case_id is null
