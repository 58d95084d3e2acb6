"""The Airflow DAGs on a real PostgreSQL with real dbt (through Cosmos) and dag.test(): DagBag import, the
calendar-period timetable (backfill ranges), claims_ingest from a landing folder, monthly_settlement for two
consecutive months (a small backfill), a rerun that changes nothing, an injected failing GX check that stops
the month before anything is published and a clean rerun after the fix, annual calibration and settlement.

Airflow's metadata database is a fresh PostgreSQL database on the same server (never SQLite); the warehouse
is a fresh database too. Airflow reads its configuration when first imported, so every Airflow import
happens inside the fixtures/tests after the environment is set.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pendulum
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from conftest import create_database, drop_database
from drgflow import config, db, settlement

REPO = config.REPO_ROOT
SH = "Asia/Shanghai"
NO_DOCS = {"dbt_docs": False}  # regenerating dbt docs with every test run's reports costs time, proves nothing new
pytestmark = pytest.mark.timeout(900)


def _sqlalchemy_psycopg2(url: str) -> str:
    """Airflow's metadata URL (postgresql+psycopg2) for a libpq URL; a socket directory goes in the query."""
    from sqlalchemy.engine import URL

    p = conninfo_to_dict(url)
    host = str(p.get("host") or "localhost")
    query = {"host": host} if host.startswith("/") else {}
    if host.startswith("/") and p.get("port"):
        query["port"] = str(p["port"])
    u = URL.create("postgresql+psycopg2", username=p.get("user") or None, password=p.get("password") or None,
                   host=None if query else host, port=None if query or not p.get("port") else int(p["port"]),
                   database=p.get("dbname"), query=query)
    return u.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    """AIRFLOW_HOME in a temp folder, a migrated metadata database on the test server, our DAGs and plugin;
    the warehouse (DRGFLOW_DATABASE_URL) is a fresh database; landing and reports in temp folders."""
    home = tmp_path_factory.mktemp("airflow_home")
    meta_name, meta_url = create_database("airflow_meta")
    wh_name, wh_url = create_database("drgflow_dags")
    saved = dict(os.environ)
    landing = home / "landing"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _sqlalchemy_psycopg2(meta_url),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _sqlalchemy_psycopg2(meta_url).replace("+psycopg2", "+psycopg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins" / "drgflow" / "airflow" / "plugins_folder"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": SH,
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DRGFLOW_DATABASE_URL": wh_url,
        "DRGFLOW_SCHEME": "SAMPLE-DRG",
        "DRGFLOW_LANDING": str(landing),
        "DRGFLOW_REPORTS": str(home / "reports"),
    }
    os.environ.update(env)
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    db.init_warehouse(wh_url)
    yield {"home": home, "landing": landing, "url": wh_url, "reports": home / "reports"}
    os.environ.clear()
    os.environ.update(saved)
    drop_database(meta_name)
    drop_database(wh_name)


def q(url: str, text: str, args=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(text, args).fetchall()


def _states(dr) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def _run(dag, logical_date, **kw):
    started = time.monotonic()
    dr = dag.test(logical_date=logical_date, **kw)
    seconds = time.monotonic() - started
    slow = sorted(((ti.duration or 0, ti.task_id) for ti in dr.get_task_instances()), reverse=True)[:8]
    print(f"{dag.dag_id} {logical_date}: {seconds:.1f} s; slowest tasks:", ", ".join(f"{t} {d:.1f}s" for d, t in slow))
    return dr, seconds


# ------------------------------------------------------------------------------------------------ parsing

def _parse_dags_folder() -> tuple[float, int, str]:
    """DagBag of dags/ in a fresh process: (seconds for the parse itself, DAG count, import errors).
    Importing Airflow (~3 s) is the process start, not the parse, and is not counted."""
    code = ("import time; from airflow.dag_processing.dagbag import DagBag; t = time.monotonic();"
            f"bag = DagBag(dag_folder={str(REPO / 'dags')!r});"
            "print(round(time.monotonic() - t, 2), len(bag.dags), bag.import_errors)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(),
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    seconds, n, errors = out.stdout.strip().splitlines()[-1].split(" ", 2)
    return float(seconds), int(n), errors


def test_dagbag_imports_without_errors_and_fast(airflow_env):
    from drgflow.airflow.dbt import ensure_manifest, project_hash

    ensure_manifest()  # the image build / airflow-init does this once
    before = project_hash()
    seconds, n, errors = _parse_dags_folder()
    if project_hash() != before:  # somebody edited the dbt project meanwhile: that parse included dbt parse
        seconds, n, errors = _parse_dags_folder()
    print(f"DagBag: {n} DAGs parsed in {seconds} s")
    assert errors == "{}"
    assert n == 4
    assert seconds < 10


def test_dags_are_thin_and_discoverable():
    for f in sorted((REPO / "dags").glob("*.py")):
        text = f.read_text()
        assert "airflow" in text.lower() and "dag" in text.lower(), f"{f.name} would be skipped by discovery"
        assert len(text.splitlines()) <= 8, f"{f.name} is not thin"


def test_a_scheme_named_but_not_on_this_machine_falls_back_to_its_name(airflow_env, monkeypatch, tmp_path):
    """DRGFLOW_SCHEME may name a scheme whose pack is not here (its tables were imported elsewhere): the settlement
    vars and the Airflow period use that name instead of failing (the fallback used to catch SystemExit, while
    default_scheme raises UserError)."""
    from drgflow.airflow import tasks

    monkeypatch.setenv("DRGFLOW_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.setenv("DRGFLOW_SCHEME", "CHS-DRG-9.9")
    assert config.default_scheme_version() == "CHS-DRG-9.9"
    assert settlement.dbt_vars(2024, 3)["scheme_version"] == "CHS-DRG-9.9"
    start = dt.datetime(2024, 2, 29, 16, tzinfo=dt.timezone.utc)
    assert tasks.period_of("monthly", start, start + dt.timedelta(days=31))["scheme_version"] == "CHS-DRG-9.9"
    monkeypatch.delenv("DRGFLOW_SCHEME")
    assert config.default_scheme_version() == "SAMPLE-DRG"


def test_dag_structure(airflow_env):
    from drgflow.airflow import dags

    monthly = dags.monthly_settlement_dag()
    assert monthly.max_active_runs == 1
    assert str(monthly.timezone.name) == SH
    ids = set(monthly.task_dict)
    assert {"period", "reference", "calibration", "check_outputs", "record", "publish"} <= ids
    models = [t for t in ids if t.startswith("settlement_models.") and t.endswith("_run")]
    assert {"settlement_models.case_points_run", "settlement_models.settlement_monthly_run"} <= set(models)
    test_task = monthly.task_dict["settlement_models.dbt_project_test"]
    assert test_task.retries == 0 and monthly.task_dict["settlement_models.case_points_run"].retries > 0
    # the group's tests are dbt's for the run's named selector (tests/test_selectors.py checks which they are)
    assert (test_task.selector, test_task.indirect_selection) == ("settlement_monthly", "cautious")
    # tests after the models, the GX gate after the tests, publishing last
    assert "settlement_models.dbt_project_test" in monthly.task_dict["check_outputs"].upstream_task_ids
    assert "record" in monthly.task_dict["publish"].upstream_task_ids
    assert "case_grouping" in " ".join(t for t in ids if t.startswith("grouping."))


def test_cosmos_renders_the_models_dbt_selects(airflow_env, tmp_path):
    """Cosmos reads the named selectors from the manifest with its own parser (LoadMode.DBT_MANIFEST): every task
    group a DAG renders has a task for exactly the models `dbt ls --selector` gives (the command line's)."""
    from airflow.sdk import DAG
    from dbt.cli.main import dbtRunner

    from drgflow import runs
    from drgflow.airflow.dbt import dbt_task_group

    project = str(config.dbt_project_dir())
    placeholders = {"DRGFLOW_DB_HOST": "parse-only", "DRGFLOW_DB_USER": "parse-only", "DRGFLOW_DB_NAME": "parse-only"}
    with DAG("selectors", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz=SH)) as dag:
        for run in (runs.GROUPING, runs.CALIBRATION, runs.SETTLEMENT_MONTHLY, runs.SETTLEMENT_ANNUAL):
            dbt_task_group(run, run)
    for run in (runs.GROUPING, runs.CALIBRATION, runs.SETTLEMENT_MONTHLY, runs.SETTLEMENT_ANNUAL):
        rendered = {t.task_id.removeprefix(f"{run}.").removesuffix("_run") for t in dag.tasks
                    if t.task_id.startswith(f"{run}.") and t.task_id.endswith("_run")}
        with config.environ(placeholders):
            result = dbtRunner().invoke(["--quiet", "--log-path", str(tmp_path / "logs"), "ls", "--selector", run,
                                         "--resource-type", "model", "--output", "name", "--project-dir", project,
                                         "--profiles-dir", project, "--target-path", str(tmp_path)])
        assert result.success, result.exception
        assert rendered == set(result.result), (run, rendered ^ set(result.result))


# ------------------------------------------------------------------------------------------------ timetable

def test_period_timetable_intervals_and_backfill_range(airflow_env):
    from airflow.timetables.base import TimeRestriction

    from drgflow.airflow.timetables import PeriodTimetable

    tt = PeriodTimetable("month", delay_days=4, delay_hours=3)
    # a manual run (or dag.test) on 5 April 2024 03:00 Shanghai settles March 2024
    di = tt.infer_manual_data_interval(run_after=pendulum.datetime(2024, 4, 5, 3, tz=SH))
    assert di.start == pendulum.datetime(2024, 3, 1, tz=SH) and di.end == pendulum.datetime(2024, 4, 1, tz=SH)
    # one minute earlier March is not due yet: February
    di = tt.infer_manual_data_interval(run_after=pendulum.datetime(2024, 4, 5, 2, 59, tz=SH))
    assert di.start == pendulum.datetime(2024, 2, 1, tz=SH)
    # the 2016–2019 backfill: 48 calendar months, each run due on the 5th at 03:00 of the next month
    infos, last = [], None
    restriction = TimeRestriction(earliest=pendulum.datetime(2016, 1, 1, tz=SH),
                                  latest=pendulum.datetime(2019, 12, 1, tz=SH), catchup=True)
    while (info := tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)) is not None:
        infos.append(info)
        last = info.data_interval
    assert len(infos) == 48
    assert infos[0].data_interval.start == pendulum.datetime(2016, 1, 1, tz=SH)
    assert infos[1].run_after == pendulum.datetime(2016, 3, 5, 3, tz=SH)
    assert infos[-1].data_interval.end == pendulum.datetime(2020, 1, 1, tz=SH)
    # the plugin registers it, so the DAG serializes (what the scheduler and dag.test need)
    yearly = PeriodTimetable("year", delay_months=2, delay_days=0, delay_hours=3)
    assert PeriodTimetable.deserialize(yearly.serialize()) == yearly
    from airflow.serialization.encoders import encode_timetable

    assert encode_timetable(yearly)["__type"].endswith("PeriodTimetable")


# ------------------------------------------------------------------------------------------------ ingest

YEARS = [2021, 2022, 2023, 2024]


@pytest.fixture(scope="module")
def city(airflow_env, tmp_path_factory):
    """A small generated city (4 years, SAMPLE-DRG), dropped into the landing folder with one broken file."""
    from drgflow import generate

    out = tmp_path_factory.mktemp("city")
    generate.generate_city(out, years=YEARS, cases_per_year=240, hospitals=4, regions=1, seed=11,
                           defect_rate=0.02, scheme_dir=config.sample_scheme_dir(), split="year")
    landing = airflow_env["landing"]
    landing.mkdir(parents=True, exist_ok=True)
    for f in out.glob("*.csv"):
        if f.name != "defects.csv":
            shutil.copy(f, landing / f.name)
    (landing / "cases_broken.csv").write_text("case_id,hospital_id\nX1,H1\n", encoding="utf-8")
    return {"source": out, **airflow_env}


def test_claims_ingest_loads_sets_aside_and_emits_asset(city):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    from drgflow.airflow.dags import CASES_ASSET, claims_ingest_dag

    landing, url = city["landing"], city["url"]
    dropped = sorted(f.name for f in landing.glob("*.csv"))
    dag = claims_ingest_dag()
    dr, seconds = _run(dag, pendulum.now(SH), run_conf={"min_age_seconds": 0})
    print(f"claims_ingest dag.test: {seconds:.1f} s for {len(dropped)} files")
    states = _states(dr)
    assert states["load"] == "success" and states["announce"] == "success"
    # the refused file is reported (task failed, alert written) but did not stop the others
    assert states["report_refused"] == "failed"
    assert not list(landing.glob("*.csv"))
    assert sorted(f.name for f in (landing / "processed").glob("*.csv")) == [n for n in dropped
                                                                          if n != "cases_broken.csv"]
    error = (landing / "refused" / "cases_broken.csv.error.txt").read_text()
    assert "cases_broken.csv" in error and "line 1" in error
    assert q(url, "select count(*) from audit.batches where file_kind = 'cases'")[0][0] == len(YEARS)
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.asset.has(uri=CASES_ASSET.uri)).all()
    assert len(events) == 1 and events[0].extra["cases_accepted"] == q(
        url, "select coalesce(sum(rows_accepted), 0) from audit.batches where file_kind = 'cases'")[0][0]
    # nothing new: the run skips, no second Asset event
    dr, _ = _run(dag, pendulum.now(SH), run_conf={"min_age_seconds": 0})
    assert str(dr.state) == "success" and set(_states(dr).values()) == {"skipped"}
    with create_session() as session:
        assert session.query(AssetEvent).filter(AssetEvent.asset.has(uri=CASES_ASSET.uri)).count() == 1


# ------------------------------------------------------------------------------------------------ monthly

def _marts_snapshot(url: str, period: str) -> list[tuple]:
    return q(url, "select region_code, hospital_id, case_count, total_points, point_value, prepayment "
                  "from marts.settlement_monthly where period = %s order by 1, 2", (period,))


@pytest.mark.slow
def test_monthly_settlement_full_dag_then_rerun_changes_nothing(city):
    """The DAG as deployed (grouping, case points and pre-settlement through Cosmos, GX, record, publish) for
    January 2024 (run due 5 February 03:00); the second run of the closed period changes nothing."""
    from drgflow.airflow.dags import monthly_settlement_dag

    url = city["url"]
    dag = monthly_settlement_dag()
    dr, seconds = _run(dag, pendulum.datetime(2024, 2, 5, 3, tz=SH), run_conf=NO_DOCS)
    states = _states(dr)
    assert str(dr.state) == "success", states
    assert dr.data_interval_start == pendulum.datetime(2024, 1, 1, tz=SH)
    assert dr.data_interval_end == pendulum.datetime(2024, 2, 1, tz=SH)
    _assert_month_published(city, "2024-01")
    assert q(url, "select count(*) from marts.case_grouping")[0][0] == q(
        url, "select count(*) from staging.stg_raw__cases")[0][0]
    # the documented backfill command (Airflow 3 CLI) plans one run per month of 2016–2019
    out = subprocess.run([sys.executable, "-m", "airflow", "backfill", "create", "--dag-id", "monthly_settlement",
                          "--from-date", "2016-01-01T00:00:00+08:00", "--to-date", "2019-12-01T00:00:00+08:00",
                          "--dry-run"], capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    planned = [line for line in out.stdout.splitlines() if line.startswith("| 20")]
    assert len(planned) == 48, out.stdout[-2000:] + out.stderr[-2000:]
    assert planned[0].startswith("| 2015-12-31 16:00:00+00:00") and planned[-1].startswith("| 2019-11-30 16:00")
    before = _marts_snapshot(url, "2024-01")
    events = q(url, "select count(*) from audit.period_events")[0][0]
    runs = q(url, "select count(*) from audit.runs")[0][0]
    dr, seconds = _run(dag, pendulum.datetime(2024, 2, 5, 3, tz=SH))
    assert str(dr.state) == "success"
    assert _states(dr)["period"] == "skipped"
    assert _marts_snapshot(url, "2024-01") == before
    assert q(url, "select count(*) from audit.period_events")[0][0] == events
    assert q(url, "select count(*) from audit.runs")[0][0] == runs


def _assert_month_published(city: dict, period: str) -> None:
    url = city["url"]
    assert q(url, "select count(*) from marts.settlement_monthly where period = %s", (period,))[0][0] > 0
    assert q(url, "select status from audit.periods where period = %s", (period,)) == [("closed",)]
    n_cases = q(url, "select count(*) from staging.stg_raw__cases where settle_period = %s", (period,))[0][0]
    assert q(url, "select count(*) from marts.case_points where period = %s", (period,))[0][0] == n_cases > 0
    assert list((city["reports"] / period).glob("*")), "no report written"


def _budget_2024(city: dict) -> list[str]:
    with (city["source"] / "budgets.csv").open(encoding="utf-8") as handle:
        return [r for r in csv.reader(handle) if r[1] == "2024"][0]


def _load_budget(city: dict, tmp_path: Path, name: str, value: str) -> None:
    """A budgets file replacing 2024's budget (the latest row wins)."""
    from drgflow import loader

    region, year, _ = _budget_2024(city)
    f = tmp_path / name
    f.write_text(f"region_code,year,fund_budget\n{region},{year},{value}\n", encoding="utf-8")
    loader.load_paths([f], city["url"], progress=False)


@pytest.mark.slow
def test_failing_check_stops_the_month_before_publishing_and_rerun_resumes(city, tmp_path):
    """Backfill's next period (February 2024) with an injected bad budget: the GX gate fails naming the check
    and the period, nothing is recorded or published; after the fix the same run is cleared and completes."""
    from drgflow.airflow import tasks
    from drgflow.airflow.dags import monthly_settlement_dag

    url = city["url"]
    original = _budget_2024(city)[2]
    _load_budget(city, tmp_path, "budgets_bad.csv", "-99999999.00")
    alerts = tasks.alerts_dir() / "monthly_settlement.log"
    seen = alerts.stat().st_size if alerts.exists() else 0
    # grouping is already done for every loaded case: the test DAG skips that task group, the rest is as deployed
    dag = monthly_settlement_dag(grouping=False)
    dr, seconds = _run(dag, pendulum.datetime(2024, 3, 5, 3, tz=SH), run_conf=NO_DOCS)
    states = _states(dr)
    assert str(dr.state) == "failed"
    assert states["check_outputs"] == "failed"
    assert states["record"] == "upstream_failed" and states["publish"] == "upstream_failed"
    assert q(url, "select count(*) from audit.periods where period = '2024-02'")[0][0] == 0
    assert not (city["reports"] / "2024-02").exists()
    alert = alerts.read_text(encoding="utf-8")[seen:]
    assert "period 2024-02" in alert and "settlement_monthly_point_value_positive" in alert, alert
    # the fix: the bureau sends the right budget; rerunning the period resumes and publishes it
    _load_budget(city, tmp_path, "budgets_fixed.csv", original)
    dr, seconds = _run(dag, pendulum.datetime(2024, 3, 5, 3, tz=SH), run_conf=NO_DOCS)
    assert str(dr.state) == "success", _states(dr)
    _assert_month_published(city, "2024-02")
    pv = q(url, "select min(point_value) from marts.settlement_monthly where period = '2024-02'")[0][0]
    assert pv > 0


@pytest.mark.slow
def test_annual_settlement_dag(city):
    from drgflow.airflow.dags import annual_settlement_dag

    url = city["url"]
    dag = annual_settlement_dag(grouping=False)
    dr, seconds = _run(dag, pendulum.datetime(2025, 3, 1, 3, tz=SH), run_conf=NO_DOCS)
    assert str(dr.state) == "success", _states(dr)
    assert dr.data_interval_start == pendulum.datetime(2024, 1, 1, tz=SH)
    assert q(url, "select count(*) from marts.settlement_annual where settlement_year = 2024")[0][0] > 0
    assert q(url, "select status from audit.periods where period = '2024'") == [("closed",)]
    assert list((city["reports"] / "2024").glob("*")), "no annual report written"


@pytest.mark.slow
def test_annual_calibration_dag(city):
    from drgflow.airflow.dags import annual_calibration_dag

    url = city["url"]
    dag = annual_calibration_dag(grouping=False)
    # 6 January 2025: calibration of 2025 over the base years 2022–2024
    dr, seconds = _run(dag, pendulum.datetime(2025, 1, 6, 3, tz=SH))
    assert str(dr.state) == "success", _states(dr)
    assert q(url, "select count(*) from marts.drg_base_points where settlement_year = 2025")[0][0] > 0
    assert q(url, "select count(*) from audit.calibrations where settlement_year = 2025")[0][0] == 1
    assert q(url, "select count(*) from marts.hospital_coefficients where settlement_year = 2025")[0][0] > 0
