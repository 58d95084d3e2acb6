-- The ADRG of each case: inside the entered MDCs, in mdc_order, the first ADRG whose rule holds,
-- surgical (A–J) before non-OR procedure (K–Q) before medical (R–Z) ADRGs, each in code order; when
-- the scheme's QY switch is on, xQY sits between the non-OR and the medical ADRGs (any OR procedure).
-- Rules are evaluated set-based from "hits": each condition a case satisfies is one row; an
-- alternative holds when all its conditions are hit (drgflow/schemes/rules.py for the forms).
-- Most alternatives have one condition, so only multi-condition alternatives are aggregated.
-- Speed: hits carry the code that satisfied the condition, not text; the evidence text is built for the
-- winning candidate only. The conditions are a table (int_adrg_conditions_expanded) and the CTEs are NOT
-- MATERIALIZED (inlined at each use: the multi-condition use of the hits only joins the few multi-condition
-- lists), since a materialised CTE keeps the statement out of parallel workers.
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
-- analyze only the join keys: statistics of the trace texts cost a second on 2M rows and no plan uses them
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, mdc, adrg)"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cond as not materialized (
    select * from {{ ref('int_adrg_conditions_expanded') }}
),

list_cond as not materialized (
    -- code -> the list conditions it satisfies
    select * from {{ ref('int_adrg_conditions_expanded') }} where code is not null
),

cases as not materialized (
    select case_key, dx, px, dx[1] as pdx, px[1] as ppx, ppx_or
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

any_dx_entry as not materialized (
    -- cases that can enter an MDC holding an any-diagnosis rule (1.1: MDCP, MDCY): only they are unnested
    select d.code
    from {{ source('grouping_ref', 'scheme_mdc_dx') }} as d
    where d.scheme_version = {{ v }} and d.mdc in (select mdc from cond where cond_kind = 'any_dx')
),

hits as not materialized (
    -- code: what satisfied the condition (null for the operating-room flags)
    select c.case_key, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, k.cond_kind, c.pdx as code
    from cases as c
    join list_cond as k on k.code = c.pdx and k.cond_kind = 'pdx'

    union all
    select c.case_key, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, k.cond_kind, c.ppx
    from cases as c
    join list_cond as k on k.code = c.ppx and k.cond_kind = 'ppx'

    union all
    select c.case_key, k.adrg, min(k.mdc), k.alt_no, k.cond_no, min(k.n_conds), 'any_dx', min(x.code)
    from cases as c
    cross join lateral unnest(c.dx) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_dx'
    where c.pdx in (select code from any_dx_entry)
       or (c.ppx_or and exists (select 1 from cond where cond_kind = 'any_dx' and mdc in (
               select mdc from {{ source('grouping_ref', 'scheme_mdc') }}
               where scheme_version = {{ v }} and principal_px_or)))
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    select c.case_key, k.adrg, min(k.mdc), k.alt_no, k.cond_no, min(k.n_conds), 'any_px', min(x.code)
    from cases as c
    cross join lateral unnest(c.px) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_px'
    where cardinality(c.px) > 0
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    -- 全部手术 / 且无手术: only the few ADRGs with such a condition, for cases that entered their MDC
    select e.case_key, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, k.cond_kind, null
    from {{ ref('int_cases_mdc_entered') }} as e
    join cond as k on k.mdc = e.mdc and k.cond_kind in ('ppx_or', 'no_ppx_or')
    where (k.cond_kind = 'ppx_or') = e.ppx_or
),

matched as (
    -- evidence: null for a one-condition alternative (built from cond_kind and code for the winner only)
    select case_key, adrg, mdc, cond_kind, code, null::text as evidence from hits where n_conds = 1
    union all
    select case_key, adrg, min(mdc), null, null, min(evidence)
    from (
        select case_key, adrg, min(mdc) as mdc, alt_no,
               string_agg({{ adrg_evidence('cond_kind', 'code') }}, '，' order by cond_no) as evidence
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
    select m.case_key, a.adrg, a.mdc, e.mdc_order, e.mdc_trace, a.kind_rank, a.name, a.rule_text,
           m.cond_kind, m.code, m.evidence
    from matched as m
    join {{ ref('int_cases_mdc_entered') }} as e on e.case_key = m.case_key and e.mdc = m.mdc
    join adrg as a on a.adrg = m.adrg
    where (a.age_days_min is null or e.age_days >= a.age_days_min)
      and (a.age_days_max is null or e.age_days <= a.age_days_max)
      and (a.weight_min is null or e.birth_weight_g >= a.weight_min)
      and (a.weight_max is null or e.birth_weight_g <= a.weight_max)

    union all
    -- xQY: the MDC's surgical and non-OR ADRGs failed but the case has an operating-room procedure
    select e.case_key, e.mdc || 'QY', e.mdc, e.mdc_order, e.mdc_trace, 3, '歧义组', '存在手术室手术',
           null, null, '手术室手术'
    from {{ ref('int_cases_mdc_entered') }} as e
    join {{ source('grouping_ref', 'scheme_version') }} as s on s.scheme_version = {{ v }} and s.qy_enabled
    join {{ source('grouping_ref', 'scheme_mdc') }} as m on m.scheme_version = {{ v }} and m.mdc = e.mdc
    where e.any_or and not m.principal_px_or   -- MDCA is entered by its procedure: no AQY
),

winner as (
    select distinct on (case_key) case_key, mdc, adrg, kind_rank, mdc_trace, name, rule_text, cond_kind, code,
                                  evidence
    from candidates
    -- the last keys only make the evidence shown deterministic when two alternatives of one ADRG hold
    order by case_key, mdc_order, kind_rank, adrg, cond_kind, code, evidence
)

-- the text is built for the winner only (in the DISTINCT ON select it would be built for every candidate);
-- the ADRG's name and rule text travel with the candidates, as a join here would hash all the winners
select
    case_key, mdc, adrg, name as adrg_name, kind_rank = 3 as is_qy,
    mdc_trace,
    'ADRG ' || adrg || ' ' || name || '【' || rule_text || '】: '
        || coalesce(evidence, {{ adrg_evidence('cond_kind', 'code') }}) as adrg_trace
from winner
