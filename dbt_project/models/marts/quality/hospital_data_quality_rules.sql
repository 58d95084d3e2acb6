-- Error rate of every validation rule per hospital and month (long form of hospital_data_quality).
-- Rows of validated case batches only; a row counts once per rule however often it was resubmitted.
with case_rows as (
    select * from {{ ref('int_quality_case_rows') }}
),

per_rule as (
    select r.hospital_id, r.period, q.rule, min(q.severity) as severity,
           count(*) as rows_failed,
           count(*) filter (where q.resolved_at is not null) as rows_resolved
    from {{ ref('stg_audit__quarantine') }} as q
    join case_rows as r on r.batch_id = q.batch_id and r.source_row = q.source_row
    group by r.hospital_id, r.period, q.rule
),

totals as (
    select hospital_id, period, count(*) as rows_received from case_rows group by hospital_id, period
)

select p.hospital_id, p.period, p.rule, p.severity, t.rows_received, p.rows_failed, p.rows_resolved,
       round(p.rows_failed::numeric / t.rows_received, 6) as error_rate
from per_rule as p
join totals as t on t.hospital_id = p.hospital_id and t.period = p.period
