"""What the DAG tasks do, as plain functions (the DAG modules only wrap them): landing-folder ingest, the
settlement period of a run, guards, recording and publishing through drgflow.settlement, and alerts."""
from __future__ import annotations

import datetime as _dt
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import pendulum

from drgflow import config, contract, db, grouping, loader, reports, settlement
from drgflow.airflow.timetables import TZ_NAME

log = logging.getLogger(__name__)
#: load order: reference tables before the cases that need them (as drgflow.loader.load_paths does)


# ------------------------------------------------------------------------------------------------ ingest

def landing_dir() -> Path:
    """DRGFLOW_LANDING, default DRGFLOW_HOME/landing (created with processed/ and refused/)."""
    path = Path(config.env("DRGFLOW_LANDING") or config.home() / "landing").resolve()
    for sub in ("", "processed", "refused"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def new_files(landing: Path, min_age_seconds: float = 60.0) -> list[str]:
    """CSV files directly in the landing folder, older than min_age_seconds (a file still being copied in is
    left for the next run); hidden and partial files are ignored."""
    now = time.time()
    return [str(f) for f in sorted(landing.glob("*.csv"))
            if f.is_file() and not f.name.startswith(".") and now - f.stat().st_mtime >= min_age_seconds]


def _set_aside(path: Path, folder: Path) -> Path:
    """Move a file into folder (processed/ or refused/), never overwriting an earlier file of the same name."""
    stamp = pendulum.now(TZ_NAME).format("YYYYMMDDTHHmmss")
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    return target


def _kind(path: Path) -> str | None:
    header, _ = loader.read_header(path, loader.scan_encoding_quick(path))
    return contract.kind_of_header(header, path.name)


def ingest_files(paths: list[str], url: str | None = None) -> dict[str, Any]:
    """Load and validate each file (drgflow.loader.load_paths), one at a time so one refused file does not stop
    the others. Loaded files go to processed/, refused ones to refused/ with <name>.error.txt next to them.
    Anything other than a refused file (database down, bug) fails the task and leaves the file in place."""
    url = url or db.database_url()
    landing = landing_dir()
    ordered: list[tuple[int, Path]] = []
    summary: dict[str, Any] = {"loaded": [], "refused": [], "skipped": [], "cases_accepted": 0,
                               "cases_quarantined": 0, "batches": []}
    for p in map(Path, paths):
        try:
            kind = _kind(p)
        except loader.LoadError as exc:
            kind, error = None, str(exc)
        else:
            error = f"{p.name}: line 1: header matches no known file kind" if kind is None else ""
        if kind is None:
            _refuse(p, landing, error, summary)
            continue
        ordered.append((contract.LOAD_ORDER.index(kind) if kind in contract.LOAD_ORDER else 9, p))
    for _, p in sorted(ordered, key=lambda item: (item[0], item[1].name)):
        try:
            results = loader.load_paths([p], url, validate=True, progress=False)
        except loader.LoadError as exc:
            _refuse(p, landing, str(exc), summary)
            continue
        for r in results:
            entry = {"file": p.name, "kind": r.kind, "batch_id": r.batch_id, "rows_read": r.rows_read,
                     "rows_accepted": r.rows_accepted, "rows_quarantined": r.rows_quarantined,
                     "already_loaded": r.skipped}
            (summary["skipped"] if r.skipped else summary["loaded"]).append(entry)
            if r.kind == "cases" and not r.skipped:
                summary["cases_accepted"] += r.rows_accepted
                summary["cases_quarantined"] += r.rows_quarantined
                summary["batches"].append(r.batch_id)
        moved = _set_aside(p, landing / "processed")
        log.info("loaded %s -> %s", p.name, moved)
    return summary


def _refuse(path: Path, landing: Path, error: str, summary: dict[str, Any]) -> None:
    moved = _set_aside(path, landing / "refused")
    moved.with_name(moved.name + ".error.txt").write_text(error.rstrip() + "\n", encoding="utf-8")
    summary["refused"].append({"file": path.name, "error": error})
    log.warning("refused %s: %s", path.name, error)


# ------------------------------------------------------------------------------------------------ periods

def period_of(kind: str, data_interval_start: _dt.datetime, data_interval_end: _dt.datetime) -> dict[str, Any]:
    """The settlement period of a run from its data interval (Asia/Shanghai).

    monthly: the interval's month; annual settlement: the interval's year; calibration: the year after the
    interval (calibrating year Y runs in early January of Y over the just-closed year Y-1)."""
    start = pendulum.instance(data_interval_start).in_timezone(TZ_NAME)
    end = pendulum.instance(data_interval_end).in_timezone(TZ_NAME)
    if kind == "monthly":
        year, month = start.year, start.month
    elif kind == "annual":
        year, month = start.year, None
    elif kind == "calibration":
        year, month = end.year, None
    else:
        raise ValueError(f"unknown period kind {kind!r}")
    return {"kind": kind, "period": f"{year:04d}-{month:02d}" if month else f"{year:04d}",
            "settlement_year": year, "settlement_month": month, "scheme_version": config.default_scheme_version(),
            "data_interval_start": start.isoformat(), "data_interval_end": end.isoformat()}


def scheme_of_year(year: int, url: str | None = None) -> str:
    """The grouping scheme settlement year `year` uses (drgflow.grouping.scheme_for_year)."""
    return grouping.scheme_for_year(int(year), url or db.database_url())


def period_status(period: str, url: str | None = None) -> str | None:
    """'open', 'closed' or None (never settled) from audit.periods."""
    with db.connect(url or db.database_url()) as conn:
        return settlement.period_status(conn, period)


def closed_months(year: int, url: str | None = None) -> list[str]:
    """The year's closed months (YYYY-MM, ascending) from audit.periods; [] before that table exists."""
    with db.connect(url or db.database_url()) as conn:
        return [p for p in settlement.closed_periods(conn, year) if "-" in p]


def prepare_reference(period: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """Warehouse schemas, terminology and the scheme version in ref (idempotent) before the grouping models."""
    url = url or db.database_url()
    db.init_warehouse(url)
    if not period.get("scheme_version"):
        raise RuntimeError("no grouping scheme configured (DRGFLOW_SCHEME)")
    grouping.ensure_reference(url, period["scheme_version"])
    with db.connect(url) as conn:
        cases = conn.execute("select count(*) from raw.cases").fetchone()[0]
    if cases == 0:
        raise RuntimeError(f"period {period['period']}: no cases loaded yet (drop files into the landing folder)")
    return {"raw_cases": cases}


def ensure_calibration(period: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """The year's calibration (drgflow.settlement.calibrate) when none is stored: the case-points models need
    the year's base points and coefficients, and the policy seeds calibrate loads."""
    url = url or db.database_url()
    year = int(period["settlement_year"])
    with db.connect(url) as conn:
        exists = conn.execute("select to_regclass('audit.calibrations') is not null").fetchone()[0] and \
            conn.execute("select 1 from audit.calibrations where settlement_year = %s", (year,)).fetchone()
    if exists:
        return {"calibrated": False, "year": year}
    result = settlement.calibrate(year, url=url)
    return {"calibrated": True, "year": year, "run_id": result.get("run_id")}


def record_settlement(period: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """Record the period as settled (drgflow.settlement.settle: audit.runs, audit.run_inputs, audit.periods).
    The figures were built by the DAG's dbt tasks and passed its output checks: record them, don't rebuild."""
    out = settlement.settle(int(period["settlement_year"]), period["settlement_month"],
                            url=url or db.database_url(), build=False)
    return _jsonable(out)


def record_calibration(period: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """Record the year's calibration built by the DAG's dbt tasks (drgflow.settlement.calibrate, no rebuild)."""
    return _jsonable(settlement.calibrate(int(period["settlement_year"]), url=url or db.database_url(), build=False))


def publish(period: dict[str, Any], close: bool, docs: bool = True, url: str | None = None) -> dict[str, Any]:
    """Publish a checked period: write its reports and (by default) close it so its figures become final."""
    url = url or db.database_url()
    out: dict[str, Any] = {"period": period["period"], "reports": write_reports(period, url, docs=docs)}
    if close:
        out["close"] = _jsonable(settlement.close_period(period["period"], url=url))
    return out


def write_reports(period: dict[str, Any], url: str | None = None, docs: bool = True) -> list[str]:
    """The period's reports (drgflow.reports: statements, regional report, index, dbt docs when `docs`)."""
    url = url or db.database_url()
    return [str(p) for p in reports.write_period_reports(period["period"], url=url, docs=docs)]


def _jsonable(value: Any) -> Any:
    """Settlement results carry Decimals; XCom wants JSON."""
    return json.loads(json.dumps(value, default=str))


# ------------------------------------------------------------------------------------------------ alerts

def alert_text(context: dict[str, Any]) -> str:
    """One line for the on-call: DAG, period, task and what failed (the exception names the failing checks)."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    period = None
    try:
        period = (ti.xcom_pull(task_ids="period") or {}).get("period")
    except Exception:  # the period task itself failed, or XCom is unreachable: say what we know
        period = None
    if period is None and context.get("data_interval_start") is not None:
        period = pendulum.instance(context["data_interval_start"]).in_timezone(TZ_NAME).format("YYYY-MM-DD")
    exc = context.get("exception")
    return (f"drgflow ALERT {dag_id} period {period or '?'}: task {task_id} failed, nothing after it was "
            f"published: {exc}")


def alerts_dir() -> Path:
    """DRGFLOW_HOME/alerts, created if missing."""
    path = config.home() / "alerts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def on_failure(context: dict[str, Any]) -> None:
    """Task failure callback: log the alert and append it to DRGFLOW_HOME/alerts/<dag_id>.log (what a mail or
    chat hook would send; the file is what the docs server and tests read)."""
    text = alert_text(context)
    log.error(text)
    ti = context.get("task_instance") or context.get("ti")
    stamp = pendulum.now(TZ_NAME).isoformat()
    with (alerts_dir() / f"{getattr(ti, 'dag_id', 'drgflow')}.log").open("a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {text}\n")
