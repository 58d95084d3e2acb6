{# The cases worth joining to the ADRG conditions of the given kinds (in `conditions`, a relation or CTE name):
    those that can enter an MDC holding such a condition, by principal diagnosis, or by an operating-room
    principal procedure when such an MDC is entered that way (none in CHS-DRG 1.1). A cheap first cut (a hash
    lookup of the principal diagnosis) before the exact test (macro adrg_case_allowed), for the conditions that
    would otherwise take every case: any-diagnosis lists (every diagnosis unnested) and the operating-room
    flags (every case with the flag). Which MDCs are entered by procedure is read when the model compiles, so
    the filter stays a plain hash lookup that runs in the parallel workers (an EXISTS decided per run would be
    an InitPlan, which keeps the union above it out of them). #}
{% macro entry_prefilter(case_alias, conditions, kinds) -%}
    {%- set v = "'" ~ var('scheme_version') ~ "'" -%}
    {%- set kind_list = "('" ~ kinds | join("', '") ~ "')" -%}
    {%- set by_or_procedure = false -%}
    {%- if execute -%}
        {%- set by_or_procedure = run_query(
            "select exists (select 1 from " ~ source('grouping_ref', 'scheme_adrg_cond') ~ " as k"
            ~ " join " ~ source('grouping_ref', 'scheme_adrg') ~ " as a on a.scheme_version = k.scheme_version and a.adrg = k.adrg"
            ~ " join " ~ source('grouping_ref', 'scheme_mdc') ~ " as m on m.scheme_version = a.scheme_version and m.mdc = a.mdc"
            ~ " where k.scheme_version = " ~ v ~ " and k.cond_kind in " ~ kind_list ~ " and m.principal_px_or)"
        ).columns[0].values()[0] -%}
    {%- endif -%}
    ({{ case_alias }}.pdx in (
        select d.code from {{ source('grouping_ref', 'scheme_mdc_dx') }} as d
        where d.scheme_version = {{ v }} and d.mdc in (select mdc from {{ conditions }} where cond_kind in {{ kind_list }}))
    {%- if by_or_procedure %}
     or {{ case_alias }}.ppx_or
    {%- endif %})
{%- endmacro %}
