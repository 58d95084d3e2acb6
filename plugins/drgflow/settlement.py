"""Calibration and settlement (settlement-spec §2–§5): runs the dbt models, guards closed periods and keeps the
audit trail (audit.runs, audit.run_inputs, audit.calibrations, audit.periods, audit.period_events).

Every figure is computed by the dbt models; this module decides what may run, passes the period as dbt vars,
and records what ran with which parameters and inputs.
"""
from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator

import psycopg

from drgflow import audit, config, db, roles, runs
from drgflow.errors import UserError
from drgflow.transform import run_dbt

LOCK = "drgflow.settlement"
#: the case types of settlement-spec §4, in the order statements and checks show them
CASE_TYPES = ("normal", "high", "low", "unstable", "qy", "ungroupable", "bed_day", "special_review")


def _vars(year: int, month: int | None) -> dict[str, Any]:
    return {"settlement_year": int(year), "settlement_month": int(month) if month else None,
            "scheme_version": config.default_scheme_version()}


def _period(year: int, month: int | None) -> str:
    return f"{int(year):04d}-{int(month):02d}" if month else f"{int(year):04d}"


def parse_period(period: str) -> tuple[int, int | None]:
    """'2024-03' -> (2024, 3); '2024' -> (2024, None)."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", (period or "").strip())
    if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise UserError(f"period {period!r} is not YYYY-MM or YYYY")
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)


@contextmanager
def _locked(url: str) -> Iterator[psycopg.Connection]:
    """One calibrate/settle/close at a time per warehouse (session advisory lock, held for the whole run)."""
    with db.connect(url, autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (LOCK,)).fetchone()[0]:
            holder = conn.execute(
                """select r.command || ' ' || coalesce(r.period, '') || ' (run ' || r.run_id || ', since '
                          || to_char(r.started_at, 'HH24:MI:SS') || ')'
                   from audit.runs r where r.status = 'running' order by r.run_id desc limit 1""").fetchone()
            print(f"drgflow: waiting for the settlement lock, held by "
                  f"{holder[0] if holder else 'another drgflow session'}", file=sys.stderr, flush=True)
            conn.execute("select pg_advisory_lock(hashtext(%s))", (LOCK,))
        try:
            yield conn
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (LOCK,))


def _relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


#: the commands that run under the settlement lock (_locked): one at a time per warehouse
LOCKED_COMMANDS = ("calibrate", "settle", "close", "reopen")


def _start_run(conn: psycopg.Connection, command: str, period: str) -> int:
    """Record a run; under the lock, an older run of these commands still 'running' died (killed process)."""
    conn.execute("update audit.runs set status = 'interrupted', finished_at = now(), "
                 "message = 'the process ended before the run finished (killed or crashed)' "
                 "where status = 'running' and command = any(%s)", (list(LOCKED_COMMANDS),))
    return conn.execute("insert into audit.runs (command, period) values (%s, %s) returning run_id",
                        (command, period)).fetchone()[0]


def _finish_run(conn: psycopg.Connection, run_id: int, status: str, message: str | None = None,
                scheme: str | None = None, parameters: dict | None = None, row_counts: dict | None = None,
                parameter_hash: str | None = None) -> None:
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


def _resolved_parameters(conn: psycopg.Connection) -> tuple[str, dict]:
    """(scheme, parameters); parameters carries "_hash", the parameter_hash the marts carry (md5 of the jsonb)."""
    row = conn.execute("select scheme_version, parameters, parameter_hash "
                       "from intermediate.int_parameters_resolved").fetchone()
    if row is None or row[1] is None:
        raise UserError("no policy parameters apply to this year (ref.policy_parameters has no row with "
                        "effective_from_year <= the year)")
    return row[0], {**row[1], "_hash": row[2]}


def _prepare(url: str, year: int, month: int | None) -> None:
    """Staging views, policy seeds and the run's parameter views, so the checks below see this year's policy."""
    with db.connect(url) as conn:
        if not _relation_exists(conn, "marts.case_grouping"):
            raise UserError("marts.case_grouping does not exist: run drgflow group first")
    # one dbt invocation for all three; the figures' build (runs.*_FIGURES) leaves the period views out: they
    # are built here once (dbt_project/selectors.yml)
    run_dbt(["build", "--selector", runs.SETTLEMENT_INPUTS], url=url, vars=_vars(year, month))


def _check_parameters(conn: psycopg.Connection) -> tuple[str, dict]:
    scheme, params = _resolved_parameters(conn)
    weights = params.get("base_weights") or []
    if len(weights) != params.get("base_years"):
        raise UserError(f"policy parameters: base_weights {weights} must have base_years = "
                        f"{params.get('base_years')} entries")
    if params.get("trim_method") not in ("percentile", "log_sd", "iqr", "none"):
        raise UserError(f"policy parameters: unknown trim_method {params.get('trim_method')!r}")
    return scheme, params


def _input_batches(conn: psycopg.Connection, run_id: int, year_from: int, year_to: int,
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


def period_status(conn: psycopg.Connection, period: str) -> str | None:
    """'open', 'closed' or None (never settled, or a warehouse without audit.periods yet)."""
    if not _relation_exists(conn, "audit.periods"):
        return None
    row = conn.execute("select status from audit.periods where period = %s", (period,)).fetchone()
    return row[0] if row else None


def _closed(conn: psycopg.Connection, period: str) -> bool:
    return period_status(conn, period) == "closed"


def closed_periods(conn: psycopg.Connection, year: int) -> list[str]:
    """The closed periods of a settlement year, ascending: its months (YYYY-MM), then the year (YYYY)."""
    if not _relation_exists(conn, "audit.periods"):
        return []
    return [r[0] for r in conn.execute(
        "select period from audit.periods where status = 'closed' and (period like %s or period = %s) "
        "order by period", (f"{year:04d}-%", f"{year:04d}")).fetchall()]


def calibrate(year: int, url: str | None = None, build: bool = True) -> dict:
    """Base-period statistics, base points and coefficients for settlement year `year` (§2, §3, §6).

    Stores the calibration with its parameters and scheme version (audit.calibrations); the marts keep
    the rows of every settlement year. Refused while a period of the year is closed (its figures used it).
    build=False records a calibration whose models were just built for `year` by someone else (the Airflow
    DAG's Cosmos tasks), after checking that they were built for that year.
    """
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    with _locked(url) as conn:
        closed = closed_periods(conn, year)
        if closed:
            raise UserError(f"calibration of {year} is in use by closed period(s) {', '.join(closed)}; "
                            f"reopen them first (drgflow reopen --period ... --reason ...)")
        return _calibrate(conn, url, year, build)


def _built_for(conn: psycopg.Connection, year: int, month: int | None) -> None:
    """Refuse to record models built for another period (record-only runs, build=False)."""
    if not _relation_exists(conn, "intermediate.int_parameters_resolved"):
        raise UserError("the settlement models are not built: run without build=False")
    built_year = conn.execute("select settlement_year from intermediate.int_parameters_resolved").fetchone()
    other = conn.execute("select count(*) from intermediate.int_cases_in_scope where settle_period <> %s",
                         (_period(year, month),)).fetchone()[0] if month else 0
    if not built_year or built_year[0] != year or other:
        raise UserError(f"the models were built for another period than {_period(year, month)}: "
                        f"build them for it first (or run without build=False)")


def _inputs_ready(conn: psycopg.Connection, url: str, year: int, month: int | None, build: bool) -> None:
    """Build the period's inputs, or (build=False: the Airflow record step) check they were built for it."""
    if build:
        _prepare(url, year, month)
    else:
        _built_for(conn, year, month)


def _calibrate(conn: psycopg.Connection, url: str, year: int, build: bool = True) -> dict:
    run_id = _start_run(conn, "calibrate", str(year))
    try:
        _inputs_ready(conn, url, year, None, build)
        scheme, params = _check_parameters(conn)
        first, last = params["settlement_year"] - params["base_years"], params["settlement_year"] - 1
        n_base = conn.execute(
            """select count(*) from intermediate.int_cases_in_scope c
               join intermediate.int_case_groups_selected g using (hospital_id, case_id)
               where c.settle_year between %s and %s and g.group_status = 'grouped'""",
            (first, last)).fetchone()[0]
        if n_base == 0:
            raise UserError(f"empty base period for {year}: no grouped cases in {first}–{last} under scheme "
                            f"{scheme} (load those years and run drgflow group)")
        _require_current_groupings(conn, "c.settle_year between %s and %s", (first, last),
                                   f"base period {first}–{last}", scheme)
        if build:
            run_dbt(["build", "--selector", runs.CALIBRATION_FIGURES], url=url, vars=_vars(year, None))
        counts = _input_batches(conn, run_id, first, last, None)
        drg_count, a_all = conn.execute(
            "select count(*), max(all_mean_cost) from marts.drg_base_points where settlement_year = %s",
            (year,)).fetchone()
        if a_all is None:
            raise UserError(f"empty base period for {year}: no case of {first}–{last} is in the statistical "
                            f"population (grouped, not bed-day, LOS <= {params['stats_max_los']})")
        counts.update(
            drg_base_points=drg_count,
            hospital_coefficients=conn.execute(
                "select count(*) from marts.hospital_coefficients where settlement_year = %s",
                (year,)).fetchone()[0],
            stable_drgs=conn.execute(
                "select count(*) from marts.drg_base_points where settlement_year = %s and stable",
                (year,)).fetchone()[0])
        phash = params.pop("_hash")
        params_text = json.dumps(params, sort_keys=True, default=str)
        conn.execute(
            """insert into audit.calibrations
                   (settlement_year, run_id, scheme_version, parameters, parameter_hash, drg_count, all_mean_cost)
               values (%s, %s, %s, %s::jsonb, %s, %s, %s)
               on conflict (settlement_year) do update set run_id = excluded.run_id,
                   scheme_version = excluded.scheme_version, parameters = excluded.parameters,
                   parameter_hash = excluded.parameter_hash, drg_count = excluded.drg_count,
                   all_mean_cost = excluded.all_mean_cost, calibrated_at = now()""",
            (year, run_id, scheme, params_text, phash, drg_count, a_all))
        _finish_run(conn, run_id, "success", f"calibrated {year}: {drg_count} DRGs, A_all {a_all}",
                    scheme, params, counts, phash)
        return {"run_id": run_id, "year": year, "scheme_version": scheme, "base_years": [first, last],
                "all_mean_cost": a_all, **counts}
    except Exception as exc:
        _finish_run(conn, run_id, "failed", str(exc)[:2000])
        raise


def settle(year: int, month: int | None = None, url: str | None = None, build: bool = True) -> dict:
    """Case points and the monthly pre-settlement (with month) or the annual settlement of `year` (§4, §5).

    Refuses a closed period. Calibrates the year first when it has no stored calibration.
    build=False records a run whose models were just built for the period by someone else (the Airflow DAG's
    Cosmos tasks, checked by its output checks) instead of building them again; it needs a stored calibration.
    """
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    period = _period(year, month)
    with _locked(url) as conn:
        if _closed(conn, period):
            raise UserError(f"period {period} is closed; its figures are final. To recompute, reopen it: "
                            f"drgflow reopen --period {period} --reason \"...\"")
        if month and _closed(conn, str(year)):
            raise UserError(f"settlement year {year} is closed (its annual clearing used these months); "
                            f"reopen it first: drgflow reopen --period {year} --reason \"...\"")
        calibrated = conn.execute("select 1 from audit.calibrations where settlement_year = %s",
                                  (year,)).fetchone()
        if not calibrated or not _relation_exists(conn, "marts.drg_base_points"):
            if not build:
                raise UserError(f"{year} has no stored calibration: calibrate it first (drgflow calibrate "
                                f"--year {year})")
            _calibrate(conn, url, year)
        run_id = _start_run(conn, "settle", period)
        try:
            _inputs_ready(conn, url, year, month, build)
            scheme, params = _check_parameters(conn)
            _check_settlement_inputs(conn, year, month, scheme)
            if build:
                run_dbt(["build", "--selector", runs.settlement_figures(month)], url=url, vars=_vars(year, month))
            _protect_closed_rows(conn)
            counts = _input_batches(conn, run_id, year, year, period if month else None)
            scope = "settlement_year = %s" + (" and period = %s" if month else "")
            args: tuple = (year, period) if month else (year,)
            counts["case_points"] = conn.execute(f"select count(*) from marts.case_points where {scope}",
                                                 args).fetchone()[0]
            counts["case_types"] = dict(conn.execute(
                f"select case_type, count(*) from marts.case_points where {scope} group by 1 order by 1",
                args).fetchall())
            if month:
                counts["settlement_monthly"] = conn.execute(
                    "select count(*) from marts.settlement_monthly where period = %s", (period,)).fetchone()[0]
            else:
                counts["settlement_annual"] = conn.execute(
                    "select count(*) from marts.settlement_annual where settlement_year = %s",
                    (year,)).fetchone()[0]
            conn.execute("insert into audit.periods (period, status, settle_run_id) values (%s, 'open', %s) "
                         "on conflict (period) do update set settle_run_id = excluded.settle_run_id, "
                         "updated_at = now()", (period, run_id))
            phash = params.pop("_hash")
            _finish_run(conn, run_id, "success", f"settled {period}", scheme, params, counts, phash)
            return {"run_id": run_id, "period": period, "scheme_version": scheme, **counts}
        except Exception as exc:
            _finish_run(conn, run_id, "failed", str(exc)[:2000])
            raise


def _check_settlement_inputs(conn: psycopg.Connection, year: int, month: int | None, scheme: str) -> None:
    """Refuse, with what to do, a period whose cases cannot be settled: no cases, missing budget, missing
    grouping, hospitals outside the registry."""
    where = "c.settle_year = %s" + (" and c.settle_period = %s" if month else "")
    args: tuple = (year, _period(year, month)) if month else (year,)
    n = conn.execute(f"select count(*) from intermediate.int_cases_in_scope c where {where}", args).fetchone()[0]
    if n == 0:
        raise UserError(f"no accepted cases settled in {_period(year, month)}")
    missing = [r[0] for r in conn.execute(
        f"""select distinct c.region_code from intermediate.int_cases_in_scope c
            where {where} and not exists (select 1 from staging.stg_raw__budgets b
                                          where b.region_code = c.region_code and b.year = %s
                                            and b.fund_budget is not null)
            order by 1""", (*args, year)).fetchall()]
    if missing:
        raise UserError(f"missing fund budget for region(s) {', '.join(map(str, missing))} in {year} "
                        f"(load budgets.csv with region_code, year, fund_budget)")
    _require_current_groupings(conn, where, args, _period(year, month), scheme)
    unknown = [r[0] for r in conn.execute(
        f"""select distinct c.hospital_id from intermediate.int_cases_in_scope c where {where}
            and not exists (select 1 from staging.stg_raw__hospitals h where h.hospital_id = c.hospital_id
                            and h.level is not null)
            order by 1 limit 10""", args).fetchall()]
    if unknown:
        raise UserError(f"hospital(s) {', '.join(unknown)} are not in the registry with a level "
                        f"(load hospitals.csv)")


def _require_current_groupings(conn: psycopg.Connection, where: str, args: tuple, what: str, scheme: str) -> None:
    """Refuse cases without a grouping, or whose grouping is of an older case version than the accepted one
    (a correction loaded after `drgflow group`): money is never computed from a stale group (spec §1)."""
    missing, stale, example = conn.execute(
        f"""select count(*) filter (where g.case_id is null),
                   count(*) filter (where g.case_id is not null
                                    and (g.batch_id, g.source_row) is distinct from (c.batch_id, c.source_row)),
                   min(c.hospital_id || '/' || c.case_id) filter (
                       where g.case_id is not null
                         and (g.batch_id, g.source_row) is distinct from (c.batch_id, c.source_row))
            from intermediate.int_cases_in_scope c
            left join intermediate.int_case_groups_selected g
              on g.hospital_id = c.hospital_id and g.case_id = c.case_id
            where {where}""", args).fetchone()
    if missing:
        raise UserError(f"{missing} case(s) of {what} have no grouping under scheme {scheme}: "
                        f"run drgflow group --scheme {scheme}")
    if stale:
        raise UserError(f"{stale} case(s) of {what} changed after they were grouped (e.g. {example}: a newer "
                        f"version was loaded): regroup them with drgflow group --scheme {scheme} "
                        f"(drgflow run groups before it settles)")


def _protect_closed_rows(conn: psycopg.Connection) -> None:
    """Triggers refusing any change to rows of closed periods (dbt owns the tables; we add the guard to each
    that exists: a record-only monthly run may come before the first annual table)."""
    for table, kind in (("settlement_monthly", "month"), ("settlement_annual", "year")):
        if _relation_exists(conn, f"marts.{table}"):
            conn.execute(f"""create or replace trigger {table}_closed
                             before update or delete on marts.{table}
                             for each row execute function audit.refuse_closed_period_change('{kind}')""")
            conn.execute(f"""create or replace trigger {table}_closed_truncate
                             before truncate on marts.{table}
                             for each statement execute function audit.refuse_closed_period_truncate('{kind}')""")


def close_period(period: str, url: str | None = None) -> dict:
    """Make a settled period ('YYYY-MM' or 'YYYY') immutable; records the case points it was settled with."""
    year, month = parse_period(period)
    period = _period(year, month)
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    with _locked(url) as conn:
        row = conn.execute("select status, settle_run_id from audit.periods where period = %s",
                           (period,)).fetchone()
        if row is None or row[1] is None:
            raise UserError(f"period {period} has not been settled: run drgflow settle --year {year}"
                            + (f" --month {month}" if month else "") + " first")
        if row[0] == "closed":
            return {"period": period, "status": "closed", "changed": False}
        _require_settled_consistently(conn, year, month, row[1])
        run_id = _start_run(conn, "close", period)
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
            if _relation_exists(conn, "marts.settlement_monthly"):
                _protect_closed_rows(conn)
            counts = _period_counts(conn, year, month)
        _finish_run(conn, run_id, "success", f"closed {period}", row_counts=counts)
        return {"period": period, "status": "closed", "changed": True, "run_id": run_id, **counts}


def _require_settled_consistently(conn: psycopg.Connection, year: int, month: int | None, recorded_run: int) -> None:
    """Close only a period whose last settle run completed and whose marts agree (case points = totals)."""
    period = _period(year, month)
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
                                "where period = %s", (_period(year, month),)).fetchone()
        return {"settlement_monthly": n, "prepayment_total": str(total)}
    if not _relation_exists(conn, "marts.settlement_annual"):
        return {}
    n, total = conn.execute("select count(*), coalesce(sum(payable), 0) from marts.settlement_annual "
                            "where settlement_year = %s", (year,)).fetchone()
    return {"settlement_annual": n, "payable_total": str(total)}


def reopen_period(period: str, reason: str, url: str | None = None) -> dict:
    """Reopen a closed period so it can be settled again; the reason is logged (audit.period_events)."""
    year, month = parse_period(period)
    period = _period(year, month)
    if not (reason or "").strip():
        raise UserError("reopening a period needs a reason (--reason \"...\")")
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    with _locked(url) as conn:
        if not _closed(conn, period):
            raise UserError(f"period {period} is not closed")
        run_id = _start_run(conn, "reopen", period)
        with conn.transaction():
            # the event first: the periods trigger lets a closed period reopen only with a logged reason
            conn.execute("insert into audit.period_events (period, action, reason, run_id) "
                         "values (%s, 'reopen', %s, %s)", (period, reason.strip(), run_id))
            conn.execute("update audit.periods set status = 'open', updated_at = now() where period = %s", (period,))
        _finish_run(conn, run_id, "success", f"reopened {period}: {reason.strip()}",
                    parameters={"reason": reason.strip()})
        return {"period": period, "status": "open", "run_id": run_id}


def explain_case(hospital_id: str, case_id: str, year: int | None = None, url: str | None = None) -> str:
    """How a case's group, type, points and money were computed, in words a hospital can check."""
    url = url or db.database_url()
    with db.connect(url) as conn:
        if not _relation_exists(conn, "marts.case_points"):
            raise UserError("no case points yet: run drgflow settle first")
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        sql = "select * from marts.case_points where hospital_id = %s and case_id = %s"
        args: tuple = (hospital_id, case_id)
        if year:
            sql += " and settlement_year = %s"
            args += (year,)
        cp = cur.execute(sql + " order by settlement_year desc limit 1", args).fetchone()
        if cp is None:
            raise UserError(f"case {hospital_id}/{case_id} has no case points"
                            + (f" in {year}" if year else "") + " (not settled, or not an accepted case)")
        y = cp["settlement_year"]
        cal = cur.execute("select * from audit.calibrations where settlement_year = %s", (y,)).fetchone()
        lines = [f"Case {hospital_id}/{case_id}, settlement year {y}, period {cp['period']}, "
                 f"region {cp['region_code']}",
                 f"  grouping ({cp['scheme_version']}): status {cp['group_status'] or '—'}, DRG {cp['drg'] or '—'}",
                 f"  total cost {cp['total_cost']} yuan, personal payment {cp['personal_paid']}, "
                 f"LOS {cp['los_days']} days, hospital level {cp['level']}",
                 f"  case type: {cp['case_type']}"]
        a_all = cp["all_mean_cost"]
        t = cp["case_type"]
        if t == "special_review":
            lines.append(f"  特病单议: approved decision of {cp['special_review_points']} points (spec §4.1)")
        elif t == "bed_day":
            lines.append(f"  床日 category {cp['bed_day_category']}: per diem {cp['per_diem']} × {cp['los_days']} days "
                         f"/ A_all {_fmt(a_all)} × 100 (spec §4.2)")
        elif t in ("ungroupable", "qy", "unstable"):
            factor = {"ungroupable": " × q_ungroupable", "qy": " × q_qy", "unstable": ""}[t]
            lines.append(f"  cost {cp['total_cost']} / A_all {_fmt(a_all)} × 100{factor} (spec §4)")
        else:
            lines.append(f"  base points BP {cp['base_points']} (A_g {_fmt(cp['mean_cost'])} / A_all {_fmt(a_all)} "
                         f"× 100), cost ratio C/A_g {_fmt(cp['cost_ratio'])}, "
                         f"high-ratio multiple k {cp['high_ratio_multiple']}")
            if cp["coefficient"] is not None:
                hc = cur.execute("select * from marts.hospital_coefficients where settlement_year = %s and "
                                 "hospital_id = %s and drg = %s", (y, hospital_id, cp["drg"])).fetchone()
                if hc:
                    lines.append(f"  差异系数 c = {hc['coefficient']} (hospital ratio {_fmt(hc['hospital_ratio'])}, "
                                 f"level ratio {_fmt(hc['level_ratio'])}, spec §3)")
            formula = {"normal": "BP × c", "high": "BP × c + BP × (C/A_g − k) × β",
                       "low": "BP × C/A_g"}[t]
            lines.append(f"  points = {formula} (spec §4)")
        lines.append(f"  points: {cp['points']}")
        money = _case_money(cur, cp)
        lines.extend(money)
        if cal:
            lines.append(f"  calibration of {y}: run {cal['run_id']}, scheme {cal['scheme_version']}, "
                         f"parameter hash {cal['parameter_hash'][:12]}")
        return "\n".join(lines)


def _case_money(cur, cp: dict) -> list[str]:
    out = []
    if cur.execute("select to_regclass('marts.settlement_monthly') is not null").fetchone()["?column?"]:
        m = cur.execute("select point_value, prepay_ratio from marts.settlement_monthly where period = %s and "
                        "region_code = %s limit 1", (cp["period"], cp["region_code"])).fetchone()
        if m and m["point_value"] is not None:
            out.append(f"  monthly point value {cp['period']}: {_fmt(m['point_value'])} yuan/point → case worth "
                       f"{_money(cp['points'] * m['point_value'])} yuan before personal payment and "
                       f"ρ {m['prepay_ratio']}")
    if cur.execute("select to_regclass('marts.settlement_annual') is not null").fetchone()["?column?"]:
        a = cur.execute("select point_value, assessment_coef from marts.settlement_annual where settlement_year = %s "
                        "and region_code = %s and hospital_id = %s", (cp["settlement_year"], cp["region_code"],
                                                                     cp["hospital_id"])).fetchone()
        if a and a["point_value"] is not None:
            value = cp["points"] * a["point_value"] * a["assessment_coef"]
            out.append(f"  annual point value {cp['settlement_year']}: {_fmt(a['point_value'])} × K "
                       f"{a['assessment_coef']} → case worth {_money(value)} yuan; fund share "
                       f"{_money(value - cp['personal_paid'])} after the personal payment")
    return out


def _fmt(x: Any, places: int = 6) -> str:
    if x is None:
        return "—"
    return f"{Decimal(x):.{places}f}"


def _money(x: Any) -> str:
    return f"{Decimal(x):,.2f}"
