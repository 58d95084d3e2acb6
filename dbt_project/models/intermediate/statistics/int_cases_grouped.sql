-- settlement-spec §1, §6: every accepted case of every year with its group under the scheme of settlement
-- year Y and its hospital's registry level (today's level, applied to history, §8). Cases without a
-- grouping row under that scheme keep group_status null (they count as cases, never as grouped).
-- Built by calibrate, when int_cases_in_scope holds every year.
{{ config(post_hook='analyze {{ this }}') }}  {# fresh tables: give the planner row counts #}
with groups as (
    select * from {{ ref('int_case_groups_selected') }}
)

select
    p.scheme_version,
    c.hospital_id,
    c.case_id,
    c.settle_year                           as year,
    c.settle_period                         as period,
    c.region_code,
    h.level,
    g.drg,
    g.group_status,
    {{- select_columns('c', ['total_cost', 'fund_paid', 'personal_paid', 'los_days', 'discharge_way']
                          + fee_columns()) }}
    c.principal_dx
from {{ ref('int_cases_in_scope') }} as c
cross join {{ ref('int_parameters_resolved') }} as p
left join groups as g
  on g.hospital_id = c.hospital_id and g.case_id = c.case_id
left join {{ ref('stg_raw__hospitals') }} as h
  on h.hospital_id = c.hospital_id
where c.settle_year is not null
