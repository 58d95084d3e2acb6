-- MDCs (主要诊断大类) of each imported scheme version, with their order and entry conditions. One row per row of
-- ref.scheme_mdc; a view, so always current.
select
    scheme_version,
    mdc,
    name,
    mdc_order,
    principal_px_or,
    age_years_max,
    sex,
    min_regions,
    any_dx,
    without_list
from {{ source('grouping_ref', 'scheme_mdc') }}
