-- Data quality of each hospital's submissions per settlement month (docs/quality.md has the score).
--   quality_score = 100 × (0.6 × (1 − reject_rate) + 0.3 × completeness + 0.1 × (1 − warn_rate))
with case_rows as (
    select * from {{ ref('int_quality_case_rows') }}
),

agg as (
    select hospital_id, period,
           count(*)                                                  as rows_received,
           count(*) filter (where rejected)                          as rows_rejected,
           count(*) filter (where rejected and reject_resolved)      as rows_rejected_resolved,
           count(*) filter (where not rejected)                      as rows_accepted,
           count(*) filter (where warned)                            as rows_warned,
           sum(required_filled)::numeric / nullif(sum(required_fields), 0) as completeness
    from case_rows
    group by hospital_id, period
),

rates as (
    select hospital_id, period,
           jsonb_object_agg(rule, error_rate order by rule)          as error_rate_by_rule,
           jsonb_object_agg(rule, rows_failed order by rule)         as rows_failed_by_rule
    from {{ ref('hospital_data_quality_rules') }}
    group by hospital_id, period
)

select a.hospital_id, a.period, a.rows_received, a.rows_accepted, a.rows_rejected, a.rows_rejected_resolved,
       a.rows_warned,
       round(a.rows_rejected::numeric / a.rows_received, 6)         as reject_rate,
       round(a.rows_warned::numeric / a.rows_received, 6)           as warn_rate,
       round(a.completeness, 6)                                     as completeness,
       coalesce(r.error_rate_by_rule, '{}'::jsonb)                  as error_rate_by_rule,
       coalesce(r.rows_failed_by_rule, '{}'::jsonb)                 as rows_failed_by_rule,
       round(100 * (0.6 * (1 - a.rows_rejected::numeric / a.rows_received)
                    + 0.3 * coalesce(a.completeness, 0)
                    + 0.1 * (1 - a.rows_warned::numeric / a.rows_received)), 1) as quality_score
from agg as a
left join rates as r on r.hospital_id = a.hospital_id and r.period = a.period
