{# The cases worth joining to the ADRG conditions of the given kinds: those that entered an MDC holding such a
   condition (dx_mdcs), or entered one by an operating-room principal procedure (MDCA) when such an MDC holds
   one. A cheap first cut before the exact test (macro adrg_case_allowed), for the conditions that would
   otherwise take every case: diagnosis lists tested at every position (every diagnosis unnested) and the
   operating-room flags (every case with the flag). The MDCs are read when the model compiles, so the filter is
   a few text tests that run in the parallel workers (an EXISTS decided per run would be an InitPlan, which
   keeps the union above it out of them). That compile-time lookup reads the source tables: a macro's run_query
   cannot declare a dependency for every model that calls it. #}
{% macro entry_prefilter(case_alias, kinds) -%}
    {%- set v = "'" ~ var('scheme_version') ~ "'" -%}
    {%- set kind_list = "('" ~ kinds | join("', '") ~ "')" -%}
    {%- set ns = namespace(mdcs=[], by_or=false) -%}
    {%- if execute -%}
        {%- set table = run_query(
            "select distinct a.mdc, m.principal_px_or from " ~ source('grouping_ref', 'scheme_adrg_cond') ~ " as k"
            ~ " join " ~ source('grouping_ref', 'scheme_adrg') ~ " as a on a.scheme_version = k.scheme_version and a.adrg = k.adrg"
            ~ " join " ~ source('grouping_ref', 'scheme_mdc') ~ " as m on m.scheme_version = a.scheme_version and m.mdc = a.mdc"
            ~ " where k.scheme_version = " ~ v ~ " and k.cond_kind in " ~ kind_list ~ " order by a.mdc") -%}
        {%- for row in table.rows -%}
            {%- do ns.mdcs.append(row[0]) -%}
            {%- if row[1] %}{% set ns.by_or = true %}{% endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if ns.mdcs -%}
    ({% for mdc in ns.mdcs %}strpos({{ case_alias }}.dx_mdcs, ',{{ mdc }},') > 0{% if not loop.last %} or {% endif %}{% endfor %}
    {%- if ns.by_or %} or {{ case_alias }}.ppx_or{% endif %})
    {%- else -%}
    false
    {%- endif -%}
{%- endmacro %}
