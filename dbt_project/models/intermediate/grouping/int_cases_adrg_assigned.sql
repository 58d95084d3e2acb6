-- The ADRG of each case: inside the entered MDCs, in mdc_order, the first ADRG whose rule holds,
-- surgical (A–J) before non-OR procedure (K–Q) before medical (R–Z) ADRGs, each in code order; when
-- the scheme's QY switch is on, xQY sits between the non-OR and the medical ADRGs (any OR procedure).
-- Rules are evaluated set-based from "hits": each condition a case satisfies is one row; an
-- alternative holds when all its conditions are hit (drgflow/schemes/rules.py for the forms).
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cases as (
    select case_key, age_days, birth_weight_g, dx, px, dx[1] as pdx, px[1] as ppx
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

cond as (
    select * from {{ source('grouping_ref', 'scheme_adrg_cond') }} where scheme_version = {{ v }}
),

code as (
    select * from {{ source('grouping_ref', 'scheme_adrg_code') }} where scheme_version = {{ v }}
),

or_px as (
    select code from {{ source('grouping_ref', 'scheme_ss_valid') }} where scheme_version = {{ v }}
),

entered as (
    select * from {{ ref('int_cases_mdc_entered') }}
),

case_or as (
    -- principal procedure is an operating-room procedure; any procedure is (for QY)
    select c.case_key,
           exists (select 1 from or_px where or_px.code = c.ppx)                          as ppx_or,
           exists (select 1 from unnest(c.px) as x (code) join or_px on or_px.code = x.code) as any_or
    from cases as c
    where exists (select 1 from entered as e where e.case_key = c.case_key)
),

hits as (
    select c.case_key, k.adrg, k.alt_no, k.cond_no, '主诊断 ' || c.pdx as evidence
    from cases as c
    join code as l on l.code = c.pdx
    join cond as k on k.adrg = l.adrg and k.list_no = l.list_no and k.cond_kind = 'pdx'

    union all
    select c.case_key, k.adrg, k.alt_no, k.cond_no, '主手术 ' || c.ppx
    from cases as c
    join code as l on l.code = c.ppx
    join cond as k on k.adrg = l.adrg and k.list_no = l.list_no and k.cond_kind = 'ppx'

    union all
    select c.case_key, k.adrg, k.alt_no, k.cond_no, '诊断 ' || min(x.code)
    from cases as c
    cross join lateral unnest(c.dx) as x (code)
    join code as l on l.code = x.code
    join cond as k on k.adrg = l.adrg and k.list_no = l.list_no and k.cond_kind = 'any_dx'
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    select c.case_key, k.adrg, k.alt_no, k.cond_no, '手术 ' || min(x.code)
    from cases as c
    cross join lateral unnest(c.px) as x (code)
    join code as l on l.code = x.code
    join cond as k on k.adrg = l.adrg and k.list_no = l.list_no and k.cond_kind = 'any_px'
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    select o.case_key, k.adrg, k.alt_no, k.cond_no,
           case when k.cond_kind = 'ppx_or' then '主手术为手术室手术' else '无手术室手术' end
    from case_or as o
    join entered as e on e.case_key = o.case_key
    join {{ source('grouping_ref', 'scheme_adrg') }} as a on a.scheme_version = {{ v }} and a.mdc = e.mdc
    join cond as k on k.adrg = a.adrg
    where (k.cond_kind = 'ppx_or' and o.ppx_or) or (k.cond_kind = 'no_ppx_or' and not o.ppx_or)
),

n_conds as (
    select adrg, alt_no, count(*) as n from cond group by adrg, alt_no
),

matched as (
    select h.case_key, h.adrg, min(h.alt_no) as alt_no,
           min(h.evidence_text) as evidence
    from (
        select h.case_key, h.adrg, h.alt_no,
               string_agg(h.evidence, '，' order by h.cond_no) as evidence_text,
               count(distinct h.cond_no) as n_hit
        from hits as h
        group by h.case_key, h.adrg, h.alt_no
    ) as h
    join n_conds as n on n.adrg = h.adrg and n.alt_no = h.alt_no and h.n_hit = n.n
    group by h.case_key, h.adrg
),

candidates as (
    select m.case_key, a.adrg, a.mdc, e.mdc_order, e.mdc_trace,
           case a.kind when 'surgical' then 1 when 'non_or' then 2 else 4 end as kind_rank,
           a.name, a.rule_text, m.evidence
    from matched as m
    join {{ source('grouping_ref', 'scheme_adrg') }} as a on a.scheme_version = {{ v }} and a.adrg = m.adrg
    join entered as e on e.case_key = m.case_key and e.mdc = a.mdc
    join cases as c on c.case_key = m.case_key
    where (a.age_days_min is null or c.age_days >= a.age_days_min)
      and (a.age_days_max is null or c.age_days <= a.age_days_max)
      and (a.weight_min is null or c.birth_weight_g >= a.weight_min)
      and (a.weight_max is null or c.birth_weight_g <= a.weight_max)

    union all
    -- xQY: the MDC's surgical and non-OR ADRGs failed but the case has an operating-room procedure
    select o.case_key, e.mdc || 'QY', e.mdc, e.mdc_order, e.mdc_trace, 3, '歧义组', '存在手术室手术', '手术室手术'
    from case_or as o
    join entered as e on e.case_key = o.case_key
    join {{ source('grouping_ref', 'scheme_version') }} as s on s.scheme_version = {{ v }} and s.qy_enabled
    join {{ source('grouping_ref', 'scheme_mdc') }} as m on m.scheme_version = {{ v }} and m.mdc = e.mdc
    where o.any_or and not m.principal_px_or   -- MDCA is entered by its procedure: no AQY
)

select distinct on (case_key)
    case_key, mdc, adrg, name as adrg_name, kind_rank = 3 as is_qy,
    mdc_trace,
    'ADRG ' || adrg || ' ' || name || '【' || rule_text || '】: ' || evidence as adrg_trace
from candidates
order by case_key, mdc_order, kind_rank, adrg
