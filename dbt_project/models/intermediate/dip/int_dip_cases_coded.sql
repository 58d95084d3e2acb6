-- dip-spec §2: every accepted case of the DIP regions of settlement year Y (all years with cases), with its codes
-- as DIP groups them and what the statistics need. Grain: one row per case (latest accepted version,
-- staging.stg_raw__cases).
-- - principal diagnosis: the first code of dx_codes through the variant map file as written (exact match, applied
--   once, dip-spec §12; a catalogue code the file lists moves too), upper-cased; dx4 its first 5 characters (亚目),
--   dx3 its first 3 (类目); valid when in the 医保版 catalogue with '.' 4th (§2.1).
-- - procedures (§2.2): through the variant map file likewise, upper-cased; codes outside the 医保版 catalogue dropped
--   and counted (px_dropped); simple procedures dropped unless Y's imported catalogue uses them (px_drop map);
--   repeats dropped keeping the first. p_i = the first code left, r_i the others in byte order. A case with no code
--   left is conservative (保守治疗). treatment_class: the class of p_i (§2.3), or conservative; class its token.
-- - bed_day_category: the settlement-spec §4.2 bed-day category of the principal diagnosis (as the DRG side).
-- Speed: one pass over the cases in parallel workers; codes are looked up in jsonb plan constants
-- (ref.dip_code_map over int_dip_code_maps) and the bed-day categories are constants: no join of code rows, no
-- second pass; most cases pass a test of operators only and keep their list as it is.
-- depends_on: {{ ref('int_dip_code_maps') }}, {{ ref('policy_bed_day_categories') }}
{{ config(materialized='table', unlogged=true,
          post_hook=["analyze {{ this }} (case_key, year, dx4, dx3, p_i, dx_valid)"]) }}

{%- set dx_variant = "ref.dip_code_map('dx_variant')" %}
{%- set px_variant = "ref.dip_code_map('px_variant')" %}
{%- set px_class = "ref.dip_code_map('px_class')" %}
{%- set px_drop = "ref.dip_code_map('px_drop')" %}
{#- the bed-day categories of Y (settlement-spec §4.2), read when the model runs: a CASE of constants per case, so
    no second pass over the cases joins them #}
{%- set categories = [] %}
{%- if execute %}
{%- set year_sql = (var('settlement_year') | int | string) if var('settlement_year') is not none else 'null' %}
{%- set found = run_query("select k.category, k.match_type, upper(replace(btrim(k.code_from), '.', '')),"
    ~ " upper(replace(btrim(k.code_to), '.', '')) from "
    ~ policy_in_force('policy_bed_day_categories', year_sql) ~ " as k order by k.priority, k.category") %}
{%- for r in found.rows %}
{%- do categories.append({'category': r[0], 'match_type': r[1], 'code_from': r[2], 'code_to': r[3]}) %}
{%- endfor %}
{%- endif %}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
)

select
    (c.batch_id << 32) + c.source_row                          as case_key,
    {{- select_columns('c', case_key_columns() + ['region_code']) }}
    c.settle_year                                              as year,
    c.settle_period                                            as period,
    {{- select_columns('c', ['total_cost', 'fund_paid', 'personal_paid', 'los_days', 'age_years', 'age_days',
                            'discharge_way']) }}
    coalesce(c.fee_western_drug, 0) + coalesce(c.fee_chinese_patent, 0) + coalesce(c.fee_herbal, 0) as drug_cost,
    coalesce(c.fee_material, 0)                                as material_cost,
    h.level,
    h.hospital_type,
    d.dx,
    left(d.dx, 5)                                              as dx4,
    left(d.dx, 3)                                              as dx3,
    coalesce(ref.dip_code_map('dx_valid') ? d.dx, false)       as dx_valid,
    nullif(k.kept[1], '')                                      as p_i,
    case when cardinality(k.kept) <= 2 then coalesce(k.kept[2:], '{}')
         else ref.codes_sorted(k.kept[2:]) end                 as r_i,
    case when k.kept = '{}' then 'conservative' else {{ px_class }} ->> k.kept[1] end as treatment_class,
    {{ dip_class_token("case when k.kept = '{}' then 'conservative' else " ~ px_class ~ " ->> k.kept[1] end") }}
                                                               as class,
    case when f.fast then 0 else ref.dip_unknown_count(c.px_codes, {{ px_variant }}, {{ px_class }}) end
                                                               as px_dropped,
    {{ bed_day_case("upper(replace(btrim(c.dx_codes[1]), '.', ''))", categories) }} as bed_day_category
from {{ ref('stg_raw__cases') }} as c
left join {{ ref('stg_raw__hospitals') }} as h on h.hospital_id = c.hospital_id
-- function scans, each evaluated once per case (no subquery: a correlated subquery would keep the projection out
-- of the parallel workers). fast: a list of up to 8 whose codes, mapped and upper-cased, are all catalogue codes,
-- none simple and none repeated, is kept as it is; the others take
-- ref.dip_kept_procedures (sql/40_ref_dip.sql).
cross join lateral unnest(array[upper(coalesce({{ dx_variant }} ->> c.dx_codes[1], c.dx_codes[1]))]) as d (dx)
-- mapped: the codes of a list of up to 8 through the variant map once and upper-cased ('|'-joined; the 医保版
-- catalogue writes a lower-case x, the maps hold normalised codes), as expressions; null for a longer list
cross join lateral unnest(array[
    case when cardinality(c.px_codes) <= 8 then array_to_string((array[
    {%- for i in range(1, 9) %}
        upper(coalesce({{ px_variant }} ->> c.px_codes[{{ i }}], c.px_codes[{{ i }}])){{ ',' if not loop.last }}
    {%- endfor %}
    ])[1:cardinality(c.px_codes)], '|') end
]) as mp (codes)
cross join lateral unnest(array[
    mp.codes is not null
    and {{ px_class }} ?& string_to_array(mp.codes, '|')
    and not {{ px_drop }} ?| string_to_array(mp.codes, '|')
{%- for i in range(2, 9) %}
    and coalesce((string_to_array(mp.codes, '|'))[{{ i }}]
                 <> all((string_to_array(mp.codes, '|'))[1:{{ i - 1 }}]), true)
{%- endfor %}
]) as f (fast)
cross join lateral unnest(array[
    case when f.fast then mp.codes
         else ref.dip_kept_procedures(c.px_codes, {{ px_variant }}, {{ px_class }}, {{ px_drop }}) end
]) as t (kept_text)
cross join lateral (select string_to_array(t.kept_text, '|') as kept) as k
where c.settle_year is not null
  and c.region_code = any(string_to_array((select p.dip_regions from params as p), '|'))
