-- The grouping scheme each settlement year uses, as the bureau assigned it (drgflow scheme assign). One row per
-- effective_from_year; the row with the greatest effective_from_year <= Y is in force for year Y.
select
    effective_from_year,
    scheme_version,
    assigned_at
from {{ source('grouping_ref', 'scheme_years') }}
