{# dip-spec §4: the DIP grouping of the cases of relation `cases` (int_dip_cases_coded's columns: dx4, dx3,
   dx_valid, p_i, r_i, class) against the catalogue relation `catalogue` (int_dip_catalogue_resolved's columns), as one select statement:
   every case column, then group_status, reason, code, trace. One macro for the year's grouping
   (int_dip_cases_grouped) and the local build's passes, so they cannot differ.
   1. invalid principal diagnosis → invalid (invalid_dx);
   2. core/basic: rows of the case's dx4 with no main procedure (a conservative case), or with main procedure p_i
      and related ⊆ r_i; the most related procedures win, then the higher tiebreak (score; a local catalogue's
      selection mean), then the smaller code (byte order);
   3. comprehensive: (dx3, the case's class), else (dx3, conservative);
   4. otherwise unmatched (no_group). A case with procedures never falls back to the conservative core row. #}
{% macro dip_grouping(cases, catalogue) %}
with g_catalogue as (
    select * from {{ catalogue }}
),

g_candidates as (
    select c.case_key, g.code, g.group_type, cardinality(g.related) as n_related, g.tiebreak
    from {{ cases }} as c
    inner join g_catalogue as g
      on g.dx_key = c.dx4 and g.group_type in ('core', 'basic')
     and ((c.p_i is null and g.main_px is null) or (g.main_px = c.p_i and g.related <@ c.r_i))
    where c.dx_valid
),

g_core as (
    select
        case_key,
        (array_agg(code order by n_related desc, tiebreak desc, code collate "C"))[1]       as code,
        (array_agg(group_type order by n_related desc, tiebreak desc, code collate "C"))[1] as group_type,
        string_agg(code || ' (|R| ' || n_related || ', ' || coalesce(round(tiebreak, 4)::text, '-') || ')', ' / '
                   order by n_related desc, tiebreak desc, code collate "C")              as listed,
        count(*)                                                                          as n_candidates,
        -- candidates with as many related procedures as the winner (> 1: a tie-break decided)
        cardinality(array_positions(array_agg(n_related order by n_related desc),
                                    max(n_related)))                                      as n_top
    from g_candidates
    group by case_key
),

g_comprehensive as (
    select distinct on (c.case_key) c.case_key, g.code, g.class
    from {{ cases }} as c
    inner join g_catalogue as g
      on g.group_type = 'comprehensive' and g.dx_key = c.dx3 and g.class in (c.class, 'BSZL')
    where c.dx_valid
      and not exists (select 1 from g_core as k where k.case_key = c.case_key)
    order by c.case_key, g.class = c.class desc
)

select
    c.*,
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
        || '; class ' || c.class
        || case when c.px_dropped > 0 then '; ' || c.px_dropped || ' code(s) outside the 医保版 catalogue dropped'
                else '' end
        || case
               when not c.dx_valid then '; 未入组: principal diagnosis not a valid 医保版 code (invalid_dx)'
               when k.code is not null then '; candidates ' || k.listed || '; → ' || k.code
                   || case when k.n_candidates = 1 then ' (only candidate)'
                           when k.n_top = 1 then ' (most related procedures matched)'
                           else ' (tie on related procedures: higher score, then smaller code)' end
               when m.code is not null then '; no core group of ' || c.dx4 || ' matches; comprehensive '
                   || m.code || case when m.class = 'BSZL' and c.class <> 'BSZL'
                                     then ' (no ' || c.dx3 || ':' || c.class || ' group: 内科诊疗组)' else '' end
               else '; 未入组: no core group of ' || c.dx4 || ' and no comprehensive group of ' || c.dx3
                   || ' (no_group)'
           end                                                      as trace
from {{ cases }} as c
left join g_core as k on k.case_key = c.case_key
left join g_comprehensive as m on m.case_key = c.case_key
{% endmacro %}
