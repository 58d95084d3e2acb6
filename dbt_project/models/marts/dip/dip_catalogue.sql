-- DIP catalogue (病种库) of settlement year Y (output contract: dip_catalogue; dip-spec §3.1, §12): one row per
-- (settlement_year, code). Partitioned by settlement_year; a run replaces its year's partition only.
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}

select
    settlement_year,
    code,
    published_code,
    source,
    group_type,
    dx_key,
    main_px,
    related_px,
    class,
    score,
    mean_cost,
    n,
    cv,
    mean_los,
    reference_mean
from {{ ref('int_dip_catalogue_resolved') }}
