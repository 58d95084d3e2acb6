"""Settlement periods, 'YYYY-MM' (monthly pre-settlement) or 'YYYY' (annual settlement): their names, their state
in audit.periods, closing and reopening them (audit.period_events), and the guard on closed periods' mart rows."""
from __future__ import annotations

import re

import psycopg

from drgflow import db, roles
from drgflow.errors import UserError
from drgflow.settlement.lock import locked
from drgflow.settlement.record import finish_run, start_run


def format_period(year: int, month: int | None) -> str:
    """(2024, 3) -> '2024-03'; (2024, None) -> '2024'."""
    return f"{int(year):04d}-{int(month):02d}" if month else f"{int(year):04d}"


def parse_period(period: str) -> tuple[int, int | None]:
    """'2024-03' -> (2024, 3); '2024' -> (2024, None)."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", (period or "").strip())
    if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise UserError(f"period {period!r} is not YYYY-MM or YYYY")
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)


def period_status(conn: psycopg.Connection, period: str) -> str | None:
    """'open', 'closed' or None (never settled, or a warehouse without audit.periods yet)."""
    if not db.relation_exists(conn, "audit.periods"):
        return None
    row = conn.execute("select status from audit.periods where period = %s", (period,)).fetchone()
    return row[0] if row else None


def is_closed(conn: psycopg.Connection, period: str) -> bool:
    """Whether the period is closed (its figures are final)."""
    return period_status(conn, period) == "closed"


def closed_periods(conn: psycopg.Connection, year: int) -> list[str]:
    """The closed periods of a settlement year, ascending: its months (YYYY-MM), then the year (YYYY)."""
    if not db.relation_exists(conn, "audit.periods"):
        return []
    return [r[0] for r in conn.execute(
        "select period from audit.periods where status = 'closed' and (period like %s or period = %s) "
        "order by period", (f"{year:04d}-%", f"{year:04d}")).fetchall()]


def protect_closed_rows(conn: psycopg.Connection) -> None:
    """Triggers refusing any change to rows of closed periods (dbt owns the tables; we add the guard to each
    that exists: a record-only monthly run may come before the first annual table)."""
    for table, kind in (("settlement_monthly", "month"), ("settlement_annual", "year")):
        if db.relation_exists(conn, f"marts.{table}"):
            conn.execute(f"""create or replace trigger {table}_closed
                             before update or delete on marts.{table}
                             for each row execute function audit.refuse_closed_period_change('{kind}')""")
            conn.execute(f"""create or replace trigger {table}_closed_truncate
                             before truncate on marts.{table}
                             for each statement execute function audit.refuse_closed_period_truncate('{kind}')""")


def close_period(period: str, url: str | None = None) -> dict:
    """Make a settled period ('YYYY-MM' or 'YYYY') immutable; records the case points it was settled with."""
    year, month = parse_period(period)
    period = format_period(year, month)
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    with locked(url) as conn:
        row = conn.execute("select status, settle_run_id from audit.periods where period = %s",
                           (period,)).fetchone()
        if row is None or row[1] is None:
            raise UserError(f"period {period} has not been settled: run drgflow settle --year {year}"
                            + (f" --month {month}" if month else "") + " first")
        if row[0] == "closed":
            return {"period": period, "status": "closed", "changed": False}
        _require_settled_consistently(conn, year, month, row[1])
        run_id = start_run(conn, "close", period)
        with conn.transaction():
            if month:
                conn.execute("delete from audit.closed_period_cases where period = %s", (period,))
                conn.execute(
                    """insert into audit.closed_period_cases
                       select cp.period, cp.hospital_id, cp.case_id, cp.region_code, cp.batch_id, cp.source_row,
                              cp.case_type, cp.points,
                              to_jsonb(cp) || jsonb_build_object('mdc', g.mdc, 'adrg', g.adrg, 'cc_level', g.cc_level)
                       from marts.case_points cp
                       left join marts.case_grouping g on g.scheme_version = cp.scheme_version
                            and g.hospital_id = cp.hospital_id and g.case_id = cp.case_id
                       where cp.settlement_year = %s and cp.period = %s""", (year, period))
            conn.execute("update audit.periods set status = 'closed', closed_at = now(), closed_by = current_user, "
                         "updated_at = now() where period = %s", (period,))
            conn.execute("insert into audit.period_events (period, action, run_id) values (%s, 'close', %s)",
                         (period, run_id))
            if db.relation_exists(conn, "marts.settlement_monthly"):
                protect_closed_rows(conn)
            counts = _period_counts(conn, year, month)
        finish_run(conn, run_id, "success", f"closed {period}", row_counts=counts)
        return {"period": period, "status": "closed", "changed": True, "run_id": run_id, **counts}


def _require_settled_consistently(conn: psycopg.Connection, year: int, month: int | None, recorded_run: int) -> None:
    """Close only a period whose last settle run completed and whose marts agree (case points = totals)."""
    period = format_period(year, month)
    again = f"settle it again first: drgflow settle --year {year}" + (f" --month {month}" if month else "")
    # a settle run that died may have rebuilt some of the period's marts and not others (a failed one ended
    # inside its transaction or before writing; the agreement check below covers both)
    last_id, last_status = conn.execute(
        "select run_id, status from audit.runs where command = 'settle' and period = %s "
        "and status <> 'failed' order by run_id desc limit 1", (period,)).fetchone()
    if last_id != recorded_run or last_status != "success":
        raise UserError(f"period {period} cannot be closed: its last settle run ({last_id}) did not finish "
                        f"(killed or crashed), so its marts may mix two runs; {again}")
    totals = "marts.settlement_monthly where period = %s" if month else \
        "marts.settlement_annual where settlement_year = %s"
    points = "settlement_year = %s and period = %s" if month else "settlement_year = %s"
    args: tuple = (year, period) if month else (year,)
    differ = conn.execute(
        f"""select count(*) from (
                select region_code, hospital_id, count(*) as n, sum(points) as points
                from marts.case_points where {points} group by 1, 2) as c
            full join (select region_code, hospital_id, case_count as n, total_points as points
                       from {totals} and case_count > 0) as t using (region_code, hospital_id)
            where c.n is distinct from t.n or c.points is distinct from t.points""",
        (*args, period if month else year)).fetchone()[0]
    if differ:
        raise UserError(f"period {period} cannot be closed: the case points of {differ} hospital(s) disagree "
                        f"with the period's totals (an interrupted or partial settle); {again}")


def _period_counts(conn: psycopg.Connection, year: int, month: int | None) -> dict:
    if month:
        n, total = conn.execute("select count(*), coalesce(sum(prepayment), 0) from marts.settlement_monthly "
                                "where period = %s", (format_period(year, month),)).fetchone()
        return {"settlement_monthly": n, "prepayment_total": str(total)}
    if not db.relation_exists(conn, "marts.settlement_annual"):
        return {}
    n, total = conn.execute("select count(*), coalesce(sum(payable), 0) from marts.settlement_annual "
                            "where settlement_year = %s", (year,)).fetchone()
    return {"settlement_annual": n, "payable_total": str(total)}


def reopen_period(period: str, reason: str, url: str | None = None) -> dict:
    """Reopen a closed period so it can be settled again; the reason is logged (audit.period_events)."""
    year, month = parse_period(period)
    period = format_period(year, month)
    if not (reason or "").strip():
        raise UserError("reopening a period needs a reason (--reason \"...\")")
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    with locked(url) as conn:
        if not is_closed(conn, period):
            raise UserError(f"period {period} is not closed")
        run_id = start_run(conn, "reopen", period)
        with conn.transaction():
            # the event first: the periods trigger lets a closed period reopen only with a logged reason
            conn.execute("insert into audit.period_events (period, action, reason, run_id) "
                         "values (%s, 'reopen', %s, %s)", (period, reason.strip(), run_id))
            conn.execute("update audit.periods set status = 'open', updated_at = now() where period = %s", (period,))
        finish_run(conn, run_id, "success", f"reopened {period}: {reason.strip()}",
                   parameters={"reason": reason.strip()})
        return {"period": period, "status": "open", "run_id": run_id}
