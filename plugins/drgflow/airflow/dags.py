"""The four drgflow DAGs, built by factories (the files in dags/ call these). All times are Asia/Shanghai.

claims_ingest        every 15 min: landing folder -> load + validate -> processed/ or refused/; Asset event
monthly_settlement   5th 03:00 for the previous month: group -> case points + pre-settlement (dbt via Cosmos)
                     -> GX output checks -> record (settle) -> publish (reports, close)
annual_calibration   6 January 03:00 for the new year: group -> statistics + coefficients -> GX -> record
annual_settlement    1 March 03:00 for the previous year: group -> case points + annual settlement -> GX
                     -> record -> publish
The dbt steps are Cosmos task groups (one task per model, tests after the models), each rendered from a named
dbt selector of dbt_project/selectors.yml (drgflow.runs; the command line builds the same selectors). Every
task's failure writes an alert naming the DAG, the period and the error (drgflow.airflow.tasks.on_failure).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, CronTriggerTimetable, Param, task
from airflow.sdk.exceptions import AirflowSkipException

from drgflow import runs
from drgflow.airflow import tasks
from drgflow.airflow.checks import run_output_checks
from drgflow.airflow.dbt import dbt_task_group
from drgflow.airflow.timetables import TZ, TZ_NAME, PeriodTimetable

#: emitted when claims_ingest accepted new cases; analysts' DAGs can schedule on it
CASES_ASSET = Asset(name="drgflow_accepted_cases", uri="drgflow://warehouse/staging/stg_raw__cases")
SETTLEMENT_MONTHLY_ASSET = Asset(name="drgflow_settlement_monthly", uri="drgflow://warehouse/marts/settlement_monthly")
SETTLEMENT_ANNUAL_ASSET = Asset(name="drgflow_settlement_annual", uri="drgflow://warehouse/marts/settlement_annual")
CALIBRATION_ASSET = Asset(name="drgflow_calibration", uri="drgflow://warehouse/marts/drg_base_points")

#: the history a roll-out backfills (2016–2019 and on); earlier periods are never scheduled
START = pendulum.datetime(2016, 1, 1, tz=TZ)

def default_args() -> dict[str, Any]:
    """Task defaults of every drgflow DAG: owner, no retries, the alert callback on failure."""
    # Python tasks do not retry by default: they are idempotent and a rerun is a clear of the failed task
    return {"owner": "drgflow", "retries": 0, "retry_delay": timedelta(minutes=2),
            "on_failure_callback": tasks.on_failure}


# ------------------------------------------------------------------------------------------------ ingest

def claims_ingest_dag(schedule: Any = None, min_age_seconds: float = 60.0) -> DAG:
    """Pick up new files in the landing folder, load + validate them, set them aside, emit the cases Asset."""
    with DAG(
        dag_id="claims_ingest",
        description="Load and validate new files from the landing folder (DRGFLOW_LANDING)",
        schedule=schedule or CronTriggerTimetable("*/15 * * * *", timezone=TZ_NAME),
        start_date=START, catchup=False, max_active_runs=1, default_args=default_args(),
        params={"min_age_seconds": Param(min_age_seconds, type="number",
                                         description="ignore files modified more recently than this")},
        tags=["drgflow", "ingest"],
    ) as dag:
        @task
        def scan(params: dict[str, Any] | None = None) -> list[str]:
            files = tasks.new_files(tasks.landing_dir(), float((params or {}).get("min_age_seconds", 60)))
            if not files:
                raise AirflowSkipException("no new files in the landing folder")
            return files

        @task
        def load(paths: list[str]) -> dict[str, Any]:
            return tasks.ingest_files(paths)

        @task(outlets=[CASES_ASSET])
        def announce(summary: dict[str, Any], *, outlet_events: Any = None) -> dict[str, Any]:
            if not summary["cases_accepted"]:
                raise AirflowSkipException("no new accepted cases")
            outlet_events[CASES_ASSET].extra = {"batches": summary["batches"],
                                                "cases_accepted": summary["cases_accepted"]}
            return {"cases_accepted": summary["cases_accepted"], "batches": summary["batches"]}

        @task
        def report_refused(summary: dict[str, Any]) -> None:
            # refused files are not a task failure (the others loaded), but somebody must look at them
            if summary["refused"]:
                names = ", ".join(f"{r['file']} ({r['error']})" for r in summary["refused"])
                raise RuntimeError(f"{len(summary['refused'])} file(s) refused and moved to "
                                   f"{tasks.landing_dir() / 'refused'}: {names}")

        summary = load(scan())
        announce(summary)
        report_refused(summary)
    return dag


# ------------------------------------------------------------------------------------------------ periods

def _period_task(kind: str, skip_if: str) -> Any:
    """The first task of a settlement DAG: the run's period from its data interval, pushed to XCom (the dbt
    tasks read their vars from it). A period already closed is skipped: its figures are final."""
    @task(task_id="period")
    def period(data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        p = tasks.period_of(kind, data_interval_start, data_interval_end)
        # the year's grouping scheme (the bureau's assignment, else the policy seed's, else the environment's)
        p["scheme_version"] = tasks.scheme_of_year(p["settlement_year"])
        if skip_if == "closed" and tasks.period_status(p["period"]) == "closed":
            raise AirflowSkipException(f"period {p['period']} is closed; its figures are final "
                                       f"(drgflow reopen --period {p['period']} --reason ... to recompute)")
        if skip_if == "months_closed":
            closed = tasks.closed_months(p["settlement_year"])
            if closed:
                raise AirflowSkipException(f"calibration of {p['settlement_year']} is in use by closed period(s) "
                                           f"{', '.join(closed)}; reopen them to recalibrate")
        return p
    return period()


def _settlement_dag(dag_id: str, kind: str, timetable: PeriodTimetable, description: str, selector: str,
                    asset: Asset, grouping: bool, close_default: bool) -> DAG:
    with DAG(
        dag_id=dag_id, description=description, schedule=timetable, start_date=START, catchup=False,
        max_active_runs=1, default_args=default_args(), tags=["drgflow", "settlement"],
        params={"close_period": Param(close_default, type="boolean",
                                      description="close the period after publishing (its figures become final)"),
                "dbt_docs": Param(True, type="boolean", description="regenerate dbt docs with the reports")},
    ) as dag:
        period = _period_task(kind, "months_closed" if kind == "calibration" else "closed")

        @task
        def reference(period: dict[str, Any]) -> dict[str, Any]:
            return tasks.prepare_reference(period)

        ref = reference(period)
        last = ref
        if grouping:
            grouped = dbt_task_group("grouping", runs.GROUPING)
            ref >> grouped
            last = grouped
        if kind != "calibration":
            @task
            def calibration(period: dict[str, Any]) -> dict[str, Any]:
                return tasks.ensure_calibration(period)

            cal = calibration(period)
            last >> cal
            last = cal
        figures = dbt_task_group("calibration_models" if kind == "calibration" else "settlement_models", selector)
        last >> figures

        @task
        def check_outputs(period: dict[str, Any]) -> dict[str, Any]:
            return run_output_checks(kind, period)

        checked = check_outputs(period)
        figures >> checked

        if kind == "calibration":
            @task(outlets=[asset])
            def record(period: dict[str, Any]) -> dict[str, Any]:
                return tasks.record_calibration(period)

            checked >> record(period)
        else:
            @task
            def record(period: dict[str, Any]) -> dict[str, Any]:
                return tasks.record_settlement(period)

            @task(outlets=[asset])
            def publish(period: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
                params = params or {}
                return tasks.publish(period, close=bool(params.get("close_period", close_default)),
                                     docs=bool(params.get("dbt_docs", True)))

            recorded = record(period)
            checked >> recorded >> publish(period)
    return dag


def monthly_settlement_dag(grouping: bool = True) -> DAG:
    """grouping=False leaves out the grouping task group (tests whose cases are grouped already)."""
    return _settlement_dag(
        "monthly_settlement", "monthly", PeriodTimetable("month", delay_days=4, delay_hours=3),
        "Monthly pre-settlement of the previous month (5th 03:00 Asia/Shanghai)",
        runs.SETTLEMENT_MONTHLY, SETTLEMENT_MONTHLY_ASSET, grouping, close_default=True)


def annual_calibration_dag(grouping: bool = True) -> DAG:
    """The annual_calibration DAG (6 January 03:00 for the new year); grouping=False as for the monthly DAG."""
    return _settlement_dag(
        "annual_calibration", "calibration", PeriodTimetable("year", delay_days=5, delay_hours=3),
        "Calibration (base points, coefficients) of the new year, 6 January 03:00 Asia/Shanghai",
        runs.CALIBRATION, CALIBRATION_ASSET, grouping, close_default=False)


def annual_settlement_dag(grouping: bool = True) -> DAG:
    """The annual_settlement DAG (early March 03:00 for the previous year); grouping=False as for the monthly DAG."""
    return _settlement_dag(
        "annual_settlement", "annual", PeriodTimetable("year", delay_months=2, delay_days=0, delay_hours=3),
        "Annual settlement of the previous year, early March 03:00 Asia/Shanghai (after December's "
        "pre-settlement and the assessment scores)",
        runs.SETTLEMENT_ANNUAL, SETTLEMENT_ANNUAL_ASSET, grouping, close_default=True)
