-- DIP parameters a bureau loaded (dip_parameters.csv: settlement_year, parameter, value; dip-spec §11), one row
-- per loaded row, checked against the defaults seed: `problem` names what is wrong with the row (unknown
-- parameter, a value that does not parse as the parameter's type), null for a usable row. The last row per
-- (settlement_year, parameter) wins (`is_latest`); it applies to that settlement year only.
-- depends_on: {{ ref('dip_parameter_defaults') }}
{#- the parameter names and types of the seed, read when the view is built: a staging view must build before the
    seeds exist (`dbt run --select staging` on a new warehouse); until the seed exists every row is unknown, and the
    DIP run builds the seed and this view together (drgflow.dip.runs.PARAMETER_MODELS) -#}
{%- set types = {} %}
{%- if execute %}
{%- set seed = ref('dip_parameter_defaults') %}
{%- if adapter.get_relation(database=seed.database, schema=seed.schema, identifier=seed.identifier) is not none %}
{%- for row in run_query("select parameter, value_type from " ~ seed).rows %}
{%- do types.update({row[0]: row[1]}) %}
{%- endfor %}
{%- endif %}
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
    from {{ source('raw', 'dip_parameters') }} as p
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
