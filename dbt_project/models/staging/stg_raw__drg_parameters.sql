-- DRG parameters a bureau loaded (drg_parameters.csv: settlement_year, parameter, value; settlement-spec §7), one
-- row per loaded row: a scalar column of the policy seed policy_parameters (the table-shaped policies, tiers,
-- bands, bed-day categories and per-diem standards, are not loadable here). `problem` names what makes a row
-- unusable (null = usable); the last row per (settlement_year, parameter) wins (`is_latest`) and applies to that
-- settlement year only, over the seed's value (int_parameters_resolved). The parameter names and types are read
-- from the seed's table when the view is built (before the seed exists every row is unknown until the next build).
-- depends_on: {{ ref('policy_parameters') }}
{%- set types = {} %}
{%- if execute %}
{%- for col in adapter.get_columns_in_relation(ref('policy_parameters'))
        if col.name not in ('effective_from_year', 'note') %}
{%- do types.update({col.name: 'integer' if col.data_type.startswith('int') else
                                'numeric' if col.data_type.startswith('numeric') else 'text'}) %}
{%- endfor %}
{%- endif %}

with loaded as (
    select
        p.batch_id,
        p.source_row,
        {{ to_int('p.settlement_year') }}            as settlement_year,
        btrim(p.parameter)                           as parameter,
        btrim(coalesce(p.value, ''))                 as value,
        {%- if types %}
        case btrim(p.parameter)
        {%- for name, kind in types.items() %}
            when '{{ name }}' then '{{ kind }}'
        {%- endfor %}
        end
        {%- else %}
        null::text
        {%- endif %}                                          as value_type
    from {{ source('raw', 'drg_parameters') }} as p
)

select
    l.batch_id,
    l.source_row,
    b.file_name,
    l.settlement_year,
    l.parameter,
    l.value,
    l.value_type,
    {{ parameter_problem('l', 'settlement-spec §7: a scalar column of policy_parameters',
                         empty="empty value (remove the row to keep the policy's value)") }} as problem,
    row_number() over (partition by l.settlement_year, l.parameter
                       order by l.batch_id desc, l.source_row desc) = 1 as is_latest
from loaded as l
left join {{ source('audit', 'batches') }} as b on b.batch_id = l.batch_id
