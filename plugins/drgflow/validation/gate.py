"""The gate before the money: validate a loaded cases batch (rule flags in SQL, Great Expectations over them,
row-level quarantine) and record what it found.

For a loaded cases batch:
1. one SQL statement builds `audit.rule_flags`: one row per case row of the batch, one text column per
   enabled rule (NULL = passed, else what failed), from the raw text and typed values (rows.py);
2. Great Expectations runs the suite `case_rules` (one expect_column_values_to_be_null per rule) against
   that table through its PostgreSQL datasource and updates the Data Docs site (gx.py);
3. every failure goes to `audit.quarantine` (severity reject or warn, the raw record as jsonb), earlier
   quarantine entries of cases this batch accepts are marked resolved, and `audit.batches`,
   `audit.rule_results`, `audit.validation_runs` record the counts.
Nothing of a batch's rows is pulled into Python: only counts and the flags table's metrics travel.
"""
from __future__ import annotations

import time
from typing import Any

import psycopg

from drgflow import db, roles
from drgflow.batch import LoadResult
from drgflow.errors import UserError
from drgflow.validation import checks
from drgflow.validation.catalogue import Catalogue, Rule, load_catalogue
from drgflow.validation.gx import run_gx
from drgflow.validation.reference import ensure_terminology, table_has_rows
from drgflow.validation.rows import flags_statements, typed_copy
from drgflow.validation.sqltext import literal

VALIDATE_LOCK = "drgflow.validate"


def validate_batch(result: LoadResult, url: str | None = None) -> None:
    """Validate one loaded cases batch; updates `result` (counts, a note with the Data Docs page)."""
    url = url or db.database_url()
    started = time.monotonic()
    cat = load_catalogue()
    ensure_terminology(url)     # a reference import: the admin's (a service role only checks)
    url = roles.service_url("loader", url)   # DRGFLOW_SERVICE_ROLES on: the rest runs as drgflow_loader
    batch_id = int(result.batch_id)
    with db.connect(url, autocommit=True) as lock_conn:
        # one validation at a time per warehouse: audit.rule_flags holds the batch being validated
        lock_conn.execute("select pg_advisory_lock(hashtext(%s))", (VALIDATE_LOCK,))
        try:
            summary = _validate_locked(url, cat, batch_id, started)
        finally:
            lock_conn.execute("select pg_advisory_unlock(hashtext(%s))", (VALIDATE_LOCK,))
    _vacuum_batch_tables(url, batch_id)
    result.rows_read = summary["rows_read"]
    result.rows_accepted = summary["rows_accepted"]
    result.rows_quarantined = summary["rows_quarantined"]
    result.rows_warned = summary["rows_warned"]
    result.notes.extend(summary["notes"])
    result.notes.append(f"Data Docs: {summary['data_docs']}")


def _vacuum_batch_tables(url: str, batch_id: int) -> None:
    """VACUUM ANALYZE audit.cases_typed and raw.cases when the batch is over a tenth of them (autovacuum's own
    threshold), now rather than when autovacuum comes round (up to a minute later): the grouping run that
    follows then plans with statistics (without them its latest-version join became a merge join, +30% on the
    bench) and does not share the cores with an autovacuum of a million rows. The loader owns audit.cases_typed
    so that it may; with DRGFLOW_SERVICE_ROLES on, raw.cases stays the admin's, and the loader's VACUUM of it is
    skipped with a warning (autovacuum then does it)."""
    with db.connect(url, autocommit=True) as conn:
        batch_rows = conn.execute("select rows from audit.cases_typed_batches where batch_id = %s",
                                  (batch_id,)).fetchone()
        for table in ("audit.cases_typed", "raw.cases"):
            table_rows = conn.execute("select greatest(reltuples, 0) from pg_class where oid = %s::regclass",
                                      (table,)).fetchone()[0]
            if batch_rows and batch_rows[0] > 0.1 * table_rows:
                conn.execute(f"vacuum (analyze) {table}")


def _flag_rows(conn: psycopg.Connection, cat: Catalogue, batch_id: int,
               notes: list[str]) -> tuple[list[tuple[Rule, str]], list[tuple[Rule, str]]]:
    """Build audit.rule_flags for the batch (in the caller's transaction): (active rules with their SQL,
    skipped rules with the reason). Each kind prepares its reference tables first."""
    ctx: dict[str, Any] = {
        "terminology": {k: table_has_rows(conn, f"ref.{k}_catalogue") for k in ("dx", "px")},
        "variant_map": {k: table_has_rows(conn, f"ref.{k}_variant_map") for k in ("dx", "px")},
        "decimals": cat.money_decimals(),
    }
    # sorts and hashes over a million rows: keep them in memory rather than temp files
    conn.execute("set local work_mem = '256MB'")
    enabled = [r for r in cat.rules if r.enabled]
    # each kind's reference tables, once (the first enabled rule of the kind says what it needs)
    for kind_name in dict.fromkeys(r.check for r in enabled):
        prepare = getattr(checks.KINDS[kind_name], "prepare", None)
        if prepare:
            rule = next(r for r in enabled if r.check == kind_name)
            notes += prepare(conn, rule, cat, batch_id, ctx)
    active: list[tuple[Rule, str]] = []
    skipped: list[tuple[Rule, str]] = []
    for rule in enabled:
        expr = checks.KINDS[rule.check].flag_sql(rule, ctx)
        if expr is None:
            skipped.append((rule, checks.skip_reason(rule)))
        else:
            active.append((rule, expr))
    notes += [f"rule {rule.id} skipped: {why}" for rule, why in skipped]
    for statement in flags_statements(batch_id, active, ctx):
        try:
            with conn.transaction():      # a savepoint, so a failing rule can be looked for
                conn.execute(statement)
        except psycopg.Error as exc:
            problem = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
            culprit = _failing_rule(conn, batch_id, active, ctx)
            raise UserError(f"{cat.path.name}: rule {culprit or '?'}: its SQL failed on batch {batch_id}: "
                            f"{problem.strip()} (check its fails_when / when / detail / group params)") from None
    return active, skipped


def flag_batch(url: str, cat: Catalogue, batch_id: int) -> dict[int, dict[str, str]]:
    """What each enabled rule of `cat` finds in a loaded batch, without recording anything:
    {source_row: {rule id: detail}} for the rows some rule flags (the check kinds' test cases use it)."""
    notes: list[str] = []
    with db.connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("select pg_advisory_lock(hashtext(%s))", (VALIDATE_LOCK,))
        try:
            with db.connect(url) as conn, conn.transaction():
                active, _ = _flag_rows(conn, cat, batch_id, notes)
                ids = [r.id for r, _ in active]
                rows = conn.execute(f"select source_row, {', '.join(ids) or 'null'} from audit.rule_flags"
                                    " order by source_row").fetchall()
        finally:
            lock_conn.execute("select pg_advisory_unlock(hashtext(%s))", (VALIDATE_LOCK,))
    if not ids:
        return {}
    flagged = {int(r[0]): {rid: v for rid, v in zip(ids, r[1:], strict=True) if v is not None} for r in rows}
    return {row: found for row, found in flagged.items() if found}


def _validate_locked(url: str, cat: Catalogue, batch_id: int, started: float) -> dict[str, Any]:
    notes: list[str] = []
    with db.connect(url) as conn:
        batch = conn.execute("select file_name, file_kind from audit.batches where batch_id = %s",
                             (batch_id,)).fetchone()
        if batch is None:
            raise UserError(f"batch {batch_id}: no such batch in audit.batches")
        file_name, kind = batch
        if kind != "cases":
            raise UserError(f"batch {batch_id} ({file_name}) is a {kind} file; only case files are validated")
        with conn.transaction():
            active, skipped = _flag_rows(conn, cat, batch_id, notes)
            rows_read = conn.execute("select count(*) from raw.cases where batch_id = %s", (batch_id,)).fetchone()[0]

    t_sql = time.monotonic()
    gx_success, page, gx_counts = run_gx(url, cat, active, batch_id, file_name, rows_read)
    t_gx = time.monotonic()

    with db.connect(url) as conn, conn.transaction():
        counts_sql = ", ".join(f"count({r.id})" for r, _ in active) or "0"
        row = conn.execute(f"select count(*), count(*) filter (where rejected), "
                           f"count(*) filter (where warned and not rejected), {counts_sql} from audit.rule_flags"
                           ).fetchone()
        flagged, quarantined, warned = row[0], row[1], row[2]
        per_rule = dict(zip([r.id for r, _ in active], row[3:], strict=True)) if active else {}
        if flagged != rows_read:
            raise UserError(f"batch {batch_id} ({file_name}): {flagged} flagged rows for {rows_read} read")
        for rid, n in per_rule.items():
            if gx_counts.get(rid, n) != n:
                raise UserError(f"batch {batch_id}: rule {rid}: GX counted {gx_counts[rid]} failures, SQL {n}")
        # re-validating a batch replaces what an earlier validation of it wrote
        conn.execute("update audit.quarantine set resolved_at = null, resolved_by_batch = null"
                     " where resolved_by_batch = %s", (batch_id,))
        conn.execute("delete from audit.quarantine where batch_id = %s", (batch_id,))
        conn.execute("delete from audit.rule_results where batch_id = %s", (batch_id,))
        if active:
            values = ",\n".join(
                f"({literal(r.id)}, {literal(r.severity)}, {literal(r.message())}, f.{r.id})" for r, _ in active)
            conn.execute(f"""
                insert into audit.quarantine (batch_id, source_row, rule, hospital_id, case_id, severity,
                                              message, raw_record)
                select f.batch_id, f.source_row, v.rule, f.hospital_id, f.case_id, v.severity,
                       v.message || ': ' || v.detail, to_jsonb(c) - 'batch_id' - 'source_row'
                from audit.rule_flags f
                cross join lateral (values {values}) as v(rule, severity, message, detail)
                join raw.cases c on c.batch_id = f.batch_id and c.source_row = f.source_row
                where (f.rejected or f.warned) and v.detail is not null
            """)
        # a corrected resubmission (same hospital and case, later batch, accepted) resolves earlier entries
        conn.execute("""
            update audit.quarantine q set resolved_at = now(), resolved_by_batch = %(b)s
            from (select distinct hospital_id, case_id from audit.rule_flags
                  where not rejected and hospital_id is not null and case_id is not null) a
            where q.hospital_id = a.hospital_id and q.case_id = a.case_id
              and q.batch_id < %(b)s and q.resolved_at is null
        """, {"b": batch_id})
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.rule_results (batch_id, rule, severity, status, rows_checked, rows_failed,"
                " note, catalogue_version) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(batch_id, r.id, r.severity, "checked", rows_read, per_rule[r.id], None, cat.version)
                 for r, _ in active]
                + [(batch_id, r.id, r.severity, "skipped", 0, 0, why, cat.version) for r, why in skipped],
            )
        for statement in typed_copy(batch_id):
            conn.execute(statement)
        accepted = rows_read - quarantined
        conn.execute(
            "update audit.batches set rows_read = %s, rows_accepted = %s, rows_quarantined = %s, rows_warned = %s,"
            " status = 'validated', validated_at = now() where batch_id = %s",
            (rows_read, accepted, quarantined, warned, batch_id))
        seconds = round(time.monotonic() - started, 2)
        notes.append(f"validated {rows_read} rows in {seconds:.1f}s (rule SQL {t_sql - started:.1f}s, "
                     f"Great Expectations {t_gx - t_sql:.1f}s, quarantine {time.monotonic() - t_gx:.1f}s)")
        conn.execute(
            "insert into audit.validation_runs (batch_id, catalogue_version, gx_success, data_docs, seconds)"
            " values (%s, %s, %s, %s, %s) on conflict (batch_id) do update set catalogue_version ="
            " excluded.catalogue_version, gx_success = excluded.gx_success, data_docs = excluded.data_docs,"
            " seconds = excluded.seconds, validated_at = now()",
            (batch_id, cat.version, gx_success, str(page), seconds))
    return {"rows_read": rows_read, "rows_accepted": accepted, "rows_quarantined": quarantined,
            "rows_warned": warned, "notes": notes, "data_docs": page, "gx_success": gx_success}


def _failing_rule(conn: psycopg.Connection, batch_id: int, active: list[tuple[Rule, str]],
                  ctx: dict[str, Any]) -> str | None:
    """The first rule whose flag statement alone does not plan (syntax, unknown column, type errors)."""
    for rule, expr in active:
        flags = next(st for st in flags_statements(batch_id, [(rule, expr)], ctx)
                     if st.startswith("\ncreate unlogged table audit.rule_flags"))
        try:
            with conn.transaction():
                conn.execute("explain " + flags)
        except psycopg.Error:
            return rule.id
    return None


def validate_pending(url: str | None = None, batch_id: int | None = None,
                     revalidate: bool = False) -> list[LoadResult]:
    """Validate loaded case batches not validated yet (or one batch; revalidate=True redoes validated ones)."""
    url = url or db.database_url()
    db.init_warehouse(url)
    with db.connect(url) as conn:
        if batch_id is not None:
            rows = conn.execute("select batch_id, file_path, rows_read, status from audit.batches"
                                " where batch_id = %s and file_kind = 'cases'", (batch_id,)).fetchall()
            if not rows:
                raise UserError(f"batch {batch_id}: no cases batch with that id in audit.batches")
        else:
            rows = conn.execute("select batch_id, file_path, rows_read, status from audit.batches"
                                " where file_kind = 'cases' and (status <> 'validated' or %s)"
                                " order by batch_id", (revalidate,)).fetchall()
    results = []
    for bid, path, rows_read, _status in rows:
        res = LoadResult(path=path or "", kind="cases", batch_id=bid, rows_read=rows_read)
        validate_batch(res, url)
        results.append(res)
    return results
