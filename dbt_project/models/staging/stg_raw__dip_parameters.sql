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
    case
        when l.settlement_year is null then 'settlement_year is not a year'
        when l.value_type is null then 'unknown parameter ' || coalesce(l.parameter, '(empty)') || ' (dip-spec §11)'
        when l.value = '' then null
        when l.value_type = 'integer' and l.value !~ '^[0-9]+$' then 'not a whole number: ' || l.value
        when l.value_type = 'numeric' and not pg_input_is_valid(l.value, 'numeric') then 'not a number: ' || l.value
        when l.value_type = 'boolean' and lower(l.value) not in ('true', 'false') then 'not true/false: ' || l.value
        when l.value_type = 'map' and l.value !~ '^[^:|]+:[0-9.]+(\|[^:|]+:[0-9.]+)*$'
            then 'not a map key:value|key:value: ' || l.value
        when l.value_type = 'list' and l.parameter = 'base_weights' and l.value !~ '^[0-9.]+(\|[0-9.]+)*$'
            then 'not a |-separated list of numbers: ' || l.value
    end                                                 as problem,
    row_number() over (partition by l.settlement_year, l.parameter
                       order by l.batch_id desc, l.source_row desc) = 1 as is_latest
from loaded as l
left join {{ source('audit', 'batches') }} as b on b.batch_id = l.batch_id
