-- dip-spec §3.4 step 3: the selection population regrouped (§4, macro dip_grouping) against the pruned catalogue
-- (int_dip_build_keys_pruned). Grain: one row per selection case.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (code, group_status)"]) }}

{{ dip_grouping(ref('int_dip_build_cases_selected'), ref('int_dip_build_keys_pruned')) }}
