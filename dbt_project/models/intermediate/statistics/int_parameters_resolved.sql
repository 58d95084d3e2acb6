-- settlement-spec §7: the policy parameters in force for settlement year Y (dbt var settlement_year): the bureau's
-- loaded drg_parameters.csv rows of Y (stg_raw__drg_parameters) over the policy seeds.
-- Each policy table contributes the rows with the greatest effective_from_year <= Y, so a year without its
-- own rows inherits the latest earlier policy (the 1900 rows hold the §7 defaults).
-- A view: rebuilt in every calibrate/settle run, so it always matches the run's year.
{{ config(materialized='view') }}
{%- set y = var('settlement_year') -%}
{%- set env_scheme = var('scheme_version') -%}
{%- set year_sql = (y | int | string) if y is not none else 'null' %}
{#- the policy seed's columns, read when the model runs (its parent, built before it) #}
{%- set policy_columns = adapter.get_columns_in_relation(ref('policy_parameters')) if execute else [] %}

with loaded as (
    -- the bureau's drg_parameters.csv rows for Y (latest usable row per parameter) over the seed's values
    select
        jsonb_object_agg(l.parameter, l.value)                                         as v,
        -- text, '|'-separated: dbt unit-test fixtures cannot cast to array types
        string_agg(l.batch_id || ':' || l.source_row, '|' order by l.batch_id, l.source_row) as loaded_rows
    from {{ ref('stg_raw__drg_parameters') }} as l
    where l.settlement_year = {{ year_sql }} and l.is_latest and l.problem is null
),

params as (
    -- each scalar policy column: the loaded value of Y (cast to the column's type) over the seed's
    select
    {%- for col in policy_columns %}
        {%- if col.name in ('effective_from_year', 'note') %}
        pol.{{ col.name }},
        {%- else %}
        coalesce((loaded.v ->> '{{ col.name }}')::{{ col.data_type }}, pol.{{ col.name }}) as {{ col.name }},
        {%- endif %}
    {%- endfor %}
        coalesce(loaded.loaded_rows, '')                                               as loaded_rows
    from {{ policy_in_force('policy_parameters', year_sql) }} as pol
    cross join loaded
),

tiers as (
    select coalesce(jsonb_agg(jsonb_build_object('bp_upper', bp_upper, 'multiple', multiple)
                              order by bp_upper nulls last), '[]'::jsonb) as j
    from {{ policy_in_force('policy_high_ratio_tiers', year_sql) }} as pol
),

bands as (
    select coalesce(jsonb_agg(jsonb_build_object('score_min', score_min, 'coef', coef)
                              order by score_min desc nulls last), '[]'::jsonb) as j
    from {{ policy_in_force('policy_assessment_bands', year_sql) }} as pol
),

bed_days as (
    select coalesce(jsonb_agg(jsonb_build_object('category', category, 'priority', priority, 'match_type', match_type,
                                                 'code_from', code_from, 'code_to', code_to)
                              order by priority, category), '[]'::jsonb) as j
    from {{ policy_in_force('policy_bed_day_categories', year_sql) }} as pol
),

per_diem as (
    select coalesce(jsonb_agg(jsonb_build_object('category', category, 'level', level, 'per_diem', per_diem)
                              order by category, level), '[]'::jsonb) as j
    from {{ policy_in_force('policy_per_diem_standards', year_sql) }} as pol
),

resolved as (
    select
        {{ year_sql }}::integer                                             as settlement_year,
        p.effective_from_year,
        -- the bureau's assignment for the year (drgflow scheme assign), then the policy row's, then the
        -- environment's scheme (drgflow passes it), then the spec default
        coalesce((select sy.scheme_version from {{ ref('stg_grouping_ref__scheme_years') }} as sy
                  where sy.effective_from_year <= {{ year_sql }}
                  order by sy.effective_from_year desc limit 1),
                 nullif(btrim(p.scheme_version), ''),
                 {{ ("'" ~ (env_scheme | replace("'", "''")) ~ "'") if env_scheme else 'null' }},
                 'CHS-DRG-1.1')                                             as scheme_version,
        p.base_years,
        -- text, '|'-separated: dbt unit-test fixtures cannot cast to array types
        replace(p.base_weights, ' ', '')                                    as base_weights,
        {{ year_sql }}::integer - p.base_years                              as base_year_first,
        {{ year_sql }}::integer - 1                                         as base_year_last,
        p.stats_max_los, p.trim_method, p.trim_low_pct, p.trim_high_pct, p.trim_min_n,
        p.trim_log_sd_k, p.trim_iqr_k, p.stable_min_n, p.stable_max_cv,
        p.coef_alpha, p.coef_min_n, p.coef_min, p.coef_max,
        p.high_ratio_beta, p.low_ratio, p.q_ungroupable, p.q_qy,
        p.reserve_ratio, p.prepay_ratio, p.assessment_no_score_coef,
        tiers.j as high_ratio_tiers, bands.j as assessment_bands,
        bed_days.j as bed_day_categories, per_diem.j as per_diem_standards,
        p.loaded_rows
    from params as p
    cross join tiers cross join bands cross join bed_days cross join per_diem
)

select
    r.*,
    md5(x.parameters::text) as parameter_hash,
    x.parameters
from resolved as r
-- a lateral subquery (noqa ST05): a CTE would have to list resolved's columns again to put the hash and the
-- object after r.*
cross join lateral (select  -- noqa: ST05
    -- the full parameter set of the run, stored with every calibration and settlement run
    jsonb_build_object(
        'settlement_year', r.settlement_year, 'effective_from_year', r.effective_from_year,
        'scheme_version', r.scheme_version, 'base_years', r.base_years,
        'base_weights', to_jsonb(string_to_array(r.base_weights, '|')::numeric[]),
        'stats_max_los', r.stats_max_los, 'trim_method', r.trim_method, 'trim_low_pct', r.trim_low_pct,
        'trim_high_pct', r.trim_high_pct, 'trim_min_n', r.trim_min_n, 'trim_log_sd_k', r.trim_log_sd_k,
        'trim_iqr_k', r.trim_iqr_k, 'stable_min_n', r.stable_min_n, 'stable_max_cv', r.stable_max_cv,
        'coef_alpha', r.coef_alpha, 'coef_min_n', r.coef_min_n, 'coef_min', r.coef_min, 'coef_max', r.coef_max,
        'high_ratio_beta', r.high_ratio_beta, 'low_ratio', r.low_ratio, 'q_ungroupable', r.q_ungroupable,
        'q_qy', r.q_qy, 'reserve_ratio', r.reserve_ratio, 'prepay_ratio', r.prepay_ratio,
        'assessment_no_score_coef', r.assessment_no_score_coef,
        'high_ratio_tiers', r.high_ratio_tiers, 'assessment_bands', r.assessment_bands,
        'bed_day_categories', r.bed_day_categories, 'per_diem_standards', r.per_diem_standards
    )
    -- the loaded drg_parameters.csv rows (batch_id:source_row) the run used, so a run's record names them (only
    -- when there are some: the hash of a policy without loaded rows stays what it was)
    || case when r.loaded_rows <> ''
            then jsonb_build_object('loaded_parameter_rows', to_jsonb(string_to_array(r.loaded_rows, '|')))
            else '{}'::jsonb end
    as parameters
) as x
