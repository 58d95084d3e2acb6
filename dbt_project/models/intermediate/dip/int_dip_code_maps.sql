-- The code maps DIP reads per case, as jsonb objects (one row per kind), so that int_dip_cases_coded looks codes up
-- in plan constants (ref.dip_code_map(kind), sql/40_ref_dip.sql) rather than joining millions of code rows:
--   dx_variant / px_variant  variant → code as the map files write them (dip-spec §12: applied once, exact match)
--   dx_valid                 the normalised 医保版 diagnosis codes with '.' 4th (§2.1); value 1
--   px_class                 every normalised 医保版 procedure code → its treatment class (§2.3)
--   px_drop                  the simple procedures (§2.2 step 3) a case drops: all of them, but those a procedure
--                            part of Y's imported catalogue uses. A local catalogue protects nothing: it is built
--                            with every simple procedure dropped (§12), so none can be a procedure part of it.
{{ config(materialized='table') }}

with params as (
    select * from {{ ref('int_dip_parameters_resolved') }}
),

protected as (
    select distinct x.code
    from {{ ref('stg_dip_ref__catalogue_published') }} as g
    inner join params as p on p.settlement_year = g.settlement_year and p.catalogue_source = 'import'
    cross join lateral unnest(array[g.main_px] || string_to_array(nullif(g.related_px, ''), '+')) as x (code)
    where x.code is not null
)

select 'dx_variant' as kind, coalesce(jsonb_object_agg(variant, listed_code), '{}'::jsonb) as code_map
from {{ ref('stg_grouping_ref__dx_variant_map') }}
where listed_code is not null

union all

select 'px_variant' as kind, coalesce(jsonb_object_agg(variant, listed_code), '{}'::jsonb) as code_map
from {{ ref('stg_grouping_ref__px_variant_map') }}
where listed_code is not null

union all

select 'dx_valid' as kind, coalesce(jsonb_object_agg(code_normalised, 1), '{}'::jsonb) as code_map
from {{ ref('stg_grouping_ref__dx_catalogue') }}
where substr(code_normalised, 4, 1) = '.'

union all

select 'px_class' as kind, coalesce(jsonb_object_agg(code, treatment_class), '{}'::jsonb) as code_map
from {{ ref('int_dip_procedures_classified') }}

union all

select 'px_drop' as kind, coalesce(jsonb_object_agg(c.code, 1), '{}'::jsonb) as code_map
from {{ ref('int_dip_procedures_classified') }} as c
where c.is_simple and c.code not in (select p.code from protected as p)
