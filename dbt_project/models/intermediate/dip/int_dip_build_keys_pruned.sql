-- dip-spec §3.4 step 3: the provisional catalogue without the comprehensive keys that fewer than comp_min_n
-- selection cases were assigned to (DIP3.0 §3.3 三(二): 未达到临界值…可予以剔除). Grain: one row per code.
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

with assigned as (
    select code, count(*) as n from {{ ref('int_dip_build_provisional_grouped') }}
    where code is not null
    group by code
)

select k.*
from {{ ref('int_dip_build_keys_counted') }} as k
cross join {{ ref('int_dip_parameters_resolved') }} as p
left join assigned as a on a.code = k.code
where k.group_type <> 'comprehensive' or coalesce(a.n, 0) >= p.comp_min_n
