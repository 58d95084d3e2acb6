-- ADRG rule conditions: OR over alt_no of AND over cond_no. One row per row of ref.scheme_adrg_cond; a view, so
-- always current.
select
    scheme_version,
    adrg,
    alt_no,
    cond_no,
    cond_kind,
    list_no
from {{ source('grouping_ref', 'scheme_adrg_cond') }}
