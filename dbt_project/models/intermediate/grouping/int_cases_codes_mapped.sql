-- Cases to group, with diagnosis and procedure codes mapped to the 医保版 catalogue (variant map) in
-- their original order: dx[1] is the principal diagnosis, px[1] the principal procedure
-- (drg-dip-reference §2.2). Codes the map does not know are kept and listed, and make the case
-- ungroupable (诊断/手术操作不能转换为分组器支持的编码).
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}

with cases as (
    select
        -- the raw row's key as one number: unique per case, and no window pass over all cases
        (batch_id << 32) + source_row as case_key,
        hospital_id, case_id, sex, age_years, age_days, birth_weight_g, dx_codes, px_codes
    from {{ ref('stg_raw__cases') }}
),

scheme_dx as (
    -- codes the scheme itself lists are grouped as coded, never remapped (the pack has a few
    -- non-catalogue codes, e.g. P78.300x004 on the MDCP list, that the variant map sends elsewhere)
    select code from {{ source('grouping_ref', 'scheme_mdc_dx') }} where scheme_version = {{ v }}
    union
    select code from {{ source('grouping_ref', 'scheme_adrg_code') }} where scheme_version = {{ v }}
    union
    select code from {{ source('grouping_ref', 'scheme_cc') }} where scheme_version = {{ v }}
    union
    select code from {{ source('grouping_ref', 'scheme_cce') }} where scheme_version = {{ v }}
),

scheme_px as (
    select code from {{ source('grouping_ref', 'scheme_adrg_code') }} where scheme_version = {{ v }}
    union
    select code from {{ source('grouping_ref', 'scheme_ss_valid') }} where scheme_version = {{ v }}
),

maps as (
    -- the maps as in-memory jsonb objects: a key lookup per code is ~3x faster than an index probe
    select
        coalesce((select jsonb_object_agg(variant, code) from (
                      select variant, code from {{ source('grouping_ref', 'dx_variant_map') }}
                      where variant not in (select code from scheme_dx)
                      union all
                      select code, code from scheme_dx) as m), '{}'::jsonb) as dxm,
        coalesce((select jsonb_object_agg(variant, code) from (
                      select variant, code from {{ source('grouping_ref', 'px_variant_map') }}
                      where variant not in (select code from scheme_px)
                      union all
                      select code, code from scheme_px) as m), '{}'::jsonb) as pxm,
        coalesce((select jsonb_object_agg(code, true) from {{ source('grouping_ref', 'scheme_ss_valid') }}
                  where scheme_version = {{ v }}), '{}'::jsonb) as ss
)

select
    c.case_key,
    c.hospital_id,
    c.case_id,
    c.sex,
    c.age_years,
    -- as the reference grouper reads a case file: a missing age in days of an infant counts as 0 days,
    -- a missing birth weight as 0 g (so the weight bands PS1–PS4 fail rather than the whole case)
    case when c.age_years = 0 then coalesce(c.age_days, 0) else c.age_days end as age_days,
    coalesce(c.birth_weight_g, 0)          as birth_weight_g,
    coalesce(dx.codes, array[]::text[])   as dx,
    coalesce(px.codes, array[]::text[])   as px,
    coalesce(px.ppx_or, false)             as ppx_or,
    coalesce(px.any_or, false)             as any_or,
    dx.unknown                             as dx_unknown,
    px.unknown                             as px_unknown,
    -- the reference grouper's record check (信息校验): a case failing it is not grouped
    case
        when c.sex is null or c.sex not in (1, 2)   then '信息校验不通过: sex must be 1 or 2'
        when c.age_years is null                     then '信息校验不通过: age_years missing'
        when cardinality(c.dx_codes) = 0             then '信息校验不通过: no diagnosis'
        when dx.unknown is not null then '诊断不能转换为分组器支持的编码: ' || array_to_string(dx.unknown, ',')
        when px.unknown is not null then '手术操作不能转换为分组器支持的编码: ' || array_to_string(px.unknown, ',')
    end                                    as check_reason
from cases as c
cross join maps as mp
cross join lateral (
    select array_agg(coalesce(mp.dxm ->> u.code, u.code) order by u.pos)      as codes,
           array_agg(u.code order by u.pos) filter (where not mp.dxm ? u.code) as unknown
    from unnest(c.dx_codes) with ordinality as u (code, pos)
) as dx
cross join lateral (
    -- ppx_or: the principal procedure is an operating-room procedure (SS_VALID); any_or: some procedure is
    select array_agg(p.code order by p.pos)                              as codes,
           array_agg(p.raw order by p.pos) filter (where not p.known)    as unknown,
           bool_or(mp.ss ? p.code) filter (where p.pos = 1)              as ppx_or,
           bool_or(mp.ss ? p.code)                                       as any_or
    from (
        select u.pos, u.code as raw, mp.pxm ? u.code as known, coalesce(mp.pxm ->> u.code, u.code) as code
        from unnest(c.px_codes) with ordinality as u (code, pos)
    ) as p
) as px
