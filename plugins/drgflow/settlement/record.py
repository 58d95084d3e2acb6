"""A run's audit trail: its audit.runs row (running, then success, failed or interrupted), its operation-log
entry, and the load batches it read (audit.run_inputs)."""
from __future__ import annotations

import json

import psycopg

from drgflow import audit
from drgflow.settlement.lock import LOCKED_COMMANDS


def start_run(conn: psycopg.Connection, command: str, period: str) -> int:
    """Record a run; under the lock, an older run of these commands still 'running' died (killed process)."""
    conn.execute("update audit.runs set status = 'interrupted', finished_at = now(), "
                 "message = 'the process ended before the run finished (killed or crashed)' "
                 "where status = 'running' and command = any(%s)", (list(LOCKED_COMMANDS),))
    return conn.execute("insert into audit.runs (command, period) values (%s, %s) returning run_id",
                        (command, period)).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, status: str, message: str | None = None,
               scheme: str | None = None, parameters: dict | None = None, row_counts: dict | None = None,
               parameter_hash: str | None = None) -> None:
    """Record how a run ended, with what it used and counted, and log it in the operation log."""
    params_text = json.dumps(parameters, sort_keys=True, default=str) if parameters is not None else None
    conn.execute(
        """update audit.runs set status = %s, message = %s, finished_at = now(),
               scheme_version = coalesce(%s, scheme_version),
               parameters = coalesce(%s::jsonb, parameters),
               parameter_hash = coalesce(%s, parameter_hash),
               row_counts = coalesce(%s::jsonb, row_counts)
           where run_id = %s""",
        (status, message, scheme, params_text, parameter_hash,
         json.dumps(row_counts) if row_counts is not None else None, run_id))
    # the operation log (操作日志) gets every calibrate / settle / close / reopen, failed ones included
    command, period, run_hash = conn.execute(
        "select command, period, parameter_hash from audit.runs where run_id = %s", (run_id,)).fetchone()
    audit.record(conn, command, period, json.loads(json.dumps(row_counts or {}, default=str)),
                 details={"run_id": run_id, "status": status, "message": (message or "")[:500],
                          "scheme_version": scheme, "parameter_hash": run_hash})


def record_inputs(conn: psycopg.Connection, run_id: int, year_from: int, year_to: int,
                  period: str | None) -> dict[str, int]:
    """Record which load batches fed the run (audit.run_inputs) and return row counts per input."""
    where = "settle_year between %s and %s" + (" and settle_period = %s" if period else "")
    args: tuple = (year_from, year_to, period) if period else (year_from, year_to)
    inputs = {
        "cases": (f"select batch_id, count(*) from intermediate.int_cases_in_scope where {where} group by batch_id",
                  args),
        "hospitals": ("select batch_id, count(*) from staging.stg_raw__hospitals group by batch_id", ()),
        "budgets": ("select batch_id, count(*) from staging.stg_raw__budgets where year = %s group by batch_id",
                    (year_to,)),
        "assessment_scores": ("select batch_id, count(*) from staging.stg_raw__assessment_scores where year = %s "
                              "group by batch_id", (year_to,)),
        "special_review": ("select batch_id, count(*) from staging.stg_raw__special_review group by batch_id", ()),
    }
    counts: dict[str, int] = {}
    for name, (sql, a) in inputs.items():
        rows = conn.execute(sql, a).fetchall()
        counts[f"input_{name}"] = sum(r[1] for r in rows)
        for batch_id, n in rows:
            conn.execute("insert into audit.run_inputs values (%s, %s, %s, %s) on conflict do nothing",
                         (run_id, name, batch_id, n))
    return counts
