-- Procedure code variants → 医保版 catalogue code (catalogue codes map to themselves).
select variant, code from {{ source('grouping_ref', 'px_variant_map') }}
