-- dip-spec §3.4 steps 1–2: the provisional local catalogue of settlement year Y from the selection population
-- (int_dip_build_cases_selected; counts unweighted and untrimmed, all base years together):
-- - core (dx4, ∅): >= core_min_n conservative cases of the dx4;
-- - core (dx4, p): >= core_min_n cases with dx4 and main procedure p;
-- - with related_split, core (dx4, p, R), R ≠ ∅: (dx4, p) is core, >= core_min_n cases have exactly R, and their
--   mean C >= (1 + related_min_uplift) × the mean C of the (dx4, p) cases with R = ∅ (waived without such cases);
-- - comprehensive (dx3, class): every pair present among the cases.
-- selection_mean: the mean C of the cases counted for the key (the tie-break of §4 before any score exists).
-- Codes in the §3.2 grammar from normalised codes. Grain: one row per code; the columns of the catalogue.
{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

selected as (
    select * from {{ ref('int_dip_build_cases_selected') }}
),

conservative as (
    select s.dx4 as dx_key, null::text as main_px, '{}'::text[] as related, count(*) as n, avg(s.total_cost) as mean
    from selected as s
    where s.p_i is null
    group by s.dx4
),

by_main as (
    select s.dx4 as dx_key, s.p_i as main_px, '{}'::text[] as related, count(*) as n, avg(s.total_cost) as mean,
           avg(s.total_cost) filter (where cardinality(s.r_i) = 0) as mean_without_related
    from selected as s
    where s.p_i is not null
    group by s.dx4, s.p_i
),

by_related as (
    select s.dx4 as dx_key, s.p_i as main_px, s.r_i as related, count(*) as n, avg(s.total_cost) as mean
    from selected as s
    where s.p_i is not null and cardinality(s.r_i) > 0
    group by s.dx4, s.p_i, s.r_i
),

core as (
    select c.dx_key, c.main_px, c.related, c.n, c.mean
    from conservative as c cross join params as p
    where c.n >= p.core_min_n
    union all
    select m.dx_key, m.main_px, m.related, m.n, m.mean
    from by_main as m cross join params as p
    where m.n >= p.core_min_n
    union all
    select r.dx_key, r.main_px, r.related, r.n, r.mean
    from by_related as r
    inner join by_main as m on m.dx_key = r.dx_key and m.main_px = r.main_px
    cross join params as p
    where p.related_split
      and m.n >= p.core_min_n
      and r.n >= p.core_min_n
      and (m.mean_without_related is null or r.mean >= (1 + p.related_min_uplift) * m.mean_without_related)
),

comprehensive as (
    select s.dx3 as dx_key, s.class, count(*) as n, avg(s.total_cost) as mean
    from selected as s
    group by s.dx3, s.class
)

select
    dx_key
        || coalesce(':' || main_px, '')
        || case when cardinality(related) > 0 then '_' || array_to_string(related, '+') else '' end as code,
    'core'                                      as group_type,
    dx_key,
    main_px,
    array_to_string(related, '+')               as related_px,
    related,
    null::text                                  as class,
    n                                           as selection_n,
    mean                                        as selection_mean,
    mean                                        as tiebreak
from core

union all

select
    dx_key || ':' || class                      as code,
    'comprehensive'                             as group_type,
    dx_key,
    null::text                                  as main_px,
    ''                                          as related_px,
    '{}'::text[]                                as related,
    class,
    n                                           as selection_n,
    mean                                        as selection_mean,
    mean                                        as tiebreak
from comprehensive
