-- Settlement periods ('YYYY-MM' months, 'YYYY' years) and whether they are closed (audit.periods, written by
-- drgflow settle/close). One row per period; a view, so a close is seen by the next statement.
select
    period,
    status,
    settle_run_id,
    closed_at
from {{ source('settlement_audit', 'periods') }}
