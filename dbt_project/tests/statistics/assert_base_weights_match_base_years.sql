-- settlement-spec §2 / §7: the base weights in force have one entry per base year, all positive.
{{ config(severity='error', tags=['severity_error', 'parameters']) }}

select settlement_year, base_years, base_weights
from {{ ref('int_parameters_resolved') }}
where coalesce(array_length(string_to_array(base_weights, '|'), 1), 0) <> base_years
   or exists (select 1 from unnest(string_to_array(base_weights, '|')::numeric[]) as w where w <= 0)
