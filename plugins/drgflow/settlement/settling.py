"""Settling a period (settlement-spec §4, §5): case points and the monthly pre-settlement of a month, or the
annual settlement of a year, recorded as the period's last settle run (audit.periods)."""
from __future__ import annotations

from drgflow import db, roles, runs
from drgflow.errors import UserError
from drgflow.settlement.builds import build_figures, inputs_ready
from drgflow.settlement.calibration import calibrate_locked
from drgflow.settlement.inputs import check_parameters, check_settlement_inputs
from drgflow.settlement.lock import locked
from drgflow.settlement.periods import format_period, is_closed, protect_closed_rows
from drgflow.settlement.record import finish_run, record_inputs, start_run


def settle(year: int, month: int | None = None, url: str | None = None, build: bool = True) -> dict:
    """Case points and the monthly pre-settlement (with month) or the annual settlement of `year` (§4, §5).

    Refuses a closed period. Calibrates the year first when it has no stored calibration.
    build=False records a run whose models were just built for the period by someone else (the Airflow DAG's
    Cosmos tasks, checked by its output checks) instead of building them again; it needs a stored calibration.
    """
    url = url or db.database_url()
    db.init_warehouse(url)
    url = roles.service_url("transformer", url)   # DRGFLOW_SERVICE_ROLES on: bookkeeping and dbt as the role
    period = format_period(year, month)
    with locked(url) as conn:
        if is_closed(conn, period):
            raise UserError(f"period {period} is closed; its figures are final. To recompute, reopen it: "
                            f"drgflow reopen --period {period} --reason \"...\"")
        if month and is_closed(conn, str(year)):
            raise UserError(f"settlement year {year} is closed (its annual clearing used these months); "
                            f"reopen it first: drgflow reopen --period {year} --reason \"...\"")
        calibrated = conn.execute("select 1 from audit.calibrations where settlement_year = %s",
                                  (year,)).fetchone()
        if not calibrated or not db.relation_exists(conn, "marts.drg_base_points"):
            if not build:
                raise UserError(f"{year} has no stored calibration: calibrate it first (drgflow calibrate "
                                f"--year {year})")
            calibrate_locked(conn, url, year)
        run_id = start_run(conn, "settle", period)
        try:
            inputs_ready(conn, url, year, month, build)
            scheme, params = check_parameters(conn)
            check_settlement_inputs(conn, year, month, scheme)
            if build:
                build_figures(url, runs.settlement_figures(month), year, month)
            protect_closed_rows(conn)
            counts = record_inputs(conn, run_id, year, year, period if month else None)
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
            finish_run(conn, run_id, "success", f"settled {period}", scheme, params, counts, phash)
            return {"run_id": run_id, "period": period, "scheme_version": scheme, **counts}
        except Exception as exc:
            finish_run(conn, run_id, "failed", str(exc)[:2000])
            raise
