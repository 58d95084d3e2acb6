-- The multi-condition ADRG rule alternatives each case meets (e.g. 主要诊断 in one table 且 主要手术 in another),
-- with the evidence text: one row per (case, ADRG) whose alternative holds, every one of its conditions hit.
-- The one-condition alternatives, nearly all of them, are matched in int_cases_adrg_assigned.
-- Whether the case entered the ADRG's MDC is left to int_cases_adrg_assigned, so this model depends on the mapped
-- codes only, and dbt builds it in another thread while the MDC entry is computed.
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

with cond as not materialized (
    select * from {{ ref('int_adrg_conditions_expanded') }} where n_conds > 1
),

list_cond as not materialized (
    select * from cond where code is not null
),

cases as not materialized (
    select case_key, dx, px, dx[1] as pdx, px[1] as ppx, ppx_or
    from {{ ref('int_cases_codes_mapped') }}
    where check_reason is null
),

list_hits as not materialized (
    -- a code list condition met, with the code that met it (the lowest, when several codes of an
    -- any-diagnosis or any-procedure list are on the case)
    select c.case_key, c.ppx_or, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, k.cond_kind, c.pdx as code
    from cases as c
    join list_cond as k on k.code = c.pdx and k.cond_kind = 'pdx'

    union all
    select c.case_key, c.ppx_or, k.adrg, k.mdc, k.alt_no, k.cond_no, k.n_conds, k.cond_kind, c.ppx
    from cases as c
    join list_cond as k on k.code = c.ppx and k.cond_kind = 'ppx'

    union all
    select c.case_key, bool_or(c.ppx_or), k.adrg, min(k.mdc), k.alt_no, k.cond_no, min(k.n_conds), 'any_dx',
           min(x.code)
    from cases as c
    cross join lateral unnest(c.dx) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_dx'
    where {{ any_dx_entry_filter('c', 'cond') }}
    group by c.case_key, k.adrg, k.alt_no, k.cond_no

    union all
    select c.case_key, bool_or(c.ppx_or), k.adrg, min(k.mdc), k.alt_no, k.cond_no, min(k.n_conds), 'any_px',
           min(x.code)
    from cases as c
    cross join lateral unnest(c.px) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = 'any_px'
    where cardinality(c.px) > 0
    group by c.case_key, k.adrg, k.alt_no, k.cond_no
),

met as (
    select case_key, adrg, mdc, alt_no, cond_no, n_conds, cond_kind, code from list_hits

    union all
    -- 全部手术 / 且无手术 beside a list condition: from the case's operating-room flag, for the few alternatives
    -- that have one (an alternative of flags alone cannot hold: its conditions exclude each other)
    select distinct h.case_key, h.adrg, h.mdc, h.alt_no, k.cond_no, h.n_conds, k.cond_kind, null::text
    from list_hits as h
    join cond as k on k.adrg = h.adrg and k.alt_no = h.alt_no and k.cond_kind in ('ppx_or', 'no_ppx_or')
    where (k.cond_kind = 'ppx_or') = h.ppx_or
)

select case_key, adrg, min(mdc) as mdc, min(evidence) as evidence
from (
    select case_key, adrg, min(mdc) as mdc, alt_no,
           string_agg({{ adrg_evidence('cond_kind', 'code') }}, '，' order by cond_no) as evidence
    from met
    group by case_key, adrg, alt_no
    having count(*) = min(n_conds)
) as per_alternative
group by case_key, adrg
