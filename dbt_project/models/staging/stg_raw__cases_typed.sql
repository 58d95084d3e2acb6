-- Every raw case row in typed columns. Validation parses each row once and keeps the typed row in
-- audit.cases_typed (plugins/drgflow/validation/rows.py), so this view only reads it. A batch validation has not
-- typed (loaded with --no-validate, or validated before audit.cases_typed existed) is parsed here, with the
-- same parsers (audit.parse_*, macros/safe_casts.sql): on every read, so validating it is the fast path.
-- rejected: a reject rule failed (validation's flag; for a parsed batch, a reject row in audit.quarantine).
-- Which rows count (accepted, latest version) is decided by stg_raw__cases.
-- A batch loaded for validation whose validation never completed (killed) is in neither branch: it counts
-- only once a rerun validates it.
-- The parse branch is compiled in only when such a batch exists (dbt runs this view before every read of the
-- marts' inputs): a union hides audit.cases_typed's statistics from the planner, which then misjudges the
-- latest-version join of stg_raw__cases (a merge join, ~10x slower).
{%- set untyped = 1 %}
{%- if execute %}
{%- set untyped = run_query("select count(*) from " ~ source('audit', 'batches') ~ " as b where b.file_kind = 'cases'"
      ~ " and not coalesce(b.validation_requested, false)"
      ~ " and not exists (select 1 from " ~ source('audit', 'cases_typed_batches') ~ " as t"
      ~ " where t.batch_id = b.batch_id)").columns[0].values()[0] %}
{%- endif %}
select * from {{ source('audit', 'cases_typed') }}
{%- if untyped > 0 %}

union all

select
    nullif(btrim(c.hospital_id), '')            as hospital_id,
    nullif(btrim(c.case_id), '')                as case_id,
    c.batch_id,
    c.source_row,
    nullif(btrim(c.region_code), '')            as region_code,
    nullif(btrim(c.insurance_type), '')         as insurance_type,
    nullif(btrim(c.patient_id), '')             as patient_id,
    {{ to_int('sex') }}                         as sex,
    {{ to_int('age_years') }}                   as age_years,
    {{ to_int('age_days') }}                    as age_days,
    {{ to_int('birth_weight_g') }}              as birth_weight_g,
    {{ to_date('admit_date') }}                 as admit_date,
    {{ to_date('discharge_date') }}             as discharge_date,
    {{ to_int('los_days') }}                    as los_days,
    {{ to_int('discharge_way') }}               as discharge_way,
    nullif(btrim(c.dept_code), '')              as dept_code,
    {{ code_list('dx_codes') }}                 as dx_codes,
    {{ code_list('px_codes') }}                 as px_codes,
    {{ to_int('ventilator_hours') }}            as ventilator_hours,
    {{ to_money('total_cost') }}                as total_cost,
    {{ to_money('fund_paid') }}                 as fund_paid,
    {{ to_money('total_cost') }} - {{ to_money('fund_paid') }} as personal_paid,
{%- for fee in fee_columns() %}
    {{ to_money(fee) }}                         as {{ fee }},
{%- endfor %}
    {{ to_date('settle_date') }}                as settle_date,
    extract(year from {{ to_date('settle_date') }})::integer  as settle_year,
    to_char({{ to_date('settle_date') }}, 'YYYY-MM')          as settle_period,
    -- sqlfluff 3.3 parses `exists (...)` in a select list as a call of a function named exists (hence noqa)
    exists (select 1 from {{ source('audit', 'quarantine') }} as q  -- noqa: LT01, LT06
            where q.batch_id = c.batch_id and q.source_row = c.source_row and q.severity = 'reject') as rejected
from {{ source('raw', 'cases') }} as c
join {{ source('audit', 'batches') }} as b
  on b.batch_id = c.batch_id and b.file_kind = 'cases'
where not exists (select 1 from {{ source('audit', 'cases_typed_batches') }} as t where t.batch_id = b.batch_id)
  -- a batch whose validation was asked for counts only once it completed (then it is in audit.cases_typed)
  and not coalesce(b.validation_requested, false)
{%- endif %}
