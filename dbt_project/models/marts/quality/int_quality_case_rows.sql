{{ config(materialized='view') }}
-- One row per received case row of a validated batch: hospital, settlement month, required fields
-- filled, and whether validation rejected or warned it (audit.quarantine).
{%- set required = ['case_id', 'hospital_id', 'region_code', 'insurance_type', 'patient_id', 'sex',
    'age_years', 'admit_date', 'discharge_date', 'los_days', 'discharge_way', 'dx_codes', 'total_cost',
    'fund_paid'] + fee_columns() + ['settle_date'] %}
with flags as (
    select batch_id, source_row,
           bool_or(severity = 'reject') as rejected,
           bool_or(severity = 'warn') as warned,
           bool_and(resolved_at is not null) filter (where severity = 'reject') as reject_resolved
    from {{ ref('stg_audit__quarantine') }}
    group by batch_id, source_row
)

select c.batch_id, c.source_row,
       coalesce(nullif(btrim(c.hospital_id), ''), '(missing)')                     as hospital_id,
       -- the case's settlement month; a row without a usable settle_date counts in its load month
       coalesce(to_char(audit.parse_date(c.settle_date), 'YYYY-MM'), to_char(b.loaded_at, 'YYYY-MM')) as period,
       {{ required | length }}                                                     as required_fields,
       ({% for col in required %}(nullif(btrim(c.{{ col }}), '') is not null)::integer{% if not loop.last %}
        + {% endif %}{% endfor %})                                                 as required_filled,
       coalesce(f.rejected, false)                                                 as rejected,
       coalesce(f.warned, false)                                                   as warned,
       coalesce(f.reject_resolved, false)                                          as reject_resolved
from {{ ref('stg_raw__case_rows') }} as c
join {{ ref('stg_audit__batches') }} as b
  on b.batch_id = c.batch_id and b.file_kind = 'cases' and b.status = 'validated'
left join flags as f on f.batch_id = c.batch_id and f.source_row = c.source_row
