-- DIP parameters a bureau loaded (dip_parameters.csv: settlement_year, parameter, value; dip-spec §11), one row
-- per loaded row, checked against the defaults seed: `problem` names what is wrong with the row (unknown
-- parameter, a value that does not parse as the parameter's type), null for a usable row. The last row per
-- (settlement_year, parameter) wins (`is_latest`); it applies to that settlement year only.
with loaded as (
    select
        p.batch_id,
        p.source_row,
        {{ to_int('p.settlement_year') }}            as settlement_year,
        btrim(p.parameter)                           as parameter,
        btrim(coalesce(p.value, ''))                 as value,
        d.value_type
    from {{ source('raw', 'dip_parameters') }} as p
    left join {{ ref('dip_parameter_defaults') }} as d on d.parameter = btrim(p.parameter)
)

select
    l.batch_id,
    l.source_row,
    b.file_name,
    l.settlement_year,
    l.parameter,
    l.value,
    l.value_type,
    {{ parameter_problem('l', 'dip-spec §11') }} as problem,
    row_number() over (partition by l.settlement_year, l.parameter
                       order by l.batch_id desc, l.source_row desc) = 1 as is_latest
from loaded as l
left join {{ source('audit', 'batches') }} as b on b.batch_id = l.batch_id
