-- dip-spec §6.2: the auxiliary coefficients a (辅助分型调节系数) of settlement year Y. Grain: one row per core
-- (non-basic) group of the Y−1 population × subtype (neonate, infant, child_1_6, child_7_17, elderly_65, death,
-- abnormal_discharge). Data: the Y−1 cases of the §5 population, untrimmed, in core groups.
-- n_g, m′_g (mean C), CV_g = sample sd / m′_g; subtype j: n_j, m_j; the rest: m_¬j;
-- CV_split = sqrt((Σ_{i∈j}(C_i − m_j)² + Σ_{i∉j}(C_i − m_¬j)²) / (n_g − 2)) / m′_g, when n_g >= 3 and both parts
-- have cases. Triggered when aux_enabled, n_g >= aux_min_group_n, n_j >= aux_min_subtype_n, n_g − n_j >=
-- aux_min_subtype_n, CV_g > 0 and 1 − CV_split / CV_g >= aux_min_cv_reduction; then coefficient =
-- round(clamp(m_j / m′_g, aux_coef_min, aux_coef_max), 4), else null.
{{ config(materialized='table') }}

with p as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

cases as (
    select t.code, t.total_cost, c.age_years, c.age_days, c.discharge_way
    from {{ ref('int_dip_population_trimmed') }} as t
    inner join {{ ref('int_dip_cases_coded') }} as c on c.case_key = t.case_key
    cross join p
    where t.year = p.settlement_year - 1 and t.group_status = 'core'
),

flagged as (
    select
        c.code, c.total_cost, s.subtype, s.ord,
        {{ dip_subtype_test('c') }} as in_subtype
    from cases as c
    cross join (values ('neonate', 1), ('infant', 2), ('child_1_6', 3), ('child_7_17', 4), ('elderly_65', 5),
                       ('death', 6), ('abnormal_discharge', 7)) as s (subtype, ord)
),

parts as (
    select
        code, subtype, ord,
        count(*)                                                        as n_g,
        avg(total_cost)                                                 as mean_g,
        stddev_samp(total_cost)                                         as sd_g,
        count(*) filter (where in_subtype)                              as n_j,
        avg(total_cost) filter (where in_subtype)                       as mean_j,
        coalesce(var_samp(total_cost) filter (where in_subtype), 0)
            * greatest(count(*) filter (where in_subtype) - 1, 0)       as ss_j,
        coalesce(var_samp(total_cost) filter (where not in_subtype), 0)
            * greatest(count(*) filter (where not in_subtype) - 1, 0)   as ss_rest
    from flagged
    group by code, subtype, ord
),

measured as (
    select
        pt.*,
        pt.sd_g / nullif(pt.mean_g, 0)                                  as cv_g,
        case when pt.n_g >= 3 and pt.n_j > 0 and pt.n_g - pt.n_j > 0
             then sqrt((pt.ss_j + pt.ss_rest) / (pt.n_g - 2)) / nullif(pt.mean_g, 0) end as cv_split
    from parts as pt
)

select
    p.settlement_year,
    m.code,
    m.subtype,
    m.ord                                                               as subtype_order,
    m.n_g::integer                                                      as n_g,
    m.n_j::integer                                                      as n_j,
    m.mean_g,
    m.mean_j,
    m.cv_g,
    m.cv_split,
    t.triggered,
    case when t.triggered then round(least(greatest(m.mean_j / m.mean_g, p.aux_coef_min), p.aux_coef_max), 4)
    end                                                                 as coefficient
from measured as m
cross join p
cross join lateral (select coalesce(  -- noqa: ST05
    p.aux_enabled
    and m.n_g >= p.aux_min_group_n
    and m.n_j >= p.aux_min_subtype_n
    and m.n_g - m.n_j >= p.aux_min_subtype_n
    and m.cv_g > 0
    and 1 - m.cv_split / m.cv_g >= p.aux_min_cv_reduction, false) as triggered) as t
