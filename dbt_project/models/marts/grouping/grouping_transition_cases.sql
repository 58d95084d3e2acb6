-- Transition report, the cases whose DRG changed between two scheme versions (issue 19), with the rule trace
-- of both groupings, so that a hospital can see why: one row per (year, from_version, to_version, hospital_id,
-- case_id). change_kind: 'mdc' (another MDC), 'adrg' (same MDC, another ADRG), 'split' (same ADRG, another DRG),
-- 'status' (grouped <-> xQY / 0000).
select
    p.year,
    p.from_version,
    p.to_version,
    p.hospital_id,
    p.case_id,
    p.from_drg,
    p.to_drg,
    case when p.from_status <> p.to_status then 'status'
         when coalesce(p.from_mdc, '') <> coalesce(p.to_mdc, '') then 'mdc'
         when coalesce(p.from_adrg, '') <> coalesce(p.to_adrg, '') then 'adrg'
         else 'split' end                           as change_kind,
    p.from_cc_level,
    p.to_cc_level,
    p.from_trace,
    p.to_trace
from {{ ref('int_case_groups_paired') }} as p
where p.from_drg <> p.to_drg
