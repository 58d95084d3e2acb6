-- DIP grouping (病种入组结果) of every case of the DIP regions of settlement year Y, all years with cases, under
-- Y's catalogue (output contract: dip_case_grouping; dip-spec §4, §12). Grain: (settlement_year, hospital_id,
-- case_id). Partitioned by settlement_year; a run replaces its year's partition only. batch_id / source_row name
-- the case version grouped (a later version makes the row stale: settlement checks it).
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
    post_hook=["analyze {{ this }} (settlement_year, hospital_id, case_id, code, group_status)"]
) }}

select
    {{ var('settlement_year') | int }}::integer     as settlement_year,
    g.hospital_id,
    g.case_id,
    g.year,
    g.region_code,
    g.group_status,
    g.reason,
    g.code,
    g.dx4,
    g.p_i,
    array_to_string(g.r_i, '+')                     as r_i,
    g.class,
    g.px_dropped,
    g.trace,
    g.batch_id,
    g.source_row
from {{ ref('int_dip_cases_grouped') }} as g
