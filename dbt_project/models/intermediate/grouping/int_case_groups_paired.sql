-- Transition report (双轨/平稳过渡, issue 19): every case grouped under two scheme versions, one row per (case,
-- pair of versions), for each pair of versions in marts.case_grouping (from_version < to_version by name: e.g.
-- CHS-DRG-1.1 -> CHS-DRG-2.0). Only groupings of the same case version (batch_id, source_row) are paired: a
-- case corrected between the two runs is compared once both versions regrouped it. The settlement year and
-- cost come from the case's accepted version in staging.
{{ config(materialized='table') }}

with groups as (
    select g.scheme_version, g.hospital_id, g.case_id, g.mdc, g.adrg, g.drg, g.group_status, g.cc_level,
           g.trace, g.batch_id, g.source_row
    from {{ ref('case_grouping') }} as g
)

select
    c.settle_year                    as year,
    a.scheme_version                 as from_version,
    b.scheme_version                 as to_version,
    a.hospital_id,
    a.case_id,
    c.total_cost,
    a.mdc                            as from_mdc,
    b.mdc                            as to_mdc,
    a.adrg                           as from_adrg,
    b.adrg                           as to_adrg,
    a.drg                            as from_drg,
    b.drg                            as to_drg,
    a.group_status                   as from_status,
    b.group_status                   as to_status,
    a.cc_level                       as from_cc_level,
    b.cc_level                       as to_cc_level,
    a.trace                          as from_trace,
    b.trace                          as to_trace
from groups as a
join groups as b
  on b.hospital_id = a.hospital_id and b.case_id = a.case_id and b.scheme_version > a.scheme_version
 and b.batch_id = a.batch_id and b.source_row = a.source_row
join {{ ref('stg_raw__cases') }} as c
  on c.hospital_id = a.hospital_id and c.case_id = a.case_id
 and c.batch_id = a.batch_id and c.source_row = a.source_row
where c.settle_year is not null
