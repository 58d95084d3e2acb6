-- Diagnosis code variants → 医保版 catalogue code (catalogue codes map to themselves).
select variant, code from {{ source('grouping_ref', 'dx_variant_map') }}
