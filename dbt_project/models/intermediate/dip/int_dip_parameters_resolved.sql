-- dip-spec §11: the DIP parameters of settlement year Y (dbt var settlement_year), one row. Each parameter is
-- the bureau's loaded value for Y (dip_parameters.csv, the latest usable row; a row applies to its own year
-- only) or else the default of the seed dip_parameter_defaults. The base-period parameters left empty there
-- (base_years, base_weights, stats_max_los, trim_*) are the DRG policy's of Y (int_parameters_resolved), so the
-- two methods share one base-period policy unless a bureau sets DIP's apart. `loaded_rows` lists the loaded
-- rows used (batch_id:source_row), `parameters` the whole set, stored with each run. Lists stay '|'-separated
-- text (dbt unit-test fixtures cannot cast to array types): models split them with string_to_array.
{{ config(materialized='view') }}
{%- set y = var('settlement_year') -%}
{%- set year_sql = (y | int | string) if y is not none else 'null' %}

with chosen as (
    select
        d.parameter,
        d.value_type,
        coalesce(l.value, d.value)                  as value,
        l.batch_id,
        l.source_row
    from {{ ref('dip_parameter_defaults') }} as d
    left join {{ ref('stg_raw__dip_parameters') }} as l
      on l.parameter = d.parameter and l.settlement_year = {{ year_sql }} and l.is_latest and l.problem is null
),

drg as (
    select * from {{ ref('int_parameters_resolved') }}
),

p as (
    select
        jsonb_object_agg(parameter, nullif(value, '') order by parameter) as v,
        coalesce(string_agg(batch_id || ':' || source_row, '|' order by batch_id, source_row)
                     filter (where batch_id is not null), '') as loaded_rows
    from chosen
)

select
    {{ year_sql }}::integer                                                    as settlement_year,
    coalesce(p.v ->> 'dip_regions', '') as dip_regions,
    p.v ->> 'catalogue_source'                                                 as catalogue_source,
    p.v ->> 'catalogue_layout'                                                 as catalogue_layout,
    (p.v ->> 'core_min_n')::integer                                            as core_min_n,
    (p.v ->> 'comp_min_n')::integer                                            as comp_min_n,
    (p.v ->> 'related_split')::boolean                                         as related_split,
    (p.v ->> 'related_min_uplift')::numeric                                    as related_min_uplift,
    coalesce(p.v ->> 'simple_px_prefixes', '') as simple_px_prefixes,
    coalesce(p.v ->> 'simple_px_exceptions', '') as simple_px_exceptions,
    coalesce(p.v ->> 'diagnostic_subcategories', '') as diagnostic_subcategories,
    p.v ->> 'or_list_scheme'                                                   as or_list_scheme,
    p.v ->> 'score_method'                                                     as score_method,
    upper(p.v ->> 'reference_group')                                           as reference_group,
    (p.v ->> 'fixed_mean_cost')::numeric                                       as fixed_mean_cost,
    coalesce((p.v ->> 'base_years')::integer, drg.base_years)                  as base_years,
    coalesce(p.v ->> 'base_weights', drg.base_weights)                         as base_weights,
    {{ year_sql }}::integer - coalesce((p.v ->> 'base_years')::integer, drg.base_years) as base_year_first,
    {{ year_sql }}::integer - 1                                                as base_year_last,
    coalesce((p.v ->> 'stats_max_los')::integer, drg.stats_max_los)            as stats_max_los,
    coalesce(p.v ->> 'trim_method', drg.trim_method)                           as trim_method,
    coalesce((p.v ->> 'trim_low_pct')::numeric, drg.trim_low_pct)              as trim_low_pct,
    coalesce((p.v ->> 'trim_high_pct')::numeric, drg.trim_high_pct)            as trim_high_pct,
    coalesce((p.v ->> 'trim_min_n')::integer, drg.trim_min_n)                  as trim_min_n,
    coalesce((p.v ->> 'trim_log_sd_k')::numeric, drg.trim_log_sd_k)            as trim_log_sd_k,
    coalesce((p.v ->> 'trim_iqr_k')::numeric, drg.trim_iqr_k)                  as trim_iqr_k,
    p.v ->> 'coef_method'                                                      as coef_method,
    p.v ->> 'coef_strata'                                                      as coef_strata,
    (p.v ->> 'coef_min_n')::integer                                            as coef_min_n,
    (p.v ->> 'coef_min')::numeric                                              as coef_min,
    (p.v ->> 'coef_max')::numeric                                              as coef_max,
    p.v ->> 'fixed_level_coef'                                                 as fixed_level_coef,
    (p.v ->> 'aux_enabled')::boolean                                           as aux_enabled,
    (p.v ->> 'aux_min_group_n')::integer                                       as aux_min_group_n,
    (p.v ->> 'aux_min_subtype_n')::integer                                     as aux_min_subtype_n,
    (p.v ->> 'aux_min_cv_reduction')::numeric                                  as aux_min_cv_reduction,
    (p.v ->> 'aux_coef_min')::numeric                                          as aux_coef_min,
    (p.v ->> 'aux_coef_max')::numeric                                          as aux_coef_max,
    p.v ->> 'deviation_rule'                                                   as deviation_rule,
    p.v ->> 'pv_reference'                                                     as pv_reference,
    (p.v ->> 'pv_reference_value')::numeric                                    as pv_reference_value,
    (p.v ->> 'low_ratio')::numeric                                             as low_ratio,
    (p.v ->> 'dip2_high_multiple')::numeric                                    as dip2_high_multiple,
    (p.v ->> 'dip3_high_multiple')::numeric                                    as dip3_high_multiple,
    (p.v ->> 'bed_day_enabled')::boolean                                       as bed_day_enabled,
    drg.bed_day_categories,
    drg.per_diem_standards,
    p.loaded_rows,
    p.v || jsonb_build_object('base_years', coalesce((p.v ->> 'base_years')::integer, drg.base_years),
                              'base_weights', coalesce(p.v ->> 'base_weights', drg.base_weights),
                              'stats_max_los', coalesce((p.v ->> 'stats_max_los')::integer, drg.stats_max_los),
                              'trim_method', coalesce(p.v ->> 'trim_method', drg.trim_method))
                                                                               as parameters
from p
cross join drg
