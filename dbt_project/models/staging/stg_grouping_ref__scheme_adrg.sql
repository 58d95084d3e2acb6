-- ADRGs with kind, rule text and age/weight bounds. One row per row of ref.scheme_adrg; a view, so always
-- current.
select
    scheme_version,
    adrg,
    mdc,
    name,
    kind,
    rule_text,
    age_days_min,
    age_days_max,
    weight_min,
    weight_max
from {{ source('grouping_ref', 'scheme_adrg') }}
