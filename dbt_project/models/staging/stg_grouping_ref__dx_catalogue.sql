-- The ICD-10 医保版 diagnosis catalogue, codes as written and normalised (dip-spec §2.1: trimmed, upper-case).
select code, upper(btrim(code)) as code_normalised, name
from {{ source('grouping_ref', 'dx_catalogue') }}
