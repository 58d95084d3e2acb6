-- Cases to group, with diagnosis and procedure codes mapped to the 医保版 catalogue (variant map) in
-- their original order: dx[1] is the principal diagnosis, px[1] the principal procedure
-- (drg-dip-reference §2.2). Codes the map does not know are kept and listed, and make the case
-- ungroupable (诊断/手术操作不能转换为分组器支持的编码).
-- The maps are jsonb constants of the plan (ref.grouping_code_map, sql/10_ref_scheme.sql), so the query runs
-- in parallel workers. Most cases are coded in the catalogue already: one `?&` test (every code maps to
-- itself) lets them through unchanged; only the others are mapped code by code (ref.map_codes).
-- MDC entry (macros/mdc_entry.sql): dx_mdcs lists the MDCs the case enters by its principal diagnosis, one
-- lookup in the 'mdc' map and the MDCs' conditions (MDCM/MDCN sex, MDCP age, MDCZ body regions) as text
-- operations; body_regions, the body regions of its diagnoses, is computed for the few cases whose principal
-- diagnosis is on the MDCZ list. The ADRG steps test an MDC against dx_mdcs: no table of entered MDCs to
-- write and join (1.3M rows for 1M cases).
-- unlogged: rebuilt from staging on every run, so it needs no WAL (crash-safe data is in marts)
-- analyze only what later plans use (the code arrays' statistics are costly and unused)
-- work_mem back to the server's default after the folder's pre-hook raised it: with 256MB the planner hashed the
-- latest-version step in one process and the statement took 11.8 s instead of 7.0 s on 1M cases (2026-12-04)
{{ config(materialized='table', unlogged=true, pre_hook=["set local work_mem to default"],
          post_hook=["analyze {{ this }} (case_key, check_reason, ppx_or)"]) }}

{% set v = "'" ~ var('scheme_version') ~ "'" %}
{% set dx_map = "ref.grouping_code_map('dx', " ~ v ~ ")" %}
{% set px_map = "ref.grouping_code_map('px', " ~ v ~ ")" %}
{% set or_codes = "ref.grouping_code_map('or', " ~ v ~ ")" %}
{#- state of a code list: 2 every code is as the grouper uses it, 1 every code is known to the map, 0 not -#}
{% set state -%}
    case when ref.grouping_code_map('{kind}_same', {{ v }}) ?& c.{kind}_codes then 2
         when ref.grouping_code_map('{kind}', {{ v }}) ?& c.{kind}_codes then 1 else 0 end
{%- endset %}
{% set px_mapped = "case when f.px_state = 2 then c.px_codes else ref.map_codes(c.px_codes, " ~ px_map ~ ") end" %}
{#- 2.0 lists the procedures that are not operating-room procedures: they are dropped before grouping, so the
    principal procedure is the first OR one (drg-dip-reference §2.3 step 0, docs/grouping.md) -#}
{% set drop_non_or = non_or_listed() %}
{% if drop_non_or %}
    {#- the function only for the cases that have a non-OR procedure (one `?|` test for the others) -#}
    {% set non_or = "ref.grouping_code_map('non_or', " ~ v ~ ")" %}
    {% set px_grouped = "case when " ~ non_or ~ " ?| (" ~ px_mapped ~ ") then ref.codes_not_in(" ~ px_mapped ~ ", "
                        ~ non_or ~ ") else " ~ px_mapped ~ " end" %}
{% else %}
    {% set px_grouped = px_mapped %}
{% endif %}
{% set dx_invalid = "ref.grouping_code_map('dx_invalid', " ~ v ~ ")" %}

{% set region_rule = region_mdc() %}
{% set mdc_map = "ref.grouping_code_map('mdc', " ~ v ~ ")" %}

with mapped as not materialized (
select
    -- the raw row's key as one number: unique per case, and no window pass over all cases
    (c.batch_id << 32) + c.source_row                as case_key,
    c.hospital_id,
    c.case_id,
    c.batch_id,
    c.source_row,
    c.sex,
    c.age_years,
    -- an infant without an age in days, or a newborn without a birth weight, fails the record check below;
    -- past 28 days a missing weight counts as 0 g (no weight band applies there)
    c.age_days,
    coalesce(c.birth_weight_g, 0)                     as birth_weight_g,
    case when f.dx_state = 2 then c.dx_codes else ref.map_codes(c.dx_codes, {{ dx_map }}) end as dx,
    {{ px_grouped }}                                  as px,
    -- ppx_or: the principal procedure is an operating-room procedure (SS_VALID); any_or: some procedure is
{%- if drop_non_or %}
    -- (every procedure left is one: some procedure is not on the non-OR list)
    coalesce(cardinality({{ px_mapped }}) > 0 and not {{ non_or }} ?& ({{ px_mapped }}), false) as ppx_or,
    coalesce(cardinality({{ px_mapped }}) > 0 and not {{ non_or }} ?& ({{ px_mapped }}), false) as any_or,
{%- else %}
    coalesce({{ or_codes }} ? ({{ px_mapped }})[1], false) as ppx_or,
    {{ or_codes }} ?| ({{ px_mapped }})               as any_or,
{%- endif %}
    case when f.dx_state = 0 then ref.unknown_codes(c.dx_codes, {{ dx_map }}) end as dx_unknown,
    case when f.px_state = 0 then ref.unknown_codes(c.px_codes, {{ px_map }}) end as px_unknown,
    -- the reference grouper's record check (信息校验): a case failing it is not grouped
    case
        when c.sex is null or c.sex not in (1, 2)   then '信息校验不通过: sex must be 1 or 2'
        when c.age_years is null                     then '信息校验不通过: age_years missing'
        -- drg-dip-reference §2.3 step 0 (validation also rejects these rows: age_days_missing,
        -- newborn_weight_missing; a load with --no-validate still must not group them)
        when c.age_years = 0 and c.age_days is null  then '信息校验不通过: age_days missing under one year'
        when c.age_years = 0 and c.age_days <= 28 and c.birth_weight_g is null
            then '信息校验不通过: birth weight missing for a newborn (≤ 28 days)'
        when cardinality(c.dx_codes) = 0             then '信息校验不通过: no diagnosis'
        when f.dx_state = 0
            then '诊断不能转换为分组器支持的编码: ' || array_to_string(ref.unknown_codes(c.dx_codes, {{ dx_map }}), ',')
        when f.px_state = 0
            then '手术操作不能转换为分组器支持的编码: ' || array_to_string(ref.unknown_codes(c.px_codes, {{ px_map }}), ',')
        -- 2.0 zd_invalid (drg-dip-reference §2.3 step 0; empty for 1.x)
        when {{ dx_invalid }} ? (case when f.dx_state = 2 then c.dx_codes[1]
                                      else {{ dx_map }} ->> c.dx_codes[1] end)
            then '编码不规范：主要诊断无效 (not allowed as principal diagnosis): ' || c.dx_codes[1]
    end                                               as check_reason
from {{ ref('stg_raw__cases') }} as c
-- the two states, once per case: a function scan is evaluated once and runs in the parallel workers (a
-- subquery fenced with offset 0 would not, and an unfenced expression is repeated at every use)
cross join lateral unnest(array[{{ state.replace('{kind}', 'dx') }}], array[{{ state.replace('{kind}', 'px') }}])
    as f (dx_state, px_state)
)

select m.*, e.dx_mdcs, r.body_regions
from mapped as m
-- each a function scan, so evaluated once per case (see the states above)
cross join lateral unnest(array[{{ mdc_listed(mdc_map ~ ' ->> m.dx[1]', 'm.dx') }}]) as l (listed)
cross join lateral unnest(array[
{%- if region_rule %}
    case when strpos(l.listed, ',{{ region_rule.mdc }},') > 0
         then ref.body_regions(m.dx, ref.grouping_code_map('region', {{ v }}), '{{ region_rule.mdc }}') end
{%- else %} null::text
{%- endif %}]) as r (body_regions)
cross join lateral unnest(array[
    {{ dx_mdcs_entered('l.listed', 'm', "string_to_array(r.body_regions, chr(31))") }}
]) as e (dx_mdcs)
