-- dip-spec §2: every accepted case of the DIP regions of settlement year Y (all years with cases), with its codes
-- as DIP groups them. Grain: one row per case (latest accepted version, staging.stg_raw__cases).
-- - principal diagnosis: the first code of dx_codes through the variant map (exact match), upper-cased; dx4 its
--   first 5 characters (亚目), dx3 its first 3 (类目); valid when in the 医保版 catalogue with '.' 4th (§2.1).
-- - procedures (§2.2): through the variant map, upper-cased; codes outside the 医保版 catalogue dropped and
--   counted (px_dropped); simple procedures dropped unless a procedure part of Y's catalogue uses the code
--   (int_dip_catalogue_resolved); repeats dropped keeping the first. p_i = the first code left, r_i the others in
--   byte order. A case with no code left is conservative (保守治疗).
-- - class (§2.3): the class of p_i, or conservative.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, dx4, dx3, p_i)"]) }}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

cases as not materialized (
    select
        (c.batch_id << 32) + c.source_row                 as case_key,
        c.hospital_id, c.case_id, c.batch_id, c.source_row, c.region_code,
        c.settle_year                                     as year,
        c.settle_period                                   as period,
        c.dx_codes[1]                                     as principal_code,
        c.px_codes
    from {{ ref('stg_raw__cases') }} as c
    inner join params as p on c.region_code = any(p.dip_regions)
    where c.settle_year is not null
),

protected as (
    select distinct x.code
    from {{ ref('int_dip_catalogue_resolved') }} as g
    cross join lateral unnest(array[g.main_px] || g.related) as x (code)
    where x.code is not null
),

procedures as (
    select
        c.case_key,
        u.pos,
        upper(coalesce(v.code, u.code))                   as code
    from cases as c
    cross join lateral unnest(c.px_codes) with ordinality as u (code, pos)
    left join {{ ref('stg_grouping_ref__px_variant_map') }} as v on v.variant = u.code
),

procedures_kept as (
    select
        s.case_key,
        count(*) filter (where a.code is null)                    as px_dropped,
        -- the codes left, each at its first position, in the case's order
        array_agg(s.code order by s.pos) filter (
            where a.code is not null and (not a.is_simple or pr.code is not null)
        )                                                         as kept
    from procedures as s
    left join {{ ref('int_dip_procedures_classified') }} as a on a.code = s.code
    left join protected as pr on pr.code = s.code
    group by s.case_key
),

canonical as (
    select
        k.case_key,
        k.px_dropped,
        d.codes
    from procedures_kept as k
    cross join lateral (
        select array_agg(x.code order by x.first_pos) as codes
        from (select u.code, min(u.pos) as first_pos
              from unnest(k.kept) with ordinality as u (code, pos) group by u.code) as x
    ) as d
),

principal as (
    select
        c.case_key,
        upper(coalesce(v.code, c.principal_code))         as dx
    from cases as c
    left join {{ ref('stg_grouping_ref__dx_variant_map') }} as v on v.variant = c.principal_code
)

select
    c.case_key, c.hospital_id, c.case_id, c.batch_id, c.source_row, c.region_code, c.year, c.period,
    d.dx,
    left(d.dx, 5)                                              as dx4,
    left(d.dx, 3)                                              as dx3,
    coalesce(substr(d.dx, 4, 1) = '.' and k.code_normalised is not null, false) as dx_valid,
    n.codes[1]                                                 as p_i,
    coalesce((select array_agg(r.code order by r.code collate "C")
              from unnest(n.codes[2:]) as r (code)), '{}')::text[] as r_i,
    case when n.codes[1] is null then 'conservative' else a.treatment_class end as treatment_class,
    coalesce(n.px_dropped, 0)::integer                        as px_dropped
from cases as c
inner join principal as d on d.case_key = c.case_key
left join (select distinct code_normalised from {{ ref('stg_grouping_ref__dx_catalogue') }}) as k
  on k.code_normalised = d.dx
left join canonical as n on n.case_key = c.case_key
left join {{ ref('int_dip_procedures_classified') }} as a on a.code = n.codes[1]
