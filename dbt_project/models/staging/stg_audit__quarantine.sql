-- Every validation rule a received row failed (audit.quarantine), without the raw record: one row per
-- (batch_id, source_row, rule). severity reject keeps the row out of staging; warn lets it through.
select
    batch_id,
    source_row,
    rule,
    severity,
    hospital_id,
    case_id,
    resolved_at,
    resolved_by_batch
from {{ source('audit', 'quarantine') }}
