-- DIP catalogue (病种库) of settlement year Y (output contract: dip_catalogue; dip-spec §3.1, §12): one row per
-- (settlement_year, code). Partitioned by settlement_year; a run replaces its year's partition only.
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}

-- the statistics: as published (import) or from the base period (local, int_dip_group_scores)
select
    c.settlement_year,
    c.code,
    c.published_code,
    c.source,
    c.group_type,
    c.dx_key,
    c.main_px,
    c.related_px,
    c.class,
    s.score,
    s.mean_cost,
    s.n,
    s.cv,
    s.mean_los,
    s.reference_mean
from {{ ref('int_dip_catalogue_resolved') }} as c
inner join {{ ref('int_dip_group_scores') }} as s on s.code = c.code
