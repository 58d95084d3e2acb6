-- Diagnosis code variants → 医保版 catalogue code. code: what the DRG grouper uses (catalogue codes map to
-- themselves); listed_code: what the map file says (null when the file does not list the variant), which DIP
-- applies as written (dip-spec §12).
select variant, code, listed_code from {{ source('grouping_ref', 'dx_variant_map') }}
