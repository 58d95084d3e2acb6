-- dip-spec §3.4: the selection population of a local catalogue build for settlement year Y: the cases of the base
-- years Y−k … Y−1 (DIP regions of Y) with a valid principal diagnosis, los_days <= stats_max_los and not bed-day
-- (when bed_day_enabled; §12), with every simple procedure dropped (int_dip_cases_coded: a local build protects
-- none, §12). Empty unless Y's catalogue_source is local. Grain: one row per case.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

select c.*
from {{ ref('int_dip_cases_coded') }} as c
cross join {{ ref('int_dip_parameters_resolved') }} as p
where p.catalogue_source = 'local'
  and c.dx_valid
  and c.year between p.base_year_first and p.base_year_last
  and c.los_days <= p.stats_max_los
  and (c.bed_day_category is null or not p.bed_day_enabled)
