-- CC/MCC level of each case (drg-dip-reference §2.5): a secondary diagnosis (position ≥ 2; the
-- principal diagnosis is never a secondary) on the MCC or CC list counts unless the principal
-- diagnosis belongs to the same exclusion table (表 7-N) as that code. mcc > cc > none.
{{ config(materialized='table', pre_hook=["set local work_mem = '256MB'"], post_hook=["analyze {{ this }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with secondary as (
    select c.case_key, x.code, x.pos, cc.cc_level, cc.excl_table,
           p.excl_table as principal_table,
           coalesce(p.excl_table = cc.excl_table, false) as excluded
    from {{ ref('int_cases_codes_mapped') }} as c
    cross join lateral unnest(c.dx[2:]) with ordinality as x (code, pos)
    join {{ source('grouping_ref', 'scheme_cc') }} as cc
      on cc.scheme_version = {{ v }} and cc.code = x.code
    left join {{ source('grouping_ref', 'scheme_cce') }} as p
      on p.scheme_version = {{ v }} and p.code = c.dx[1]
    where c.check_reason is null and cardinality(c.dx) > 1
)

select
    case_key,
    case when bool_or(cc_level = 'mcc' and not excluded) then 'mcc'
         when bool_or(cc_level = 'cc' and not excluded) then 'cc'
         else 'none' end as cc_level,
    string_agg(
        upper(cc_level) || ' ' || code
        || case when excluded then '（主诊断在排除表 7-' || excl_table || '，不计）'
                when excl_table is null then '（无排除表）'
                else '（排除表 7-' || excl_table || '）' end,
        '；' order by pos) as cc_trace
from secondary
group by case_key
