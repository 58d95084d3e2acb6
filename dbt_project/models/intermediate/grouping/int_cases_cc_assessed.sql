-- CC/MCC level of each case (drg-dip-reference §2.5): a secondary diagnosis (position ≥ 2; the
-- principal diagnosis is never a secondary) on the MCC or CC list counts unless the principal
-- diagnosis belongs to the same exclusion table (表 7-N) as that code. mcc > cc > none.
-- Only cases with at least one MCC/CC secondary diagnosis get a row.
-- Set-based: the secondary diagnoses are unnested and hash-joined to the CC list (one row per code at
-- most: ref.scheme_cc and ref.scheme_cce are keyed by code), then aggregated per case — about twice as
-- fast as a lateral aggregate per case.
-- A table of its own: it needs only the mapped codes, so dbt builds it in its second thread beside the ADRG
-- steps.
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
-- At least two parallel workers (the folder's pre-hook sets DRGFLOW_GROUPING_WORKERS, default 1; this one runs
-- after it): with one, the planner sorts the unnested codes for the aggregate in the leader (3.4–4.1 s on 1M
-- cases); with two, in the workers (2.1–2.4 s).
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"],
          pre_hook=["set local max_parallel_workers_per_gather = {{ grouping_workers(minimum=2) }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with secondary as (
    select c.case_key, x.pos, x.code, k.cc_level as lvl, k.excl_table as tbl,
           coalesce(k.excl_table = e.excl_table, false) as excluded
    from {{ ref('int_cases_codes_mapped') }} as c
    cross join lateral unnest(c.dx[2:]) with ordinality as x (code, pos)
    join {{ ref('stg_grouping_ref__scheme_cc') }} as k on k.scheme_version = {{ v }} and k.code = x.code
    left join {{ ref('stg_grouping_ref__scheme_cce') }} as e on e.scheme_version = {{ v }} and e.code = c.dx[1]
    where c.check_reason is null and cardinality(c.dx) > 1
)

select
    case_key,
    case when bool_or(lvl = 'mcc' and not excluded) then 'mcc'
         when bool_or(lvl = 'cc' and not excluded) then 'cc'
         else 'none' end as cc_level,
    string_agg(
        upper(lvl) || ' ' || code
        || case when excluded then '（主诊断在排除表 7-' || tbl || '，不计）'
                when tbl is null then '（无排除表）'
                else '（排除表 7-' || tbl || '）' end,
        '；' order by pos) as cc_trace
from secondary
group by case_key
