-- MDC principal-diagnosis lists (主诊表); region = MDCZ body region. One row per row of ref.scheme_mdc_dx; a view,
-- so always current.
select
    scheme_version,
    mdc,
    code,
    region
from {{ source('grouping_ref', 'scheme_mdc_dx') }}
