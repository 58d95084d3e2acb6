-- settlement-spec §4 / §8 case points (病例点数) for the cases of settlement year Y (of month M when the run
-- has settlement_month). Case type in the spec's order: special_review, bed_day, ungroupable, qy, unstable,
-- high, low, normal. Points are rounded to 4 decimals; each row keeps its formula's inputs (BP, c, A_g,
-- A_all, k, cost ratio, per diem). Thresholds are strict and k_g comes from the rounded BP_g; A_g and A_all
-- are unrounded. Each division is written last so one rounding step of numeric division applies.
-- Kept per settlement year and period: a monthly run replaces its month, an annual run the whole year.
{%- set month = var('settlement_month') %}
{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key=(['settlement_year', 'period'] if month else ['settlement_year']),
          full_refresh=false, on_schema_change='append_new_columns', post_hook='analyze {{ this }}') }}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

cases as (
    select * from {{ ref('int_settlement_cases_selected') }}
),

base_points as (
    select * from {{ ref('drg_base_points') }} where settlement_year = (select p.settlement_year from p)
),

a_all as (
    -- the calibration's A_all (the same value on every drg_base_points row of the year)
    select max(all_mean_cost) as all_mean_cost from base_points
),

coefficients as (
    select hospital_id, drg, coefficient
    from {{ ref('hospital_coefficients') }}
    where settlement_year = (select p.settlement_year from p)
),

decisions as (
    select hospital_id, case_id, approved_points
    from {{ ref('stg_raw__special_review') }}
    where approved
),

per_diem as (
    select s.category, s.level, s.per_diem
    from {{ policy_in_force('policy_per_diem_standards', '(select p.settlement_year from p)') }} as s
),

typed as (
    select
        c.hospital_id, c.case_id, c.region_code, c.settle_period, c.batch_id, c.source_row,
        c.total_cost, c.personal_paid, c.fund_paid, c.los_days,
        g.drg, g.group_status, h.level,
        d.approved_points, b.bed_day_category, pd.per_diem,
        bp.base_points, bp.mean_cost, bp.stable, bp.high_ratio_multiple,
        a_all.all_mean_cost, hc.coefficient,
        case
            when d.approved_points is not null then 'special_review'
            when b.bed_day_category is not null then 'bed_day'
            -- a case without a grouping row is refused by drgflow settle before this runs
            when coalesce(g.group_status, 'ungroupable') = 'ungroupable' then 'ungroupable'
            when g.group_status = 'qy' then 'qy'
            when bp.base_points is null or not bp.stable then 'unstable'
            when c.total_cost > bp.high_ratio_multiple * bp.mean_cost then 'high'
            when c.total_cost < p.low_ratio * bp.mean_cost then 'low'
            else 'normal'
        end as case_type
    from cases as c
    cross join p
    cross join a_all
    left join {{ ref('int_case_groups_selected') }} as g
      on g.hospital_id = c.hospital_id and g.case_id = c.case_id
    left join {{ ref('stg_raw__hospitals') }} as h on h.hospital_id = c.hospital_id
    left join decisions as d on d.hospital_id = c.hospital_id and d.case_id = c.case_id
    left join {{ ref('int_case_bed_day_matched') }} as b
      on b.hospital_id = c.hospital_id and b.case_id = c.case_id
    left join per_diem as pd on pd.category = b.bed_day_category and pd.level = h.level
    left join base_points as bp on bp.drg = g.drg
    left join coefficients as hc on hc.hospital_id = c.hospital_id and hc.drg = g.drg
)

select
    p.settlement_year,
    t.hospital_id,
    t.case_id,
    t.region_code,
    t.settle_period                                         as period,
    t.case_type,
    round(case t.case_type
        when 'special_review' then t.approved_points
        when 'bed_day'        then t.per_diem * t.los_days * 100 / t.all_mean_cost
        when 'ungroupable'    then t.total_cost * 100 * p.q_ungroupable / t.all_mean_cost
        when 'qy'             then t.total_cost * 100 * p.q_qy / t.all_mean_cost
        when 'unstable'       then t.total_cost * 100 / t.all_mean_cost
        when 'high'           then t.base_points * t.coefficient
                                   + t.base_points * p.high_ratio_beta
                                     * (t.total_cost - t.high_ratio_multiple * t.mean_cost) / t.mean_cost
        when 'low'            then t.base_points * t.total_cost / t.mean_cost
        else                       t.base_points * t.coefficient
    end, 4)::numeric(18, 4)                                 as points,
    t.total_cost,
    t.personal_paid,
    t.fund_paid,
    (case when t.case_type in ('high', 'low', 'normal') then t.base_points end)::numeric(18, 4) as base_points,
    (case when t.case_type in ('high', 'normal') then t.coefficient end)::numeric(18, 4)        as coefficient,
    t.drg,
    t.group_status,
    t.level,
    t.mean_cost,
    t.all_mean_cost,
    case when t.case_type in ('high', 'low', 'normal') then t.high_ratio_multiple end as high_ratio_multiple,
    case when t.case_type in ('high', 'low', 'normal') then t.total_cost / t.mean_cost end as cost_ratio,
    t.bed_day_category,
    case when t.case_type = 'bed_day' then t.per_diem end                         as per_diem,
    t.los_days,
    t.approved_points                                       as special_review_points,
    t.batch_id,
    t.source_row,
    p.scheme_version,
    p.parameter_hash
from typed as t
cross join p
