{# The evidence text of one satisfied ADRG condition (int_cases_adrg_assigned): its kind and the code that met it. #}
{% macro adrg_evidence(kind, code) -%}
    case {{ kind }} when 'pdx' then '主诊断 ' || {{ code }}
                    when 'ppx' then '主手术 ' || {{ code }}
                    when 'any_dx' then '诊断 ' || {{ code }}
                    when 'sdx' then '其他诊断 ' || {{ code }}
                    when 'any_px' then '手术 ' || {{ code }}
                    when 'ppx_or' then '主手术为手术室手术'
                    else '无手术室手术' end
{%- endmacro %}
