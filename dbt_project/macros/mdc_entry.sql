{#
  MDC entry (drg-dip-reference §2.3) without a table of entered MDCs: int_cases_codes_mapped keeps, per case,
  dx_mdcs, the MDCs it enters by its principal diagnosis (',B,F,', from the 'mdc' code map, after each MDC's
  sex, age and body-region conditions), and the ADRG models test an MDC against that text. An MDC entered by an
  operating-room principal procedure (MDCA) is entered when the case's ppx_or is true.
  The MDCs with such conditions are read from ref.scheme_mdc when a model compiles, so the tests are plain
  expressions that run in the parallel workers.
#}

{# The MDCs of the scheme version with an entry condition beside the list: [{mdc, by_or, sex, age_years_max,
   min_regions, any_dx, without_list}], in mdc_order. #}
{% macro mdc_entry_rules() %}
    {%- set rules = [] -%}
    {%- if execute -%}
        {%- set v = "'" ~ var('scheme_version') ~ "'" -%}
        {%- set table = run_query(
            "select mdc, principal_px_or, sex, age_years_max, min_regions, any_dx, without_list from "
            ~ source('grouping_ref', 'scheme_mdc')
            ~ " where scheme_version = " ~ v ~ " and (principal_px_or or sex is not null or age_years_max is not null"
            ~ " or min_regions is not null or any_dx or without_list) order by mdc_order") -%}
        {%- for row in table.rows -%}
            {%- do rules.append({'mdc': row[0], 'by_or': row[1], 'sex': row[2], 'age_years_max': row[3],
                                 'min_regions': row[4], 'any_dx': row[5], 'without_list': row[6]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(rules) }}
{% endmacro %}

{# The one MDC entered by body regions (MDCZ), or none. Two such MDCs would need a region list each. #}
{% macro region_mdc() %}
    {%- set found = mdc_entry_rules() | rejectattr('min_regions', 'none') | list -%}
    {%- if found | length > 1 -%}
        {{ exceptions.raise_compiler_error("scheme " ~ var('scheme_version') ~ " has " ~ found | length
            ~ " MDCs entered by body regions; the grouping models support one (int_cases_codes_mapped.body_regions)") }}
    {%- endif -%}
    {{ return(found[0] if found else none) }}
{% endmacro %}

{# The MDCs a case is listed for (',B,Z,'): those whose list holds the principal diagnosis (`principal_listed`, from
   the 'mdc' code map), those entered when any diagnosis is on their list (any_dx, 2.0 MDCY: a few codes, tested
   as the keys of a jsonb constant) and those without a list (without_list, 2.0 MDCP), which dx_mdcs_entered then keeps or
   drops by their conditions. `dx` is the case's diagnosis array. #}
{% macro mdc_listed(principal_listed, dx) -%}
    {%- set ns = namespace(expr="coalesce(" ~ principal_listed ~ ", ',')") -%}
    {%- for r in mdc_entry_rules() if r.any_dx or r.without_list -%}
        {%- if r.without_list -%}
            {%- set ns.expr = ns.expr ~ " || '" ~ r.mdc ~ ",'" -%}
        {%- else -%}
            {%- set codes = any_dx_mdc_codes(r.mdc) -%}
            {#- the list as the keys of a jsonb constant: `?|` looks each diagnosis up by binary search, where an
                array overlap (&&) compared every pair (1.1 s of 8.6 on 1M cases) -#}
            {%- set keys = '{"' ~ codes | map('replace', '"', '\\"') | join('": 1, "') ~ '": 1}' -%}
            {%- set ns.expr = ns.expr ~ " || case when strpos(coalesce(" ~ principal_listed ~ ", ''), '," ~ r.mdc
                ~ ",') = 0 and '" ~ keys ~ "'::jsonb ?| " ~ dx ~ " then '" ~ r.mdc ~ ",' else '' end" -%}
        {%- endif -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}

{# The list of an MDC entered by any diagnosis (compile time: a few dozen codes). #}
{% macro any_dx_mdc_codes(mdc) %}
    {%- set codes = [] -%}
    {%- if execute -%}
        {%- set table = run_query("select code from " ~ source('grouping_ref', 'scheme_mdc_dx')
            ~ " where scheme_version = '" ~ var('scheme_version') ~ "' and mdc = '" ~ mdc ~ "' order by code") -%}
        {%- for row in table.rows %}{% do codes.append(row[0] | replace("'", "''")) %}{% endfor -%}
    {%- endif -%}
    {{ return(codes or ['']) }}
{% endmacro %}

{# How the case entered MDC `mdc_expr` when not by a listed principal diagnosis or by its procedure: the text
   for the trace, or null. #}
{% macro mdc_entry_note(mdc_expr, case_alias) -%}
    {%- set ns = namespace(parts=[]) -%}
    {%- for r in mdc_entry_rules() if r.any_dx or r.without_list -%}
        {%- if r.without_list -%}
            {%- do ns.parts.append("when " ~ mdc_expr ~ " = '" ~ r.mdc ~ "' then 'MDC" ~ r.mdc ~ " 年龄 ' || "
                ~ case_alias ~ ".age_days || ' 天（本 MDC 无主诊表，由各 ADRG 规则判断）'") -%}
        {%- else -%}
            {%- do ns.parts.append("when " ~ mdc_expr ~ " = '" ~ r.mdc ~ "' then 'MDC" ~ r.mdc
                ~ " 主要诊断或其他诊断在主诊表'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.parts %}case {{ ns.parts | join(' ') }} end{% else %}null::text{% endif -%}
{%- endmacro %}

{# dx_mdcs: the MDCs listing the principal diagnosis (`listed`, ',B,Z,'), less those whose condition the case
   fails. `case_alias` has sex and age_years; `regions` is the case's region list (text[]). #}
{% macro dx_mdcs_entered(listed, case_alias, regions) -%}
    {#- a namespace: a plain variable set inside the loop would not outlive it -#}
    {%- set ns = namespace(expr=listed) -%}
    {%- for r in mdc_entry_rules() if not r.by_or -%}
        {%- set conds = [] -%}
        {%- if r.sex is not none %}{% do conds.append(case_alias ~ ".sex = " ~ r.sex) %}{% endif -%}
        {%- if r.age_years_max is not none %}{% do conds.append(case_alias ~ ".age_years <= " ~ r.age_years_max) %}{% endif -%}
        {%- if r.min_regions is not none %}{% do conds.append("coalesce(cardinality(" ~ regions ~ "), 0) >= " ~ r.min_regions) %}{% endif -%}
        {#- replace() with an empty pattern leaves the text as it is -#}
        {%- if conds %}{% set ns.expr = "replace(" ~ ns.expr ~ ", case when coalesce(" ~ conds | join(" and ") ~ ", false) then '' else '," ~ r.mdc ~ ",' end, ',')" %}{% endif -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}

{# The case (`case_alias`, with dx_mdcs and ppx_or) enters the MDC `mdc` (an expression); `token` is ',' || mdc || ','. #}
{% macro mdc_entered(case_alias, mdc, token) -%}
    {%- set by_or = mdc_entry_rules() | selectattr('by_or') | map(attribute='mdc') | list -%}
    (strpos({{ case_alias }}.dx_mdcs, {{ token }}) > 0
    {%- if by_or %} or ({{ case_alias }}.ppx_or and {{ mdc }} in ('{{ by_or | join("', '") }}')){% endif %})
{%- endmacro %}

{# A condition row `k` of int_adrg_conditions_expanded may count for case `case_alias` (with dx_mdcs, ppx_or,
   age_days, birth_weight_g): the case entered the ADRG's MDC and meets the ADRG's age and birth-weight bounds. #}
{% macro adrg_case_allowed(case_alias, k) -%}
    {{ mdc_entered(case_alias, k ~ '.mdc', k ~ '.mdc_token') }}
      and ({{ k }}.age_days_min is null or {{ case_alias }}.age_days >= {{ k }}.age_days_min)
      and ({{ k }}.age_days_max is null or {{ case_alias }}.age_days <= {{ k }}.age_days_max)
      and ({{ k }}.weight_min is null or {{ case_alias }}.birth_weight_g >= {{ k }}.weight_min)
      and ({{ k }}.weight_max is null or {{ case_alias }}.birth_weight_g <= {{ k }}.weight_max)
{%- endmacro %}

{# A boolean switch of the run's scheme version (a column of ref.scheme_version), read when the model compiles. #}
{% macro scheme_switch(column) %}
    {%- set on = false -%}
    {%- if execute -%}
        {%- set on = run_query("select coalesce(bool_or(" ~ column ~ "), false) from " ~ source('grouping_ref', 'scheme_version')
                               ~ " where scheme_version = '" ~ var('scheme_version') ~ "'").columns[0].values()[0] -%}
    {%- endif -%}
    {{ return(on) }}
{% endmacro %}

{# The scheme version's ambiguous groups (xQY) are switched on. #}
{% macro qy_enabled() %}{{ return(scheme_switch('qy_enabled')) }}{% endmacro %}

{# The scheme version lists its non-operating-room procedures (2.0 ss_invalid) instead of its operating-room ones:
   every other procedure counts as OR, and the non-OR ones are dropped from a case before grouping. #}
{% macro non_or_listed() %}{{ return(scheme_switch('non_or_listed')) }}{% endmacro %}

{# Where adrg_case_allowed holds: the case entered the MDC of condition row `k` by its operating-room principal
   procedure (MDCA), not by its principal diagnosis. #}
{% macro entered_by_ppx_or(case_alias, k) -%}
    strpos({{ case_alias }}.dx_mdcs, {{ k }}.mdc_token) = 0
{%- endmacro %}
