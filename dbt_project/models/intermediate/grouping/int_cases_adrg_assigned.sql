-- The ADRG of each case: inside the entered MDCs, in mdc_order, the first ADRG whose rule holds,
-- surgical (A–J) before non-OR procedure (K–Q) before medical (R–Z) ADRGs, each in code order; when
-- the scheme's QY switch is on, xQY sits between the non-OR and the medical ADRGs (any OR procedure).
-- Rules are evaluated set-based from "hits": each condition a case satisfies is one row; an
-- alternative holds when all its conditions are hit (drgflow/schemes/rules.py for the forms).
-- Nearly every alternative has one condition: its hits are the candidates. The few multi-condition
-- alternatives are matched in int_cases_adrg_alternatives_met (built beside the MDC entry).
-- Speed: hits carry the code that satisfied the condition, not text; the evidence text is built for the
-- winning candidate only. Every CTE is NOT MATERIALIZED and no branch of a union aggregates, so the whole
-- statement up to the choice of the winner runs in the parallel workers, each sorting its share; the leader
-- only merges the sorted candidates (a materialised CTE, an aggregate or an InitPlan in a branch kept the
-- joins and the sort in the leader: 5–7 s instead of about 4 s on 1M cases).
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
-- analyze only the join keys: statistics of the trace texts cost a second on 2M rows and no plan uses them
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, mdc, adrg)"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cond as not materialized (
    select * from {{ ref('int_adrg_conditions_expanded') }} where n_conds = 1
),

list_cond as not materialized (
    -- code -> the one-condition list alternatives it satisfies
    select * from cond where code is not null
),

cases as not materialized (
    select case_key, dx, px, dx[1] as pdx, px[1] as ppx, ppx_or
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

hits as not materialized (
    -- code: what satisfied the condition (null for the operating-room flags). An any-diagnosis or
    -- any-procedure list met by several codes gives a hit for each: the winner's order takes the lowest.
    select c.case_key, k.adrg, k.mdc, k.cond_kind, c.pdx as code
    from cases as c
    join list_cond as k on k.code = c.pdx and k.cond_kind = 'pdx'

    union all
    select c.case_key, k.adrg, k.mdc, k.cond_kind, c.ppx
    from cases as c
    join list_cond as k on k.code = c.ppx and k.cond_kind = 'ppx'

    union all
    select c.case_key, k.adrg, k.mdc, k.cond_kind, x.code
    from cases as c
    cross join lateral unnest(c.dx) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_dx'
    where {{ any_dx_entry_filter('c', 'cond') }}

    union all
    select c.case_key, k.adrg, k.mdc, k.cond_kind, x.code
    from cases as c
    cross join lateral unnest(c.px) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_px'
    where cardinality(c.px) > 0

    union all
    -- 全部手术 / 且无手术: only the few ADRGs with such a condition, for cases that entered their MDC
    select e.case_key, k.adrg, k.mdc, k.cond_kind, null
    from {{ ref('int_cases_mdc_entered') }} as e
    join cond as k on k.mdc = e.mdc and k.cond_kind in ('ppx_or', 'no_ppx_or')
    where (k.cond_kind = 'ppx_or') = e.ppx_or
),

matched as not materialized (
    -- evidence: null for a one-condition alternative (built from cond_kind and code for the winner only)
    select case_key, adrg, mdc, cond_kind, code, null::text as evidence from hits
    union all
    select case_key, adrg, mdc, null, null, evidence from {{ ref('int_cases_adrg_alternatives_met') }}
),

adrg as not materialized (
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
