-- Every raw case row parsed once into typed columns (the same parsers as validation, macros/safe_casts.sql),
-- kept as a table: a load batch never changes after it is loaded, so each dbt run parses only the batches
-- loaded since the last one (incremental by batch_id: loads are serialised and batch ids increase). Which
-- rows count (accepted, latest version) is decided at read time by stg_raw__cases, so a re-validation of a
-- batch needs no re-parse. Unlogged: derived from raw; after a crash it is empty and the next run parses every
-- batch again.
{{ config(materialized='incremental', incremental_strategy='append', unlogged=true, on_schema_change='fail',
          post_hook=["analyze {{ this }}"]) }}

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
from {{ source('raw', 'cases') }}
{% if is_incremental() %}
where batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
{% endif %}
