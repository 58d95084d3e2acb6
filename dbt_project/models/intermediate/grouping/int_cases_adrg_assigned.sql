-- The ADRG of each case: inside the entered MDCs, in mdc_order, the first ADRG whose rule holds,
-- surgical (A–J) before non-OR procedure (K–Q) before medical (R–Z) ADRGs, each in code order; when
-- the scheme's QY switch is on, xQY sits between the non-OR and the medical ADRGs (any OR procedure).
-- Rules are evaluated set-based from "hits": each condition a case satisfies is one row; an
-- alternative holds when all its conditions are hit (drgflow/schemes/rules.py for the forms).
-- Most alternatives have one condition, so only multi-condition alternatives are aggregated.
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cond as (
    -- each condition with the number of conditions of its alternative
    select k.adrg, k.alt_no, k.cond_no, k.cond_kind, k.list_no, a.mdc,
           count(*) over (partition by k.adrg, k.alt_no) as n_conds
    from {{ source('grouping_ref', 'scheme_adrg_cond') }} as k
    join {{ source('grouping_ref', 'scheme_adrg') }} as a
      on a.scheme_version = k.scheme_version and a.adrg = k.adrg
    where k.scheme_version = {{ v }}
),

list_cond as (
    -- code -> the list conditions it satisfies
    select l.code, k.adrg, k.mdc, k.alt_no, k.cond_no, k.cond_kind, k.n_conds
    from {{ source('grouping_ref', 'scheme_adrg_code') }} as l
    join cond as k on k.adrg = l.adrg and k.list_no = l.list_no
    where l.scheme_version = {{ v }}
),

cases as not materialized (
    select case_key, dx, px, dx[1] as pdx, px[1] as ppx, ppx_or
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

any_dx_entry as (
    -- cases that can enter an MDC holding an any-diagnosis rule (1.1: MDCP, MDCY): only they are unnested
    select d.code
    from {{ source('grouping_ref', 'scheme_mdc_dx') }} as d
    where d.scheme_version = {{ v }} and d.mdc in (select mdc from cond where cond_kind = 'any_dx')
),

hits as (
    select c.case_key, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, '主诊断 ' || c.pdx as evidence
    from cases as c
    join list_cond as k on k.code = c.pdx and k.cond_kind = 'pdx'

    union all
    select c.case_key, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, '主手术 ' || c.ppx
    from cases as c
    join list_cond as k on k.code = c.ppx and k.cond_kind = 'ppx'

    union all
    select c.case_key, k.adrg, min(k.mdc), k.alt_no, k.cond_no, min(k.n_conds), '诊断 ' || min(x.code)
    from cases as c
    cross join lateral unnest(c.dx) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_dx'
    where c.pdx in (select code from any_dx_entry)
       or (c.ppx_or and exists (select 1 from cond where cond_kind = 'any_dx' and mdc in (
               select mdc from {{ source('grouping_ref', 'scheme_mdc') }}
               where scheme_version = {{ v }} and principal_px_or)))
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    select c.case_key, k.adrg, min(k.mdc), k.alt_no, k.cond_no, min(k.n_conds), '手术 ' || min(x.code)
    from cases as c
    cross join lateral unnest(c.px) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_px'
    where cardinality(c.px) > 0
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    -- 全部手术 / 且无手术: only the few ADRGs with such a condition, for cases that entered their MDC
    select e.case_key, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds,
           case when k.cond_kind = 'ppx_or' then '主手术为手术室手术' else '无手术室手术' end
    from {{ ref('int_cases_mdc_entered') }} as e
    join cond as k on k.mdc = e.mdc and k.cond_kind in ('ppx_or', 'no_ppx_or')
    where (k.cond_kind = 'ppx_or') = e.ppx_or
),

matched as (
    select case_key, adrg, mdc, evidence from hits where n_conds = 1
    union all
    select case_key, adrg, min(mdc), min(evidence)
    from (
        select case_key, adrg, min(mdc) as mdc, alt_no, string_agg(evidence, '，' order by cond_no) as evidence
        from hits
        where n_conds > 1
        group by case_key, adrg, alt_no
        having count(distinct cond_no) = min(n_conds)
    ) as multi
    group by case_key, adrg
),

adrg as (
    select adrg, mdc, name, rule_text, age_days_min, age_days_max, weight_min, weight_max,
           case kind when 'surgical' then 1 when 'non_or' then 2 else 4 end as kind_rank
    from {{ source('grouping_ref', 'scheme_adrg') }}
    where scheme_version = {{ v }}
),

candidates as (
    select m.case_key, a.adrg, a.mdc, e.mdc_order, e.mdc_trace, a.kind_rank, a.name, a.rule_text, m.evidence
    from matched as m
    join {{ ref('int_cases_mdc_entered') }} as e on e.case_key = m.case_key and e.mdc = m.mdc
    join adrg as a on a.adrg = m.adrg
    where (a.age_days_min is null or e.age_days >= a.age_days_min)
      and (a.age_days_max is null or e.age_days <= a.age_days_max)
      and (a.weight_min is null or e.birth_weight_g >= a.weight_min)
      and (a.weight_max is null or e.birth_weight_g <= a.weight_max)

    union all
    -- xQY: the MDC's surgical and non-OR ADRGs failed but the case has an operating-room procedure
    select e.case_key, e.mdc || 'QY', e.mdc, e.mdc_order, e.mdc_trace, 3, '歧义组', '存在手术室手术', '手术室手术'
    from {{ ref('int_cases_mdc_entered') }} as e
    join {{ source('grouping_ref', 'scheme_version') }} as s on s.scheme_version = {{ v }} and s.qy_enabled
    join {{ source('grouping_ref', 'scheme_mdc') }} as m on m.scheme_version = {{ v }} and m.mdc = e.mdc
    where e.any_or and not m.principal_px_or   -- MDCA is entered by its procedure: no AQY
)

select distinct on (case_key)
    case_key, mdc, adrg, name as adrg_name, kind_rank = 3 as is_qy,
    mdc_trace,
    'ADRG ' || adrg || ' ' || name || '【' || rule_text || '】: ' || evidence as adrg_trace
from candidates
order by case_key, mdc_order, kind_rank, adrg
