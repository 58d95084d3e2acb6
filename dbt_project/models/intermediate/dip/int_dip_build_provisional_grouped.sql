-- dip-spec §3.4 step 2: the selection population grouped (§4, macro dip_grouping) against the provisional
-- catalogue (int_dip_build_keys_counted). Grain: one row per selection case.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (code, group_status)"]) }}

{{ dip_grouping(ref('int_dip_build_cases_selected'), ref('int_dip_build_keys_counted')) }}
