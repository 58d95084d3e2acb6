{# The list conditions a case satisfies, one row per (case, condition, code that met it): union branches over
   `cases` (case_key, dx, px, pdx, ppx, dx_mdcs, ppx_or, age_days, birth_weight_g) and `list_cond` (rows of
   int_adrg_conditions_expanded with a code). `columns` is the select list before the code and the entry flag
   (aliases c for the case, k for the condition).
   One definition for the one-condition alternatives (int_cases_adrg_assigned) and the others
   (int_cases_adrg_alternatives_met), so that both test a condition kind the same way:
     pdx     principal diagnosis      ppx     principal procedure
     any_dx  any diagnosis            sdx     a secondary diagnosis (其他诊断)
     any_px  any procedure #}
{% macro list_condition_hits(columns) -%}
    select {{ columns }}, c.pdx as code, {{ entered_by_ppx_or('c', 'k') }} as by_ppx_or
    from cases as c
    join list_cond as k on k.code = c.pdx and k.cond_kind = 'pdx'
    where {{ adrg_case_allowed('c', 'k') }}

    union all
    select {{ columns }}, c.ppx, {{ entered_by_ppx_or('c', 'k') }}
    from cases as c
    join list_cond as k on k.code = c.ppx and k.cond_kind = 'ppx'
    where {{ adrg_case_allowed('c', 'k') }}

    {#- the position-free lists: every code of the list's kind unnested; the diagnosis lists, which would take
        every case, only for cases that entered an MDC holding such a condition (entry_prefilter) #}
    {%- for kind, codes, guard in [
            ('any_dx', 'c.dx', entry_prefilter('c', ['any_dx'])),
            ('sdx', 'c.dx[2:]', 'cardinality(c.dx) > 1 and ' ~ entry_prefilter('c', ['sdx'])),
            ('any_px', 'c.px', 'cardinality(c.px) > 0')] %}

    union all
    select {{ columns }}, x.code, {{ entered_by_ppx_or('c', 'k') }}
    from cases as c
    cross join lateral unnest({{ codes }}) as x (code)
    join list_cond as k on k.code = x.code and k.cond_kind = '{{ kind }}'
    where {{ guard }} and {{ adrg_case_allowed('c', 'k') }}
    {%- endfor %}
{%- endmacro %}
