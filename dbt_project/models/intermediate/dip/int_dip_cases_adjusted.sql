-- dip-spec §6 and §7 (the parts the statistics need): every case of int_dip_cases_grouped with its group's score
-- S_g, level coefficient λ (its hospital's stratum; 1 for a basic group, 同病同价), auxiliary coefficient a (the
-- largest triggered a_{g,j} of the subtypes it belongs to, core non-basic groups only; ties in subtype order) and
-- the standard cost E = S_g × λ × a × PV_ref (PV_ref = M / 1000, or pv_reference_value with pv_reference fixed),
-- with the §7 step-4 deviation tests: high (dip2: C > dip2_high_multiple × E; dip3: C >= dip3_high_multiple × E,
-- high_candidate) and low (C < low_ratio × E). Grain: one row per case; null coefficients when not grouped.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, year, code, hospital_id)"]) }}

with p as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

reference as (
    select case when p.pv_reference = 'fixed' then p.pv_reference_value
                else (select max(s.reference_mean) from {{ ref('int_dip_group_scores') }} as s) / 1000 end as pv_ref
    from p
),

aux as (
    select a.code, a.subtype, a.subtype_order, a.coefficient
    from {{ ref('int_dip_aux_coefficients_estimated') }} as a
    where a.triggered
),

case_aux as (
    select distinct on (g.case_key) g.case_key, a.subtype, a.coefficient
    from {{ ref('int_dip_cases_grouped') }} as g
    inner join aux as a on a.code = g.code
    where g.group_status = 'core' and {{ dip_subtype_test('g', 'a.subtype') }}
    order by g.case_key asc, a.coefficient desc, a.subtype_order asc
),

adjusted as (
    select
        g.case_key, g.hospital_id, g.case_id, g.year, g.period, g.region_code, g.level, g.code, g.group_status,
        g.class, g.total_cost, g.fund_paid, g.personal_paid, g.los_days, g.drug_cost, g.material_cost,
        g.bed_day_category,
        s.score                                                         as group_score,
        case when g.group_status = 'basic' then 1.0
             when g.group_status in ('core', 'comprehensive') then coalesce(l.coefficient, 1.0) end as level_coef,
        a.subtype                                                       as aux_subtype,
        case when g.group_status in ('core', 'basic', 'comprehensive') then coalesce(a.coefficient, 1.0) end
                                                                        as aux_coef
    from {{ ref('int_dip_cases_grouped') }} as g
    cross join p
    left join {{ ref('int_dip_group_scores') }} as s on s.code = g.code
    left join {{ ref('int_dip_level_coefficients_estimated') }} as l
      on l.stratum = g.level::text || case when p.coef_strata = 'level_type' then ':' || coalesce(g.hospital_type, '')
                                           else '' end
    left join case_aux as a on a.case_key = g.case_key
)

select
    d.*,
    r.pv_ref,
    d.group_score * d.level_coef * d.aux_coef * r.pv_ref                as standard_cost,
    d.total_cost / nullif(d.group_score * d.level_coef * d.aux_coef * r.pv_ref, 0) as cost_ratio,
    case when p.deviation_rule = 'dip3'
         then d.total_cost >= p.dip3_high_multiple * d.group_score * d.level_coef * d.aux_coef * r.pv_ref
         else d.total_cost > p.dip2_high_multiple * d.group_score * d.level_coef * d.aux_coef * r.pv_ref
    end                                                                 as is_high,
    d.total_cost < p.low_ratio * d.group_score * d.level_coef * d.aux_coef * r.pv_ref as is_low
from adjusted as d
cross join p
cross join reference as r
