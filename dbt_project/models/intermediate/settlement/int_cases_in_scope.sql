-- settlement-spec §1 / §4 / §6: the accepted cases a run works on, read from staging once per run (staging is a
-- view that re-derives the latest version on every read): every year with cases (calibrate and annual settle:
-- the §6 statistics cover all years) or only month M's cases (monthly settle). Principal diagnosis (first code
-- of dx_codes) included for the bed-day test; no arrays (dbt unit-test fixtures cannot type them).
-- The regions that pay settlement year Y by DIP (dip_regions, dip-spec §1) are left out: DRG and DIP figures of a
-- region-year are never added or netted.
{{ config(post_hook='analyze {{ this }}') }}  {# fresh tables: give the planner row counts #}
{%- set month = var('settlement_month') %}

select
    {{- select_columns('c', case_key_columns() + case_settlement_columns() + ['discharge_way'] + fee_columns()) }}
    c.dx_codes[1] as principal_dx
from {{ ref('stg_raw__cases') }} as c
{%- if month %}
-- the period as a constant, not a join with the parameters: the filter then reaches the scan of raw.cases
-- and staging probes later versions by index for this month's cases only
where c.settle_period = '{{ '%04d-%02d' | format(var('settlement_year') | int, month | int) }}'
{%- else %}
where c.settle_year is not null
{%- endif %}
  -- one array, evaluated once (an InitPlan)
  and not c.region_code = any(string_to_array(coalesce(
      (select d.dip_regions from {{ ref('int_dip_parameters_resolved') }} as d), ''), '|'))
