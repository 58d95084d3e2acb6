-- settlement-spec §4.2 / §8: bed-day (床日) test on the principal diagnosis (first code of dx_codes), for the
-- cases of settlement year Y and its base years. range rows compare the three-character category, prefix rows
-- the code's start; dots are ignored on both sides (Z51.5 matches Z51.500 and Z515). LOS and group status play
-- no part. One row per bed-day case: the matching category with the lowest priority. Covers the run's cases
-- (int_cases_in_scope: base years and Y, or the month).
{{ config(materialized='view') }}

with p as (
    select * from {{ ref('int_parameters_resolved') }}
),

categories as (
    select k.category, k.priority, k.match_type,
           upper(replace(btrim(k.code_from), '.', '')) as code_from,
           upper(replace(btrim(k.code_to), '.', ''))   as code_to
    from {{ policy_in_force('policy_bed_day_categories', '(select p.settlement_year from p)') }} as k
),

cases as (
    select c.hospital_id, c.case_id, c.settle_year,
           upper(replace(btrim(c.principal_dx), '.', '')) as principal_dx
    from {{ ref('int_cases_in_scope') }} as c
    -- cheap pre-filter: only codes whose first letter starts some category can match
    where upper(left(btrim(c.principal_dx), 1)) in (select left(categories.code_from, 1) from categories)
)

select distinct on (c.hospital_id, c.case_id)
    c.hospital_id,
    c.case_id,
    c.settle_year,
    c.principal_dx,
    k.category as bed_day_category
from cases as c
join categories as k
  on {{ bed_day_matches('c.principal_dx', 'k') }}
order by c.hospital_id, c.case_id, k.priority, k.category
