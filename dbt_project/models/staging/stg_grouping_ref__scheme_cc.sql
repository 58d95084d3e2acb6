-- MCC / CC diagnoses with their exclusion table. One row per row of ref.scheme_cc; a view, so always current.
select
    scheme_version,
    code,
    cc_level,
    excl_table
from {{ source('grouping_ref', 'scheme_cc') }}
