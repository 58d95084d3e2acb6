"""Great Expectations checks on the outputs of a period (run from our own Airflow task: the GX Airflow provider
does not install with Airflow 3.3). A failure raises OutputChecksFailed naming the period and every failed
expectation; the money figures are published only after these pass.

Each check is (check id, table, SQL filter for the period, expectation). The checks run in PostgreSQL through
a GX SQL datasource (query assets): only metrics travel, never the rows.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from drgflow import db
from drgflow.settlement import CASE_TYPES
from drgflow.validation import gx_output_dir, sqlalchemy_url


class OutputChecksFailed(Exception):
    """One or more GX output checks failed; the message names the period and the checks."""


def _checks(kind: str, period: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """check id -> (table, where, expectation) for a monthly/annual settlement or an annual calibration."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only

    e = gx.expectations
    year = int(period["settlement_year"])
    if kind == "monthly":
        p = period["period"]
        cp, sm = ("marts.case_points", f"settlement_year = {year} and period = '{p}'"), \
                 ("marts.settlement_monthly", f"period = '{p}'")
        return {
            "case_points_present": (*cp, e.ExpectTableRowCountToBeBetween(min_value=1)),
            "case_points_points_not_null": (*cp, e.ExpectColumnValuesToNotBeNull(column="points")),
            "case_points_points_non_negative": (*cp, e.ExpectColumnValuesToBeBetween(column="points", min_value=0)),
            "case_points_case_type_known": (*cp, e.ExpectColumnValuesToBeInSet(column="case_type",
                                                                              value_set=list(CASE_TYPES))),
            "settlement_monthly_present": (*sm, e.ExpectTableRowCountToBeBetween(min_value=1)),
            "settlement_monthly_key_unique": (*sm, e.ExpectCompoundColumnsToBeUnique(
                column_list=["region_code", "hospital_id", "period"])),
            "settlement_monthly_point_value_not_null": (*sm, e.ExpectColumnValuesToNotBeNull(column="point_value")),
            "settlement_monthly_point_value_positive": (*sm, e.ExpectColumnValuesToBeBetween(
                column="point_value", min_value=0, strict_min=True)),
            "settlement_monthly_prepayment_not_null": (*sm, e.ExpectColumnValuesToNotBeNull(column="prepayment")),
        }
    if kind == "annual":
        sa = ("marts.settlement_annual", f"settlement_year = {year}")
        return {
            "settlement_annual_present": (*sa, e.ExpectTableRowCountToBeBetween(min_value=1)),
            "settlement_annual_key_unique": (*sa, e.ExpectCompoundColumnsToBeUnique(
                column_list=["region_code", "hospital_id", "settlement_year"])),
            "settlement_annual_point_value_positive": (*sa, e.ExpectColumnValuesToBeBetween(
                column="point_value", min_value=0, strict_min=True)),
            "settlement_annual_assessment_coef_not_null": (*sa, e.ExpectColumnValuesToNotBeNull(
                column="assessment_coef")),
            "settlement_annual_payable_not_null": (*sa, e.ExpectColumnValuesToNotBeNull(column="payable")),
        }
    if kind == "calibration":
        bp = ("marts.drg_base_points", f"settlement_year = {year}")
        hc = ("marts.hospital_coefficients", f"settlement_year = {year}")
        return {
            "drg_base_points_present": (*bp, e.ExpectTableRowCountToBeBetween(min_value=1)),
            "drg_base_points_drg_unique": (*bp, e.ExpectColumnValuesToBeUnique(column="drg")),
            "drg_base_points_base_points_positive": (*bp, e.ExpectColumnValuesToBeBetween(
                column="base_points", min_value=0, strict_min=True)),
            "hospital_coefficients_positive": (*hc, e.ExpectColumnValuesToBeBetween(
                column="coefficient", min_value=0, strict_min=True)),
        }
    raise ValueError(f"unknown check kind {kind!r}")


def _describe(result: Any) -> str:
    r = result.result or {}
    if "unexpected_count" in r:
        return f"{r.get('unexpected_count')} unexpected of {r.get('element_count')}"
    if "observed_value" in r:
        return f"observed {r.get('observed_value')}"
    return "failed"


def run_output_checks(kind: str, period: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    """Run the period's GX checks; write the result JSON under DRGFLOW_HOME/gx/<db>/output_checks/.

    Raises OutputChecksFailed naming the period and the failed checks."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only

    url = url or db.database_url()
    checks = _checks(kind, period)
    # GX takes a credential only as a ${VAR} template: the URL travels in the environment, never in a file
    os.environ["DRGFLOW_GX_CONNECTION"] = sqlalchemy_url(url)
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_postgres(name="drgflow_outputs",
                                               connection_string="${DRGFLOW_GX_CONNECTION}")
    outcome: dict[str, dict[str, Any]] = {}
    by_table: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for check_id, (table, where, expectation) in checks.items():
        by_table.setdefault((table, where), []).append((check_id, expectation))
    for n, ((table, where), items) in enumerate(by_table.items()):
        asset = source.add_query_asset(name=f"q{n}", query=f"select * from {table} where {where}")
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        for check_id, expectation in items:
            res = batch.validate(expectation)
            outcome[check_id] = {"table": table, "expectation": type(expectation).__name__,
                                 "success": bool(res.success), "detail": _describe(res)}
    failed = {k: v for k, v in outcome.items() if not v["success"]}
    out = _write_result(kind, period, url, outcome)
    summary = {"period": period["period"], "checks": len(outcome), "failed": sorted(failed), "result_file": str(out)}
    if failed:
        names = "; ".join(f"{k} ({v['expectation']} on {v['table']}: {v['detail']})" for k, v in failed.items())
        raise OutputChecksFailed(f"period {period['period']}: {len(failed)} of {len(outcome)} GX output checks "
                                 f"failed: {names}. Nothing was published; fix the data and clear the run.")
    return summary


def _write_result(kind: str, period: dict[str, Any], url: str, outcome: dict[str, Any]) -> Path:
    folder = gx_output_dir(url) / "output_checks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}_{period['period']}.json"
    path.write_text(json.dumps({"kind": kind, "period": period["period"], "checked_at": _dt.datetime.now(
        _dt.timezone.utc).isoformat(), "results": outcome}, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
