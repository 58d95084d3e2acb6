-- dip-spec §5: the statistical population of settlement year Y's base years: cases of Y−k … Y−1 (DIP regions of
-- Y) grouped core, basic or comprehensive with Y's catalogue, los_days <= stats_max_los, not bed-day (when
-- bed_day_enabled), each with its group's score; trimmed per (code, year) by the settlement-spec §2 rule (macros
-- trim_bounds / trim_kept, shared with the DRG statistics). Grain: one row per case; kept = survives trimming.
{{ config(materialized='table', post_hook=["analyze {{ this }}"], pre_hook='set local enable_mergejoin = off') }}

with p as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

population as (
    select
        g.case_key, g.hospital_id, g.case_id, g.year, g.code, g.group_status, g.level, g.hospital_type,
        g.total_cost, g.los_days
    from {{ ref('int_dip_cases_grouped') }} as g
    cross join p
    where g.year between p.base_year_first and p.base_year_last
      and g.group_status in ('core', 'basic', 'comprehensive')
      and g.los_days <= p.stats_max_los
      and (g.bed_day_category is null or not p.bed_day_enabled)
),

{{ trim_bounds('population', ['code', 'year'], 'p') }}

select
    r.*,
    b.n_group,
    {{ trim_kept('r', 'b', 'p') }} as kept
from population as r
inner join trim_interpolated as b using (code, year)
cross join p
