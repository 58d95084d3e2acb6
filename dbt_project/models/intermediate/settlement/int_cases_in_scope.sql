-- settlement-spec §1 / §4: the accepted cases a run works on, read from staging once per run (staging is a view
-- that re-derives the latest version on every read): the cases of the base years and of settlement year Y
-- (calibrate, annual settle), or only month M's cases (monthly settle). Narrow columns, principal diagnosis
-- (first code of dx_codes) included for the bed-day test.
{%- set month = var('settlement_month') %}

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
    c.los_days,
    c.dx_codes[1] as principal_dx
from {{ ref('stg_raw__cases') }} as c
cross join {{ ref('int_parameters_resolved') }} as p
{%- if month %}
where c.settle_year = p.settlement_year
  and c.settle_period = to_char(make_date(p.settlement_year, {{ month | int }}, 1), 'YYYY-MM')
{%- else %}
where c.settle_year between p.base_year_first and p.settlement_year
{%- endif %}
