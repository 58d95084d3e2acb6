-- DIP auxiliary coefficients a (辅助分型调节系数) of settlement year Y (output contract dip_aux_coefficients;
-- dip-spec §6.2, §12). Grain: (settlement_year, code, subtype): every core (non-basic) group of the Y−1 population ×
-- the 7 subtypes; coefficient null unless triggered. Partitioned by settlement_year.
{{ config(
    materialized='list_partition',
    partition_by='settlement_year',
    partition_value=var('settlement_year') | string,
) }}

select settlement_year, code, subtype, n_g, n_j, cv_g, cv_split, coefficient, triggered, mean_g, mean_j
from {{ ref('int_dip_aux_coefficients_estimated') }}
