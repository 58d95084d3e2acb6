-- The ADRG rule conditions of the scheme version (ref.scheme_adrg_cond), expanded to one row per code for
-- the list conditions (code null for the operating-room flags), each with its ADRG's MDC, the number of
-- conditions of its alternative, its place in it, the alternative's operating-room flags, and the ADRG's
-- age and birth-weight bounds. A small table rather than a CTE: the ADRG step joins it five times, and a table
-- keeps those joins in parallel workers.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cond as (
    select k.adrg, k.alt_no, k.cond_no, k.cond_kind, k.list_no, a.mdc,
           a.age_days_min, a.age_days_max, a.weight_min, a.weight_max,
           count(*) over (partition by k.adrg, k.alt_no) as n_conds,
           -- position of the condition in its alternative (cond_no runs on across an ADRG's alternatives)
           (row_number() over (partition by k.adrg, k.alt_no order by k.cond_no))::int as cond_slot,
           -- the alternative's operating-room flags (全部手术 / 且无手术), carried to each of its list conditions
           bool_or(k.cond_kind = 'ppx_or') over (partition by k.adrg, k.alt_no) as alt_needs_ppx_or,
           bool_or(k.cond_kind = 'no_ppx_or') over (partition by k.adrg, k.alt_no) as alt_needs_no_ppx_or
    from {{ ref('stg_grouping_ref__scheme_adrg_cond') }} as k
    join {{ ref('stg_grouping_ref__scheme_adrg') }} as a
      on a.scheme_version = k.scheme_version and a.adrg = k.adrg
    where k.scheme_version = {{ v }}
)

select l.code, k.adrg, k.mdc, k.alt_no, k.cond_no, k.cond_kind, k.n_conds, k.cond_slot, k.alt_needs_ppx_or,
       k.alt_needs_no_ppx_or,
       -- what the ADRG steps test a case against (macro adrg_case_allowed): the MDC as it appears in the case's
       -- dx_mdcs, and the ADRG's age and birth-weight bounds
       ',' || k.mdc || ',' as mdc_token, k.age_days_min, k.age_days_max, k.weight_min, k.weight_max
from cond as k
left join {{ ref('stg_grouping_ref__scheme_adrg_code') }} as l
  on l.scheme_version = {{ v }} and l.adrg = k.adrg and l.list_no = k.list_no
