-- settlement-spec §1: grouping results under the scheme of settlement year Y, used for Y's cases and for the
-- regrouped base years alike. The only model of calibration/settlement that reads case_grouping
-- (drgflow group fills it per scheme version; calibrate/settle never regroup).
{{ config(materialized='view') }}

select
    g.scheme_version,
    g.hospital_id,
    g.case_id,
    g.mdc,
    g.adrg,
    g.drg,
    g.group_status,
    g.cc_level,
    g.batch_id,
    g.source_row
from {{ ref('case_grouping') }} as g
where g.scheme_version = (select r.scheme_version from {{ ref('int_parameters_resolved') }} as r)
