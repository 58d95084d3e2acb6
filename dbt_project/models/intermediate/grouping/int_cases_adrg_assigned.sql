-- The ADRG of each case: inside the entered MDCs, in mdc_order, the first ADRG whose rule holds,
-- surgical (A–J) before non-OR procedure (K–Q) before medical (R–Z) ADRGs, each in code order; when
-- the scheme's QY switch is on, xQY sits between the non-OR and the medical ADRGs (any OR procedure).
-- Rules are evaluated set-based from "hits": each condition a case satisfies is one row; an
-- alternative holds when all its conditions are hit (drgflow/schemes/rules.py for the forms).
-- Nearly every alternative has one condition: its hits are the candidates. The few multi-condition
-- alternatives are matched in int_cases_adrg_alternatives_met, with the same tests of the case.
-- MDC entry and the ADRG's age and birth-weight bounds are tested on each hit, from the case row
-- (int_cases_codes_mapped.dx_mdcs, macro adrg_case_allowed), so no table of entered MDCs is joined.
-- Speed: hits carry the code that satisfied the condition, not text; the evidence text is built for the
-- winning candidate only. Every CTE is NOT MATERIALIZED and no branch of a union aggregates, so the whole
-- statement up to the choice of the winner runs in the parallel workers, each sorting its share; the leader
-- only merges the sorted candidates (a materialised CTE, an aggregate or an InitPlan in a branch kept the
-- joins and the sort in the leader: 5–7 s instead of about 4 s on 1M cases).
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
-- analyze only the join keys: statistics of the trace text cost a second on 2M rows and no plan uses them
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
    select case_key, dx, px, dx[1] as pdx, px[1] as ppx, ppx_or, any_or, dx_mdcs, age_days, birth_weight_g
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

hits as not materialized (
    -- code: what satisfied the condition (null for the operating-room flags). An any-diagnosis or
    -- any-procedure list met by several codes gives a hit for each: the winner's order takes the lowest.
    -- by_ppx_or: the case entered the MDC by its operating-room principal procedure, not by its diagnosis.
    {{ list_condition_hits('c.case_key, k.adrg, k.mdc, k.cond_kind') }}

    union all
    -- 全部手术 / 且无手术: only the few ADRGs with such a condition, for cases that entered their MDC
    select c.case_key, k.adrg, k.mdc, k.cond_kind, null as code, {{ entered_by_ppx_or('c', 'k') }}
    from cases as c
    join cond as k on k.cond_kind in ('ppx_or', 'no_ppx_or') and (k.cond_kind = 'ppx_or') = c.ppx_or
    where {{ entry_prefilter('c', ['ppx_or', 'no_ppx_or']) }} and {{ adrg_case_allowed('c', 'k') }}
),

matched as not materialized (
    -- evidence: null for a one-condition alternative (built from cond_kind and code for the winner only)
    select case_key, adrg, mdc, cond_kind, code, null::text as evidence, by_ppx_or from hits
    union all
    select case_key, adrg, mdc, null as cond_kind, null as code, evidence, by_ppx_or
    from {{ ref('int_cases_adrg_alternatives_met') }}
),

adrg as not materialized (
    select a.adrg, a.mdc, m.mdc_order, a.name, a.rule_text,
           case a.kind when 'surgical' then 1 when 'non_or' then 2 else 4 end as kind_rank
    from {{ ref('stg_grouping_ref__scheme_adrg') }} as a
    join {{ ref('stg_grouping_ref__scheme_mdc') }} as m on m.scheme_version = a.scheme_version and m.mdc = a.mdc
    where a.scheme_version = {{ v }}
),

candidates as (
    select m.case_key, a.adrg, a.mdc, a.mdc_order, m.by_ppx_or, a.kind_rank, a.name, a.rule_text,
           m.cond_kind, m.code, m.evidence
    from matched as m
    join adrg as a on a.adrg = m.adrg
{%- if qy_enabled() %}

    union all
    -- xQY: the MDC's surgical and non-OR ADRGs failed but the case has an operating-room procedure; in every
    -- MDC entered by diagnosis (MDCA, entered by its procedure, has no AQY; an MDC without a list, 2.0 MDCP,
    -- hands the case on to the MDC of its principal diagnosis instead)
    select c.case_key, m.mdc || 'QY' as adrg, m.mdc, m.mdc_order, false as by_ppx_or, 3 as kind_rank,
           '歧义组' as name, '存在手术室手术' as rule_text, null as cond_kind, null as code, '手术室手术' as evidence
    from cases as c
    cross join lateral unnest(string_to_array(trim(both ',' from c.dx_mdcs), ',')) as e (mdc)
    join {{ ref('stg_grouping_ref__scheme_mdc') }} as m on m.scheme_version = {{ v }} and m.mdc = e.mdc
    where c.any_or and not m.principal_px_or and not m.without_list
{%- endif %}
),

winner as (
    select distinct on (case_key) case_key, mdc, adrg, kind_rank, by_ppx_or, name, rule_text, cond_kind, code,
                                  evidence
    from candidates
    -- the last keys only make the evidence shown deterministic when two alternatives of one ADRG hold, or
    -- when the case entered the MDC both ways
    order by case_key, mdc_order, kind_rank, adrg, cond_kind, code, evidence, by_ppx_or
)

-- the text is built for the winner only (in the DISTINCT ON select it would be built for every candidate);
-- the ADRG's name and rule text travel with the candidates, as a join here would hash all the winners.
-- The MDC entry's text is written by case_grouping, which has the codes it names.
select
    case_key, mdc, adrg, name as adrg_name, kind_rank = 3 as is_qy, by_ppx_or,
    'ADRG ' || adrg || ' ' || name || '【' || rule_text || '】: '
        || coalesce(evidence, {{ adrg_evidence('cond_kind', 'code') }}) as adrg_trace
from winner
