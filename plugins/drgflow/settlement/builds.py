"""What a calibration or settlement builds with dbt, in two steps (dbt_project/selectors.yml): the period's
inputs (staging views, policy seeds, the period views), then, once drgflow.settlement.inputs has checked them,
the figures with the run's tests. The period reaches the models as dbt vars."""
from __future__ import annotations

from typing import Any

import psycopg

from drgflow import config, db, runs
from drgflow.errors import UserError
from drgflow.settlement.periods import format_period
from drgflow.transform import run_dbt


def dbt_vars(year: int, month: int | None) -> dict[str, Any]:
    """The dbt vars of a period's run: settlement_year, settlement_month (None: the year) and scheme_version."""
    return {"settlement_year": int(year), "settlement_month": int(month) if month else None,
            "scheme_version": config.default_scheme_version()}


def build_inputs(url: str, year: int, month: int | None) -> None:
    """Staging views, policy seeds and the run's period views, so the checks see this year's policy."""
    with db.connect(url) as conn:
        if not db.relation_exists(conn, "marts.case_grouping"):
            raise UserError("marts.case_grouping does not exist: run drgflow group first")
    # one dbt invocation for all three; the figures' build (runs.*_FIGURES) leaves the period views out: they
    # are built here once (dbt_project/selectors.yml)
    run_dbt(["build", "--selector", runs.SETTLEMENT_INPUTS], url=url, vars=dbt_vars(year, month))


def built_for(conn: psycopg.Connection, year: int, month: int | None) -> None:
    """Refuse to record models built for another period (record-only runs, build=False)."""
    if not db.relation_exists(conn, "intermediate.int_parameters_resolved"):
        raise UserError("the settlement models are not built: run without build=False")
    built_year = conn.execute("select settlement_year from intermediate.int_parameters_resolved").fetchone()
    other = conn.execute("select count(*) from intermediate.int_cases_in_scope where settle_period <> %s",
                         (format_period(year, month),)).fetchone()[0] if month else 0
    if not built_year or built_year[0] != year or other:
        raise UserError(f"the models were built for another period than {format_period(year, month)}: "
                        f"build them for it first (or run without build=False)")


def inputs_ready(conn: psycopg.Connection, url: str, year: int, month: int | None, build: bool) -> None:
    """Build the period's inputs, or (build=False: the Airflow record step) check they were built for it."""
    if build:
        build_inputs(url, year, month)
    else:
        built_for(conn, year, month)


def build_figures(url: str, selector: str, year: int, month: int | None) -> None:
    """The run's figures (a runs.*_FIGURES selector) and the tests the DAG's test task runs for the same run,
    the period views' own included (assert_base_weights_match_base_years): runs.build_args picks them alike."""
    run_dbt(runs.build_args(selector), url=url, vars=dbt_vars(year, month))
