-- Code lists of the ADRG conditions (诊断表 / 手术表). One row per row of ref.scheme_adrg_code; a view, so always
-- current.
select
    scheme_version,
    adrg,
    list_no,
    code
from {{ source('grouping_ref', 'scheme_adrg_code') }}
