-- Typed cases: the latest accepted version of each (hospital_id, case_id) (settlement-spec §1, §8).
-- Rows that failed a reject rule are left out; a later accepted resubmission supersedes an earlier one.
-- "Latest" is an anti-join ("no later accepted version exists") rather than a sort: it runs as a parallel
-- hash join over all cases, and a filtered read (one month) probes the trimmed-key index of raw.cases
-- (drgflow/loader.py) for the few rows it needs instead of sorting the whole history.
with accepted as not materialized (
    select c.*
    from {{ source('raw', 'cases') }} as c
    where not exists (
        select 1 from {{ source('audit', 'quarantine') }} as q
        where q.batch_id = c.batch_id and q.source_row = c.source_row and q.severity = 'reject'
    )
),

latest as not materialized (
    select a.*
    from accepted as a
    where not exists (
        select 1 from accepted as n
        where btrim(n.hospital_id) = btrim(a.hospital_id) and btrim(n.case_id) = btrim(a.case_id)
          and (n.batch_id, n.source_row) > (a.batch_id, a.source_row)
    )
)

select
    btrim(hospital_id)                          as hospital_id,
    btrim(case_id)                              as case_id,
    batch_id,
    source_row,
    btrim(region_code)                          as region_code,
    btrim(insurance_type)                       as insurance_type,
    btrim(patient_id)                           as patient_id,
    {{ to_int('sex') }}                         as sex,
    {{ to_int('age_years') }}                   as age_years,
    {{ to_int('age_days') }}                    as age_days,
    {{ to_int('birth_weight_g') }}              as birth_weight_g,
    {{ to_date('admit_date') }}                 as admit_date,
    {{ to_date('discharge_date') }}             as discharge_date,
    {{ to_int('los_days') }}                    as los_days,
    {{ to_int('discharge_way') }}               as discharge_way,
    nullif(btrim(dept_code), '')                as dept_code,
    {{ code_list('dx_codes') }}                 as dx_codes,
    {{ code_list('px_codes') }}                 as px_codes,
    {{ to_int('ventilator_hours') }}            as ventilator_hours,
    {{ to_money('total_cost') }}                as total_cost,
    {{ to_money('fund_paid') }}                 as fund_paid,
    {{ to_money('total_cost') }} - {{ to_money('fund_paid') }} as personal_paid,
{%- for fee in ['fee_bed', 'fee_diagnosis', 'fee_exam', 'fee_lab', 'fee_treatment', 'fee_surgery',
                'fee_nursing', 'fee_material', 'fee_western_drug', 'fee_herbal', 'fee_chinese_patent',
                'fee_general_treatment', 'fee_registration', 'fee_other'] %}
    {{ to_money(fee) }}                         as {{ fee }},
{%- endfor %}
    {{ to_date('settle_date') }}                as settle_date,
    extract(year from {{ to_date('settle_date') }})::integer  as settle_year,
    to_char({{ to_date('settle_date') }}, 'YYYY-MM')          as settle_period
from latest
