-- DRGs (细分组) with split digit, CC rule and order inside the ADRG. One row per row of ref.scheme_drg; a view, so
-- always current.
select
    scheme_version,
    drg,
    adrg,
    name,
    split_digit,
    cc_rule,
    drg_order
from {{ source('grouping_ref', 'scheme_drg') }}
