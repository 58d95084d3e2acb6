-- The case points each closed month was settled with (audit.closed_period_cases, frozen by drgflow close).
-- One row per (period, hospital_id, case_id).
select
    period,
    hospital_id,
    case_id,
    region_code,
    batch_id,
    source_row,
    case_type,
    points,
    case_row
from {{ source('settlement_audit', 'closed_period_cases') }}
