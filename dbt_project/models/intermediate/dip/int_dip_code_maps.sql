-- The code maps DIP reads per case, as jsonb objects (one row per kind), so that int_dip_cases_coded and
-- int_dip_cases_canonicalised look codes up in plan constants (ref.dip_code_map(kind), sql/40_ref_dip.sql) rather
-- than joining millions of code rows:
--   dx_variant / px_variant  variant → code as the map files write them (dip-spec §12: applied once, exact match)
--   dx_valid                 the normalised 医保版 diagnosis codes with '.' 4th (§2.1); value 1
--   px_simple                the normalised 医保版 procedure codes → true when simple (§2.2 step 3)
--   px_class                 the normalised 医保版 procedure codes → treatment class (§2.3)
{{ config(materialized='table') }}

select 'dx_variant' as kind, coalesce(jsonb_object_agg(variant, listed_code), '{}'::jsonb) as code_map
from {{ ref('stg_grouping_ref__dx_variant_map') }}
where listed_code is not null

union all

select 'px_variant' as kind, coalesce(jsonb_object_agg(variant, listed_code), '{}'::jsonb) as code_map
from {{ ref('stg_grouping_ref__px_variant_map') }}
where listed_code is not null

union all

select 'dx_valid' as kind, coalesce(jsonb_object_agg(code_normalised, 1), '{}'::jsonb) as code_map
from {{ ref('stg_grouping_ref__dx_catalogue') }}
where substr(code_normalised, 4, 1) = '.'

union all

select 'px_simple' as kind, coalesce(jsonb_object_agg(code, is_simple), '{}'::jsonb) as code_map
from {{ ref('int_dip_procedures_classified') }}

union all

select 'px_class' as kind, coalesce(jsonb_object_agg(code, treatment_class), '{}'::jsonb) as code_map
from {{ ref('int_dip_procedures_classified') }}
