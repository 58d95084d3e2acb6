-- dip-spec §3.4: the selection population of a local catalogue build for settlement year Y: the cases of the base
-- years Y−k … Y−1 (DIP regions of Y) with a valid principal diagnosis, los_days <= stats_max_los and not bed-day
-- (when bed_day_enabled; §12), with canonical procedures under no catalogue (§12: step 3 protects nothing while a
-- catalogue is being built). Empty unless Y's catalogue_source is local. Grain: one row per case.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}
{%- set p = ref('int_dip_parameters_resolved') %}

{{ dip_canonical(ref('int_dip_cases_coded'), none, where=
    "c.dx_valid and (select q.catalogue_source = 'local' from " ~ p ~ " as q)"
    ~ " and c.year between (select q.base_year_first from " ~ p ~ " as q) and (select q.base_year_last from " ~ p
    ~ " as q) and c.los_days <= (select q.stats_max_los from " ~ p ~ " as q)"
    ~ " and (c.bed_day_category is null or not (select q.bed_day_enabled from " ~ p ~ " as q))") }}
