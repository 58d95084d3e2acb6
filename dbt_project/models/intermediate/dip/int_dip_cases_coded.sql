-- dip-spec §2: every accepted case of the DIP regions of settlement year Y (all years with cases), with its codes
-- as DIP reads them and what the statistics need. Grain: one row per case (latest accepted version,
-- staging.stg_raw__cases).
-- - principal diagnosis: the first code of dx_codes through the variant map file as written (listed_code: exact
--   match, applied once, dip-spec §12; a catalogue code the file lists moves too), upper-cased; dx4 its
--   first 5 characters (亚目), dx3 its first 3 (类目); valid when in the 医保版 catalogue with '.' 4th (§2.1).
-- - procedures (§2.2 steps 1, 2, 4): through the variant map file likewise, upper-cased; codes outside the 医保版 catalogue
--   dropped and counted (px_dropped); repeats dropped keeping the first. px_codes keeps the order, px_simple flags
--   the simple procedures (简单操作): step 3 depends on the catalogue (a simple code a procedure part of the
--   catalogue uses is kept), so the grouping applies it (macro dip_canonical_procedures).
-- - bed_day_category: the settlement-spec §4.2 bed-day category of the principal diagnosis (as the DRG side).
-- Speed: one pass over the cases, the codes looked up in jsonb plan constants (ref.dip_code_map over
-- int_dip_code_maps), no join of code rows, so the statement runs in parallel workers.
-- depends_on: {{ ref('int_dip_code_maps') }}
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, year, dx4, dx3)"]) }}

{%- set dx_variant = "ref.dip_code_map('dx_variant')" %}
{%- set px_variant = "ref.dip_code_map('px_variant')" %}
{%- set px_simple = "ref.dip_code_map('px_simple')" %}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

cases as not materialized (
    select
        (c.batch_id << 32) + c.source_row                 as case_key,
        {{- select_columns('c', case_key_columns() + ['region_code', 'total_cost', 'fund_paid', 'personal_paid',
                                                     'los_days', 'age_years', 'age_days', 'discharge_way']) }}
        c.settle_year                                     as year,
        c.settle_period                                   as period,
        coalesce(c.fee_western_drug, 0) + coalesce(c.fee_chinese_patent, 0) + coalesce(c.fee_herbal, 0) as drug_cost,
        coalesce(c.fee_material, 0)                       as material_cost,
        c.dx_codes[1]                                     as principal_code,
        upper(coalesce({{ dx_variant }} ->> c.dx_codes[1], c.dx_codes[1])) as dx,
        -- the procedure codes through the map, upper-cased, in the case's order
        array(select upper(coalesce({{ px_variant }} ->> u.code, u.code))
              from unnest(c.px_codes) with ordinality as u (code, pos) order by u.pos) as px_mapped
    from {{ ref('stg_raw__cases') }} as c
    where c.settle_year is not null
      and c.region_code = any(string_to_array((select p.dip_regions from params as p), '|'))
),

bed_day_categories as (
    select k.category, k.priority, k.match_type,
           upper(replace(btrim(k.code_from), '.', '')) as code_from,
           upper(replace(btrim(k.code_to), '.', ''))   as code_to
    from {{ policy_in_force('policy_bed_day_categories', '(select p.settlement_year from params as p)') }} as k
),

bed_day as (
    select distinct on (c.case_key) c.case_key, k.category
    from cases as c
    inner join bed_day_categories as k
      on {{ bed_day_matches("upper(replace(btrim(c.principal_code), '.', ''))", 'k') }}
    -- cheap pre-filter: only codes whose first letter starts some category can match
    where upper(left(btrim(c.principal_code), 1)) in (select left(b.code_from, 1) from bed_day_categories as b)
    order by c.case_key, k.priority, k.category
)

select
    c.case_key,
    {{- select_columns('c', case_key_columns() + ['region_code', 'year', 'period', 'total_cost', 'fund_paid',
                                                 'personal_paid', 'los_days', 'age_years', 'age_days',
                                                 'discharge_way', 'drug_cost', 'material_cost']) }}
    h.level,
    h.hospital_type,
    c.dx,
    left(c.dx, 5)                                              as dx4,
    left(c.dx, 3)                                              as dx3,
    coalesce(ref.dip_code_map('dx_valid') ? c.dx, false)       as dx_valid,
    -- catalogue codes at their first position (§2.2 steps 2, 4), with their simple flags
    coalesce(array(select u.code from unnest(c.px_mapped) with ordinality as u (code, pos)
                   where {{ px_simple }} ? u.code and array_position(c.px_mapped, u.code) = u.pos
                   order by u.pos), '{}')::text[]              as px_codes,
    coalesce(array(select ({{ px_simple }} ->> u.code)::boolean from unnest(c.px_mapped) with ordinality as u (code, pos)
                   where {{ px_simple }} ? u.code and array_position(c.px_mapped, u.code) = u.pos
                   order by u.pos), '{}')::boolean[]           as px_simple,
    (select count(*) from unnest(c.px_mapped) as u (code) where not {{ px_simple }} ? u.code)::integer as px_dropped,
    b.category                                                 as bed_day_category
from cases as c
left join bed_day as b on b.case_key = c.case_key
left join {{ ref('stg_raw__hospitals') }} as h on h.hospital_id = c.hospital_id
