-- 病例分组结果 (output contract: case_grouping): one row per (scheme_version, hospital_id, case_id)
-- for every accepted case of staging.stg_raw__cases, grouped with the scheme version given as the
-- dbt var scheme_version. The table is partitioned by scheme_version and a run replaces only that version's
-- partition (macros/materializations/list_partition.sql), so history regrouped under several versions
-- stays side by side. batch_id / source_row name the accepted case version the row grouped (settlement-spec
-- §1: money is never computed from a grouping older than the case version it pays). enable_memoize off:
-- memoize would cache the CC assessment per diagnosis list, and nearly every list is unique, so it only costs
-- memory and time.
{#- analyze: the columns analysts and the statistics filter and join on (the trace's would cost seconds) #}
{{ config(
    materialized='list_partition',
    partition_by='scheme_version',
    partition_value=var('scheme_version'),
    pre_hook=["set local enable_memoize = off"],
    post_hook=["analyze {{ this }} (scheme_version, hospital_id, case_id, mdc, adrg, drg, group_status, cc_level)"]
) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}
{% set region_rule = region_mdc() %}

select
    {{ v }}::text                                            as scheme_version,
    c.hospital_id,
    c.case_id,
    d.mdc,
    case when d.drg is not null and not d.is_qy then d.adrg
         when d.is_qy then d.adrg end                        as adrg,
    case when d.drg is not null or d.is_qy then coalesce(d.drg, d.adrg) else '0000' end as drg,
    case when d.is_qy then 'qy'
         when d.drg is not null then 'grouped'
         else 'ungroupable' end                              as group_status,
    coalesce(d.cc_level, 'none')                             as cc_level,
    case
        when c.check_reason is not null then c.check_reason
        when d.case_key is null and not coalesce(ref.grouping_code_map('mdc', {{ v }}) ? c.dx[1], false)
            then '主诊断不在所有MDC的主诊表内: ' || c.dx[1]
        when d.case_key is null then '不符合所有MDC的入组条件，无法入组 (principal diagnosis ' || c.dx[1]
            || ' is listed, but no entered MDC has an ADRG whose rule holds)'
        when d.drg is null and not d.is_qy then 'ADRG ' || d.adrg || ' has no DRG for cc_level ' || d.cc_level
    end                                                      as reason,
    concat_ws(' | ',
        -- the MDC entry, written here (not by the ADRG step) because the codes it names are in this row
        case when d.by_ppx_or then 'MDC' || d.mdc || ' 主手术 ' || c.px[1] || ' 为手术室手术'
             when d.case_key is not null then coalesce({{ mdc_entry_note('d.mdc', 'c') }},
                 'MDC' || d.mdc || ' 主诊断 ' || c.dx[1] || ' 在主诊表'
{%- if region_rule %}
                 || case when d.mdc = '{{ region_rule.mdc }}'
                         then '，创伤部位 ' || cardinality(string_to_array(c.body_regions, chr(31))) || ' 个（'
                              || replace(c.body_regions, chr(31), '、') || '）' else '' end
{%- endif %})
        end,
        d.adrg_trace,
        case when d.case_key is not null then 'CC: ' || coalesce(d.cc_trace, '无 MCC/CC') end,
        case when d.drg is not null then 'DRG ' || d.drg || ' ' || d.drg_name end
    )                                                        as trace,
    -- the case version grouped (its raw row): settlement refuses a grouping older than the case it pays
    c.batch_id,
    c.source_row
from {{ ref('int_cases_codes_mapped') }} as c
left join {{ ref('int_cases_drg_assigned') }} as d on d.case_key = c.case_key
