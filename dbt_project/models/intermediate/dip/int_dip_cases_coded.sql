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
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, year, dx4, dx3)"]) }}

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
        c.px_codes
    from {{ ref('stg_raw__cases') }} as c
    inner join params as p on c.region_code = any(p.dip_regions)
    where c.settle_year is not null
),

procedures as (
    select
        c.case_key,
        u.pos,
        upper(coalesce(v.listed_code, u.code))            as code
    from cases as c
    cross join lateral unnest(c.px_codes) with ordinality as u (code, pos)
    left join {{ ref('stg_grouping_ref__px_variant_map') }} as v on v.variant = u.code
),

first_seen as (
    -- each catalogue code at its first position; codes outside the catalogue counted
    select
        s.case_key,
        s.code,
        a.is_simple,
        min(s.pos)                                        as pos,
        count(*)                                          as n
    from procedures as s
    left join {{ ref('int_dip_procedures_classified') }} as a on a.code = s.code
    group by s.case_key, s.code, a.is_simple
),

procedure_lists as (
    select
        case_key,
        array_agg(code order by pos) filter (where is_simple is not null)       as px_codes,
        array_agg(is_simple order by pos) filter (where is_simple is not null)  as px_simple,
        coalesce(sum(n) filter (where is_simple is null), 0)::integer           as px_dropped
    from first_seen
    group by case_key
),

principal as (
    select
        c.case_key,
        upper(coalesce(v.listed_code, c.principal_code))  as dx
    from cases as c
    left join {{ ref('stg_grouping_ref__dx_variant_map') }} as v on v.variant = c.principal_code
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
    order by c.case_key, k.priority, k.category
)

select
    c.case_key,
    {{- select_columns('c', case_key_columns() + ['region_code', 'year', 'period', 'total_cost', 'fund_paid',
                                                 'personal_paid', 'los_days', 'age_years', 'age_days',
                                                 'discharge_way', 'drug_cost', 'material_cost']) }}
    h.level,
    h.hospital_type,
    d.dx,
    left(d.dx, 5)                                              as dx4,
    left(d.dx, 3)                                              as dx3,
    coalesce(substr(d.dx, 4, 1) = '.' and k.code_normalised is not null, false) as dx_valid,
    coalesce(l.px_codes, '{}')::text[]                         as px_codes,
    coalesce(l.px_simple, '{}')::boolean[]                     as px_simple,
    coalesce(l.px_dropped, 0)                                  as px_dropped,
    b.category                                                 as bed_day_category
from cases as c
inner join principal as d on d.case_key = c.case_key
left join (select distinct code_normalised from {{ ref('stg_grouping_ref__dx_catalogue') }}) as k
  on k.code_normalised = d.dx
left join procedure_lists as l on l.case_key = c.case_key
left join bed_day as b on b.case_key = c.case_key
left join {{ ref('stg_raw__hospitals') }} as h on h.hospital_id = c.hospital_id
