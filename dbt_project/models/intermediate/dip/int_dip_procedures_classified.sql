-- dip-spec §2.2 step 3 and §2.3: every 医保版 procedure code (normalised) with, under settlement year Y's
-- parameters, whether it is a simple procedure (简单操作) and its treatment class. Grain: one row per code.
-- Simple: the longest prefix of the code found in simple_px_prefixes or simple_px_exceptions decides (a prefix
-- in both lists counts as an exception). Class: the loaded procedure_class.csv, else surgery for an operating-room
-- procedure (SS_VALID of or_list_scheme) of chapters 00–86, else diagnostic for chapters 87–91 and the
-- diagnostic subcategories, else therapeutic. A loaded class text other than 手术/介入治疗/治疗性操作/诊断性操作
-- leaves the code to the later steps.
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

codes as (
    select distinct code_normalised as code from {{ ref('stg_grouping_ref__px_catalogue') }}
),

entries as (
    select e.entry, true as simple
    from params as p cross join unnest(string_to_array(p.simple_px_prefixes, '|')) as e (entry)
    union all
    select e.entry, false as simple
    from params as p cross join unnest(string_to_array(p.simple_px_exceptions, '|')) as e (entry)
),

longest as (
    select distinct on (c.code) c.code, e.simple, e.entry
    from codes as c
    inner join entries as e on left(c.code, length(e.entry)) = e.entry
    order by c.code asc, length(e.entry) desc, e.simple asc
),

or_list as (
    select distinct s.code_normalised as code
    from {{ ref('stg_grouping_ref__scheme_ss_valid') }} as s
    inner join params as p on p.or_list_scheme = s.scheme_version
),

chapters as (
    select code, case when left(code, 2) ~ '^[0-9]{2}$' then left(code, 2)::integer end as chapter from codes
)

select
    c.code,
    coalesce(l.simple, false)                                   as is_simple,
    l.entry                                                     as simple_entry,
    coalesce(pc.treatment_class,
             case when c.chapter <= 86 and o.code is not null then 'surgery'
                  when c.chapter between 87 and 91
                       or left(c.code, 4) = any(string_to_array(p.diagnostic_subcategories, '|'))
                      then 'diagnostic'
                  else 'therapeutic' end)                       as treatment_class,
    case when pc.treatment_class is not null then 'procedure_class.csv: ' || pc.class_text
         when c.chapter <= 86 and o.code is not null then 'SS_VALID of ' || p.or_list_scheme
         when c.chapter between 87 and 91 then 'chapter 87–91'
         when left(c.code, 4) = any(string_to_array(p.diagnostic_subcategories, '|'))
             then 'diagnostic subcategory ' || left(c.code, 4)
         else 'otherwise therapeutic' end                       as class_rule
from chapters as c
cross join params as p
left join longest as l on l.code = c.code
left join {{ ref('stg_raw__procedure_class') }} as pc on pc.code = c.code
left join or_list as o on o.code = c.code
