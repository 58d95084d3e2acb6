-- Exclusion tables (表 7-N): principal diagnoses that cancel an MCC/CC of the table. One row per row of
-- ref.scheme_cce; a view, so always current.
select
    scheme_version,
    excl_table,
    code
from {{ source('grouping_ref', 'scheme_cce') }}
