-- dip-spec §3.4 step 4: the local catalogue of settlement year Y: the pruned keys that at least one selection case
-- was assigned to. Scores, means and counts come later, from the base-period statistics (§5,
-- int_dip_group_scores). Grain: one row per code.
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

select k.*
from {{ ref('int_dip_build_keys_pruned') }} as k
where exists (select 1 from {{ ref('int_dip_build_pruned_grouped') }} as g where g.code = k.code)
