-- dip-spec §4: the DIP group of every case of int_dip_cases_coded under settlement year Y's catalogue
-- (int_dip_catalogue_resolved). Grain: one row per case. The rules are those of macro dip_grouping
-- (macros/dip_grouping.sql), shared with the local build.
{{ config(materialized='table', unlogged=true,
          post_hook=["analyze {{ this }} (case_key, code, group_status, year, hospital_id)"]) }}

{{ dip_grouping(ref('int_dip_cases_coded'), ref('int_dip_catalogue_resolved')) }}
