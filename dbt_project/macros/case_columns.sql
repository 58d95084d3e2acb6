{# The column lists of a case that several models carry along: one list each, so that a model that passes cases
   on cannot drop or reorder a column another model expects. #}

{# The 14 fee columns of a case (医疗收费项目, input contract), in contract order. #}
{% macro fee_columns() -%}
    {{ return(['fee_bed', 'fee_diagnosis', 'fee_exam', 'fee_lab', 'fee_treatment', 'fee_surgery', 'fee_nursing',
               'fee_material', 'fee_western_drug', 'fee_herbal', 'fee_chinese_patent', 'fee_general_treatment',
               'fee_registration', 'fee_other']) }}
{%- endmacro %}

{# A case version's key: the case (hospital_id, case_id) and the received row it was read from. #}
{% macro case_key_columns() -%}
    {{ return(['hospital_id', 'case_id', 'batch_id', 'source_row']) }}
{%- endmacro %}

{# What a settlement run knows of a case beside its key: region, settlement period, cost, fund and personal
   payments, length of stay (settlement-spec §1, §4). #}
{% macro case_settlement_columns() -%}
    {{ return(['region_code', 'settle_year', 'settle_period', 'total_cost', 'fund_paid', 'personal_paid',
               'los_days']) }}
{%- endmacro %}

{# `alias.col,` for each column of the lists, one per line (a select list's leading part). #}
{% macro select_columns(alias, columns) -%}
{%- for col in columns %}
    {{ alias }}.{{ col }},
{%- endfor %}
{%- endmacro %}
