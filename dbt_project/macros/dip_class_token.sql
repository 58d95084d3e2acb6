{# dip-spec §2.3: the published token of a treatment class (SS 相关手术组, ZLXCZ 治疗性操作组, ZDXCZ 诊断性操作组,
   BSZL 内科诊疗组 / 保守治疗), as the comprehensive groups of the pingdingshan layout name them. #}
{% macro dip_class_token(class_expr) -%}
    case {{ class_expr }} when 'surgery' then 'SS' when 'therapeutic' then 'ZLXCZ' when 'diagnostic' then 'ZDXCZ'
        else 'BSZL' end
{%- endmacro %}
