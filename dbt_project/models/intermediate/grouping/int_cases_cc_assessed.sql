-- CC/MCC level of each case (drg-dip-reference §2.5): a secondary diagnosis (position ≥ 2; the
-- principal diagnosis is never a secondary) on the MCC or CC list counts unless the principal
-- diagnosis belongs to the same exclusion table (表 7-N) as that code. mcc > cc > none.
-- Only cases with at least one MCC/CC secondary diagnosis get a row.
-- Ephemeral: computed inside case_grouping's query, so its per-case text is not written twice.
{{ config(materialized='ephemeral') }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with maps as (
    -- in-memory jsonb lookups: code -> [level, table] and principal code -> exclusion table
    select
        coalesce((select jsonb_object_agg(code, jsonb_build_array(cc_level, excl_table))
                  from {{ source('grouping_ref', 'scheme_cc') }} where scheme_version = {{ v }}), '{}'::jsonb) as cc,
        coalesce((select jsonb_object_agg(code, excl_table)
                  from {{ source('grouping_ref', 'scheme_cce') }} where scheme_version = {{ v }}), '{}'::jsonb) as cce
),

assessed as (
    select c.case_key, a.*
    from {{ ref('int_cases_codes_mapped') }} as c
    cross join maps as mp
    cross join lateral (
        select
            case when bool_or(s.lvl = 'mcc' and not s.excluded) then 'mcc'
                 when bool_or(s.lvl = 'cc' and not s.excluded) then 'cc'
                 else 'none' end as cc_level,
            string_agg(
                upper(s.lvl) || ' ' || s.code
                || case when s.excluded then '（主诊断在排除表 7-' || s.tbl || '，不计）'
                        when s.tbl is null then '（无排除表）'
                        else '（排除表 7-' || s.tbl || '）' end,
                '；' order by s.pos) as cc_trace
        from (
            select x.pos, x.code, e ->> 0 as lvl, (e ->> 1)::integer as tbl,
                   coalesce((e ->> 1)::integer = (mp.cce ->> c.dx[1])::integer, false) as excluded
            from unnest(c.dx[2:]) with ordinality as x (code, pos)
            -- offset 0: look the code up once, not once per use of e (the planner would inline it)
            cross join lateral (select mp.cc -> x.code as e offset 0) as l
            where e is not null
        ) as s
    ) as a
    where c.check_reason is null and cardinality(c.dx) > 1
)

select case_key, cc_level, cc_trace
from assessed
where cc_trace is not null
