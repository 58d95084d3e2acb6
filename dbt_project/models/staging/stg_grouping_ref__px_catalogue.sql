-- The ICD-9-CM-3 医保版 procedure catalogue, codes as written and normalised (dip-spec §2.1: trimmed, upper-case).
select code, upper(btrim(code)) as code_normalised, name
from {{ source('grouping_ref', 'px_catalogue') }}
