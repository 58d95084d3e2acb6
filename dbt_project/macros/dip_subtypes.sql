{# dip-spec §6.2: whether case row `c` (age_years, age_days, discharge_way) belongs to the subtype named by the
   column `subtype` in scope: neonate (age 0 with age_days <= 28), infant (other age 0, a missing age_days
   included), child_1_6, child_7_17, elderly_65 (65 and over), death (离院方式 5), abnormal_discharge (2 医嘱转院,
   4 非医嘱离院). One test for the coefficients and for the cases they adjust. #}
{% macro dip_subtype_test(c, subtype='subtype') -%}
    coalesce(case {{ subtype }}
        when 'neonate' then {{ c }}.age_years = 0 and {{ c }}.age_days is not null and {{ c }}.age_days <= 28
        when 'infant' then {{ c }}.age_years = 0 and not coalesce({{ c }}.age_days <= 28, false)
        when 'child_1_6' then {{ c }}.age_years between 1 and 6
        when 'child_7_17' then {{ c }}.age_years between 7 and 17
        when 'elderly_65' then {{ c }}.age_years >= 65
        when 'death' then {{ c }}.discharge_way = 5
        when 'abnormal_discharge' then {{ c }}.discharge_way in (2, 4)
    end, false)
{%- endmacro %}
