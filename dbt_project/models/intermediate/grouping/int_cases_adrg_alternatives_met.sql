-- The multi-condition ADRG rule alternatives each case meets (e.g. 主要诊断 in one table 且 主要手术 in another),
-- with the evidence text: one row per (case, ADRG) whose alternative holds, every one of its conditions hit.
-- The one-condition alternatives, nearly all of them, are matched in int_cases_adrg_assigned.
-- A hit counts only when the case entered the ADRG's MDC and meets the ADRG's age and birth-weight bounds (macro
-- adrg_case_allowed), as in int_cases_adrg_assigned, which takes these rows as candidates.
-- Speed: each hit is one (case, alternative, condition slot) row, and the hits of an alternative are folded with
-- aggregates PostgreSQL can split across parallel workers (bit_or of the slots hit, min of each slot's code);
-- the evidence text is built after that, for the alternatives that hold only. An alternative's operating-room
-- flags (全部手术 / 且无手术) filter its hits, as the case's flag is known with each hit.
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

-- depends_on: {{ ref('stg_grouping_ref__scheme_adrg_cond') }}
{#- the most conditions an alternative of this scheme has: one code column per condition slot -#}
{% set v = "'" ~ var('scheme_version') ~ "'" %}
{% set max_slots = 4 %}
{% if execute %}
    {% set max_slots = run_query(
        "select coalesce(max(n), 1) from (select count(*) as n from " ~ ref('stg_grouping_ref__scheme_adrg_cond')
        ~ " where scheme_version = " ~ v ~ " group by adrg, alt_no) as per_alternative").columns[0].values()[0] | int %}
{% endif %}

with cond as not materialized (
    select * from {{ ref('int_adrg_conditions_expanded') }} where n_conds > 1
),

list_cond as not materialized (
    -- alternatives whose flags contradict each other (全部手术 and 且无手术) cannot hold: no hits
    select * from cond where code is not null and not (alt_needs_ppx_or and alt_needs_no_ppx_or)
),

cases as not materialized (
    select case_key, dx, px, dx[1] as pdx, px[1] as ppx, ppx_or, dx_mdcs, age_days, birth_weight_g
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

hits as not materialized (
    -- a list condition met, with the code that met it (an any-diagnosis or any-procedure list met by several
    -- codes gives a hit for each: the evidence takes the lowest). by_ppx_or: the MDC was entered by the
    -- operating-room principal procedure, not by the diagnosis.
    {{ list_condition_hits('c.case_key, c.ppx_or, k.adrg, k.alt_no, k.cond_slot, k.alt_needs_ppx_or,'
                           ~ ' k.alt_needs_no_ppx_or') }}
),

slots_hit as (
    select case_key, adrg, alt_no, bit_or(1 << (cond_slot - 1)) as slot_mask, bool_and(by_ppx_or) as by_ppx_or
           {%- for i in range(1, max_slots + 1) %},
           min(code) filter (where cond_slot = {{ i }}) as code_{{ i }}
           {%- endfor %}
    from hits
    where (not alt_needs_ppx_or or ppx_or) and (not alt_needs_no_ppx_or or not ppx_or)
    group by case_key, adrg, alt_no
),

alternatives as (
    -- per alternative: the slots of its list conditions (all must be hit) and the kind in each slot
    select adrg, alt_no, min(mdc) as mdc,
           bit_or(case when code is not null then 1 << (cond_slot - 1) else 0 end) as list_mask
           {%- for i in range(1, max_slots + 1) %},
           min(cond_kind) filter (where cond_slot = {{ i }}) as kind_{{ i }}
           {%- endfor %}
    from cond
    group by adrg, alt_no
)

select s.case_key, s.adrg, min(a.mdc) as mdc, bool_and(s.by_ppx_or) as by_ppx_or,
       -- the conditions in rule order; several alternatives of one ADRG holding: the lowest text, as before
       min(concat_ws('，'
           {%- for i in range(1, max_slots + 1) %},
           case when a.kind_{{ i }} is not null then {{ adrg_evidence('a.kind_' ~ i, 's.code_' ~ i) }} end
           {%- endfor %})) as evidence
from slots_hit as s
join alternatives as a on a.adrg = s.adrg and a.alt_no = s.alt_no and a.list_mask = s.slot_mask
group by s.case_key, s.adrg
