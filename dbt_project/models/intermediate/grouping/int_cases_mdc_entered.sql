-- Every MDC whose entry condition a case meets (a case may enter several; the ADRG step takes the
-- first MDC, in mdc_order, that has a matching ADRG — an entered MDC without one hands the case on,
-- as the reference grouper does). Entry: principal diagnosis in the MDC list, plus the reviewed
-- supplementary conditions of ref.scheme_mdc (MDCA by operating-room principal procedure, MDCP age,
-- MDCM/MDCN sex, MDCZ ≥ 2 body regions).
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cases as not materialized (
    select case_key, sex, age_years, age_days, birth_weight_g, dx, px[1] as ppx, dx[1] as pdx, ppx_or, any_or
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

mdc as not materialized (
    select * from {{ source('grouping_ref', 'scheme_mdc') }} where scheme_version = {{ v }}
),

by_principal_dx as not materialized (
    select c.case_key, m.mdc, m.mdc_order, m.min_regions, c.dx, c.pdx,
           c.ppx_or, c.any_or, c.age_days, c.birth_weight_g
    from cases as c
    join {{ source('grouping_ref', 'scheme_mdc_dx') }} as d
      on d.scheme_version = {{ v }} and d.code = c.pdx
    join mdc as m on m.mdc = d.mdc
    where (m.sex is null or c.sex = m.sex)
      and (m.age_years_max is null or c.age_years <= m.age_years_max)
),

regions as (
    -- MDCZ: body regions covered by all diagnoses (principal included)
    select p.case_key, p.mdc, count(distinct r.region) as n_regions,
           string_agg(distinct r.region, '、') as region_list
    from by_principal_dx as p
    cross join lateral unnest(p.dx) as x (code)
    join {{ source('grouping_ref', 'scheme_mdc_dx') }} as r
      on r.scheme_version = {{ v }} and r.mdc = p.mdc and r.code = x.code
    where p.min_regions is not null
    group by p.case_key, p.mdc
)

-- the case's flags and age/weight travel along so the ADRG step needs no join back to the cases
select p.case_key, p.mdc, p.mdc_order, p.ppx_or, p.any_or, p.age_days, p.birth_weight_g,
       case when p.min_regions is null
            then 'MDC' || p.mdc || ' 主诊断 ' || p.pdx || ' 在主诊表'
            else 'MDC' || p.mdc || ' 主诊断 ' || p.pdx || ' 在主诊表，创伤部位 ' || r.n_regions || ' 个（' || r.region_list || '）'
       end as mdc_trace
from by_principal_dx as p
left join regions as r on r.case_key = p.case_key and r.mdc = p.mdc
where p.min_regions is null or r.n_regions >= p.min_regions

union all

select c.case_key, m.mdc, m.mdc_order, c.ppx_or, c.any_or, c.age_days, c.birth_weight_g,
       'MDC' || m.mdc || ' 主手术 ' || c.ppx || ' 为手术室手术' as mdc_trace
from cases as c
join mdc as m on m.principal_px_or
where c.ppx_or
