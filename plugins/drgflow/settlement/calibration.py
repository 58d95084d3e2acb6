"""Calibrating settlement year Y (settlement-spec §2, §3, §6): base-period statistics, base points and
coefficients, stored with the parameters and scheme version they used (audit.calibrations)."""
from __future__ import annotations

import json

import psycopg

from drgflow import db, roles, runs
from drgflow.errors import UserError
from drgflow.settlement.builds import build_figures, inputs_ready
from drgflow.settlement.inputs import check_parameters, require_current_groupings
from drgflow.settlement.lock import locked
from drgflow.settlement.periods import closed_periods
from drgflow.settlement.record import finish_run, record_inputs, start_run


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
    with locked(url) as conn:
        closed = closed_periods(conn, year)
        if closed:
            raise UserError(f"calibration of {year} is in use by closed period(s) {', '.join(closed)}; "
                            f"reopen them first (drgflow reopen --period ... --reason ...)")
        return calibrate_locked(conn, url, year, build)


def calibrate_locked(conn: psycopg.Connection, url: str, year: int, build: bool = True) -> dict:
    """calibrate() on a connection that holds the settlement lock: settle calibrates an uncalibrated year under its
    own lock."""
    run_id = start_run(conn, "calibrate", str(year))
    try:
        inputs_ready(conn, url, year, None, build)
        scheme, params = check_parameters(conn)
        first, last = params["settlement_year"] - params["base_years"], params["settlement_year"] - 1
        n_base = conn.execute(
            """select count(*) from intermediate.int_cases_in_scope c
               join intermediate.int_case_groups_selected g using (hospital_id, case_id)
               where c.settle_year between %s and %s and g.group_status = 'grouped'""",
            (first, last)).fetchone()[0]
        if n_base == 0:
            raise UserError(f"empty base period for {year}: no grouped cases in {first}–{last} under scheme "
                            f"{scheme} (load those years and run drgflow group)")
        require_current_groupings(conn, "c.settle_year between %s and %s", (first, last),
                                  f"base period {first}–{last}", scheme)
        if build:
            build_figures(url, runs.CALIBRATION_FIGURES, year, None)
        counts = record_inputs(conn, run_id, first, last, None)
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
        finish_run(conn, run_id, "success", f"calibrated {year}: {drg_count} DRGs, A_all {a_all}",
                   scheme, params, counts, phash)
        return {"run_id": run_id, "year": year, "scheme_version": scheme, "base_years": [first, last],
                "all_mean_cost": a_all, **counts}
    except Exception as exc:
        finish_run(conn, run_id, "failed", str(exc)[:2000])
        raise
