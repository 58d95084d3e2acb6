{# The 14 fee columns of a case (医疗收费项目, input contract), in contract order: one list for every model. #}
{% macro fee_columns() -%}
    {{ return(['fee_bed', 'fee_diagnosis', 'fee_exam', 'fee_lab', 'fee_treatment', 'fee_surgery', 'fee_nursing',
               'fee_material', 'fee_western_drug', 'fee_herbal', 'fee_chinese_patent', 'fee_general_treatment',
               'fee_registration', 'fee_other']) }}
{%- endmacro %}
