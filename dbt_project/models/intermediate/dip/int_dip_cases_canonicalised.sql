-- dip-spec §2.2 step 3 and §2.3: every case of int_dip_cases_coded with its canonical procedures under settlement
-- year Y's catalogue: p_i, r_i (byte order) and the treatment class, a simple procedure kept when a procedure part
-- of the catalogue uses it (macro dip_canonical). Grain: one row per case.
{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }} (case_key, dx4, dx3, p_i, dx_valid)"]) }}

{{ dip_canonical(ref('int_dip_cases_coded'), ref('int_dip_catalogue_resolved')) }}
