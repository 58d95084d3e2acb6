-- settlement-spec §3 / §8: hospital_coefficients has a row for every registry hospital × every DRG with base
-- points of the settlement year, and every coefficient lies within [coef_min, coef_max].
{{ config(severity='error', tags=['severity_error', 'invariant']) }}

with p as (select * from {{ ref('int_parameters_resolved') }}),

expected as (
    select h.hospital_id, b.drg
    from {{ ref('stg_raw__hospitals') }} as h
    cross join {{ ref('drg_base_points') }} as b
    where b.settlement_year = (select settlement_year from p) and b.base_points is not null
),

actual as (
    select * from {{ ref('hospital_coefficients') }} where settlement_year = (select settlement_year from p)
)

select e.hospital_id, e.drg, 'missing' as problem
from expected as e
left join actual as a using (hospital_id, drg)
where a.drg is null
union all
select a.hospital_id, a.drg, 'out of clamp'
from actual as a cross join p
where a.coefficient < round(p.coef_min, 4) or a.coefficient > round(p.coef_max, 4)
