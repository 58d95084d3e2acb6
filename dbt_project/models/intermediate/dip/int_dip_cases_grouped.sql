-- dip-spec §4: the DIP group of every case of int_dip_cases_coded under settlement year Y's catalogue
-- (int_dip_catalogue_resolved). Grain: one row per case.
-- 1. invalid principal diagnosis → `invalid` (reason invalid_dx);
-- 2. core/basic: the rows of the case's dx4 with no main procedure (a conservative case), or with main procedure
--    p_i and related procedures ⊆ r_i; the most related procedures win, then the higher score (local catalogue:
--    selection mean), then the smaller code (byte order);
-- 3. comprehensive: the row (dx3, the case's class), else (dx3, conservative);
-- 4. otherwise `unmatched` (reason no_group). A case with procedures never falls back to the conservative core row.
-- trace: what a hospital needs to check the result (codes, candidates with |R| and score, the deciding rule).
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, code, group_status)"]) }}

with cases as not materialized (
    select * from {{ ref('int_dip_cases_coded') }}
),

catalogue as (
    select * from {{ ref('int_dip_catalogue_resolved') }}
),

candidates as (
    select
        c.case_key, g.code, g.group_type, cardinality(g.related) as n_related, g.score, g.tiebreak
    from cases as c
    inner join catalogue as g
      on g.dx_key = c.dx4 and g.group_type in ('core', 'basic')
     and ((c.p_i is null and g.main_px is null)
          or (g.main_px = c.p_i and g.related <@ c.r_i))
    where c.dx_valid
),

ranked as (
    select
        case_key,
        -- the winner first: most related procedures, then the higher score / selection mean, then the code
        array_agg(code order by n_related desc, tiebreak desc, code collate "C")        as codes,
        array_agg(group_type order by n_related desc, tiebreak desc, code collate "C")  as types,
        array_agg(n_related order by n_related desc)                                    as sizes,
        string_agg(code || ' (|R| ' || n_related || ', ' || coalesce(round(tiebreak, 4)::text, '-') || ')', '; '
                   order by n_related desc, tiebreak desc, code collate "C")             as listed
    from candidates
    group by case_key
),

core as (
    select
        case_key, codes[1] as code, types[1] as group_type, listed, cardinality(codes) as n_candidates,
        -- candidates with as many related procedures as the winner (> 1: a tie-break decided)
        cardinality(array_positions(sizes, sizes[1]))                                   as n_top
    from ranked
),

comprehensive as (
    select distinct on (c.case_key)
        c.case_key, g.code, g.class
    from cases as c
    inner join catalogue as g
      on g.group_type = 'comprehensive' and g.dx_key = c.dx3
     and g.class in ({{ dip_class_token('c.treatment_class') }}, 'BSZL')
    left join core as k on k.case_key = c.case_key
    where c.dx_valid and k.case_key is null
    order by c.case_key, g.class = {{ dip_class_token('c.treatment_class') }} desc
)

select
    c.case_key, c.hospital_id, c.case_id, c.batch_id, c.source_row, c.region_code, c.year, c.period,
    c.dx, c.dx4, c.dx3, c.p_i, c.r_i, c.treatment_class, {{ dip_class_token('c.treatment_class') }} as class,
    c.px_dropped,
    case when not c.dx_valid then 'invalid'
         when k.code is not null then k.group_type
         when m.code is not null then 'comprehensive'
         else 'unmatched' end                                       as group_status,
    case when not c.dx_valid then 'invalid_dx'
         when k.code is null and m.code is null then 'no_group' end as reason,
    coalesce(k.code, m.code)                                        as code,
    'dx4 ' || coalesce(c.dx4, '-') || ' (principal ' || coalesce(c.dx, '-') || ')'
        || '; 主要操作 p_i ' || coalesce(c.p_i, '- (保守治疗)')
        || '; 相关操作 R_i ' || coalesce(nullif(array_to_string(c.r_i, '+'), ''), '-')
        || '; class ' || {{ dip_class_token('c.treatment_class') }}
        || case when c.px_dropped > 0 then '; ' || c.px_dropped || ' code(s) outside the 医保版 catalogue dropped'
                else '' end
        || case
               when not c.dx_valid then '; 未入组: principal diagnosis not a valid 医保版 code (invalid_dx)'
               when k.code is not null then '; candidates ' || k.listed || '; → ' || k.code
                   || case when k.n_candidates = 1 then ' (only candidate)'
                           when k.n_top = 1 then ' (most related procedures matched)'
                           else ' (tie on related procedures: higher score, then smaller code)' end
               when m.code is not null then '; no core group of ' || c.dx4 || ' matches; comprehensive '
                   || m.code || case when m.class = 'BSZL' and {{ dip_class_token('c.treatment_class') }} <> 'BSZL'
                                     then ' (no ' || c.dx3 || ':' || {{ dip_class_token('c.treatment_class') }}
                                          || ' group: 内科诊疗组)'
                                     else '' end
               else '; 未入组: no core group of ' || c.dx4 || ' and no comprehensive group of ' || c.dx3
                   || ' (no_group)'
           end                                                      as trace
from cases as c
left join core as k on k.case_key = c.case_key
left join comprehensive as m on m.case_key = c.case_key
