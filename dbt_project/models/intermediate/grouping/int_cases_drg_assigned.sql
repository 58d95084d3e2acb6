-- The DRG inside the ADRG: the scheme's DRGs of that ADRG in list order, the first whose CC
-- condition holds (cc_rule: mcc | mcc_or_cc | any; see ref.scheme_drg and docs/grouping.md).
-- The choice depends only on (ADRG, cc_level), so it is made once per pair and joined by hash.
-- Ephemeral: inlined into case_grouping, so the traces are not written twice.
{{ config(materialized='ephemeral') }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with drg_choice as (
    select distinct on (a.adrg, lv.cc_level) a.adrg, lv.cc_level, d.drg, d.name
    from (select distinct adrg from {{ ref('stg_grouping_ref__scheme_drg') }} where scheme_version = {{ v }}) as a
    cross join (values ('mcc'), ('cc'), ('none')) as lv (cc_level)
    join {{ ref('stg_grouping_ref__scheme_drg') }} as d
      on d.scheme_version = {{ v }} and d.adrg = a.adrg
     and (d.cc_rule = 'any'
          or (d.cc_rule = 'mcc' and lv.cc_level = 'mcc')
          or (d.cc_rule = 'mcc_or_cc' and lv.cc_level in ('mcc', 'cc')))
    order by a.adrg, lv.cc_level, d.drg_order
)

select
    a.case_key, a.mdc, a.adrg, a.is_qy, d.drg, d.name as drg_name,
    coalesce(cc.cc_level, 'none') as cc_level,
    a.by_ppx_or, a.adrg_trace, cc.cc_trace
from {{ ref('int_cases_adrg_assigned') }} as a
left join {{ ref('int_cases_cc_assessed') }} as cc on cc.case_key = a.case_key
left join drg_choice as d on d.adrg = a.adrg and d.cc_level = coalesce(cc.cc_level, 'none')
