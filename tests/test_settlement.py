"""Calibration and settlement on a real PostgreSQL with real dbt: a small four-year city (tests/settlement_fixture.py)
is loaded, grouped (marts.case_grouping filled by the fixture, as the grouper would), calibrated and settled;
every published figure is compared with an independent Decimal re-computation of the spec."""
from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from conftest import create_database, drop_database
from drgflow import cli, config, db, loader, runs, settlement
from drgflow.contract import CASE_COLUMNS
from drgflow.errors import DbtError, UserError
from drgflow.reports import statements
from drgflow.transform import run_dbt, target_dir
from settlement_fixture import (
    BUDGETS,
    SCORES,
    build_city,
    r2,
    recompute,
    recompute_statistics,
    regroup_fixture,
    write_case_grouping,
)

D = Decimal
YEAR = 2024
MONTHS = (3, 5)


def _rows(url: str, sql: str, args=()) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, args).fetchall()


def _make_city(tmp: Path, prefix: str) -> tuple[str, str, list[dict], list[tuple]]:
    name, url = create_database(prefix)
    db.init_warehouse(url)
    cases, groups = build_city(tmp)
    loader.load_paths([tmp], url=url, validate=False, progress=False)
    scheme = config.default_scheme_version()
    write_case_grouping(url, scheme, groups)
    return name, url, cases, groups


def _special(url: str) -> dict:
    return {(r["hospital_id"], r["case_id"]): r["approved_points"]
            for r in _rows(url, "select * from staging.stg_raw__special_review where approved")}


def _scores() -> dict:
    last = {}
    for h, y, s in SCORES:
        if y == YEAR:
            last[h] = D(s)
    return last


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    name, url, cases, groups = _make_city(tmp_path_factory.mktemp("city"), "drgflow_settle")
    cal = settlement.calibrate(YEAR, url=url)
    for m in MONTHS:
        settlement.settle(YEAR, m, url=url)
    annual = settlement.settle(YEAR, url=url)
    expected = recompute(cases, groups, YEAR, special=_special(url), scores=_scores(), budgets=BUDGETS)
    periods = {f"{YEAR}-{m:02d}" for m in MONTHS}
    prepaid: dict = {}
    for (r, h, per), m in expected["monthly"].items():
        if per in periods:
            prepaid[(r, h)] = prepaid.get((r, h), D(0)) + m["prepayment"]
    expected = recompute(cases, groups, YEAR, special=_special(url), scores=_scores(), budgets=BUDGETS,
                         prepaid=prepaid)
    yield {"url": url, "cases": cases, "groups": groups, "expected": expected, "calibration": cal, "annual": annual}
    drop_database(name)


def close(a, b, tol="0.0001") -> bool:
    return a is not None and b is not None and abs(D(a) - D(b)) <= D(tol)


def test_base_points_match_recomputation(city):
    exp = city["expected"]["base_points"]
    got = {r["drg"]: r for r in _rows(city["url"], "select * from marts.drg_base_points where settlement_year = %s",
                                      (YEAR,))}
    assert set(got) == set(exp)
    assert close(next(iter(got.values()))["all_mean_cost"], city["expected"]["a_all"], "1e-9")
    for drg, e in exp.items():
        g = got[drg]
        assert g["base_points"] == e["base_points"], drg
        assert close(g["mean_cost"], e["mean_cost"], "1e-9"), drg
        assert g["n_base"] == e["n_base"] and g["stable"] == e["stable"], drg
        assert (g["cv_base"] is None) == (e["cv_base"] is None) and (
            e["cv_base"] is None or close(g["cv_base"], e["cv_base"], "1e-12"))
        assert g["high_ratio_multiple"] == e["high_ratio_multiple"], drg
        assert g["rw"] == e["base_points"] / 100
    assert any(e["stable"] for e in exp.values()) and not all(e["stable"] for e in exp.values())


def test_coefficients_match_recomputation(city):
    exp = city["expected"]["coefficients"]
    got = {(r["hospital_id"], r["drg"]): r for r in _rows(
        city["url"], "select * from marts.hospital_coefficients where settlement_year = %s", (YEAR,))}
    assert set(got) == set(exp)
    for key, e in exp.items():
        assert got[key]["coefficient"] == e["coefficient"], key
        assert (got[key]["hospital_ratio"] is None) == (e["hospital_ratio"] is None), key
        assert close(got[key]["level_ratio"], e["level_ratio"], "1e-12"), key
    # the fallbacks all occur: no usable hospital average, no usable level average (ratio 1)
    assert any(e["hospital_ratio"] is None for e in exp.values())
    assert any(e["level_ratio"] == 1 for e in exp.values())
    assert any(e["hospital_ratio"] is not None for e in exp.values())


def test_case_points_match_recomputation(city):
    exp = city["expected"]["case_points"]
    got = {(r["hospital_id"], r["case_id"]): r for r in _rows(
        city["url"], "select * from marts.case_points where settlement_year = %s", (YEAR,))}
    assert set(got) == set(exp)
    for key, e in exp.items():
        assert got[key]["case_type"] == e["case_type"], key
        assert close(got[key]["points"], e["points"]), (key, got[key]["points"], e["points"])
    types = {e["case_type"] for e in exp.values()}
    assert types == {"special_review", "bed_day", "ungroupable", "qy", "unstable", "high", "low", "normal"}
    # §8: base_points only for high/low/normal, coefficient only for high/normal
    for r in got.values():
        assert (r["base_points"] is not None) == (r["case_type"] in ("high", "low", "normal"))
        assert (r["coefficient"] is not None) == (r["case_type"] in ("high", "normal"))


def test_monthly_settlement_matches_recomputation(city):
    exp = city["expected"]["monthly"]
    got = {(r["region_code"], r["hospital_id"], r["period"]): r for r in _rows(
        city["url"], "select * from marts.settlement_monthly")}
    want = {k: v for k, v in exp.items() if int(k[2][5:]) in MONTHS}
    assert set(got) == set(want) and got
    for key, e in want.items():
        assert got[key]["prepayment"] == e["prepayment"], key
        assert close(got[key]["point_value"], e["point_value"], "1e-10"), key
        assert got[key]["total_points"] == e["total_points"], key


def test_annual_settlement_matches_recomputation(city):
    exp = city["expected"]["annual"]
    got = {(r["region_code"], r["hospital_id"]): r for r in _rows(
        city["url"], "select * from marts.settlement_annual where settlement_year = %s", (YEAR,))}
    assert set(got) == set(exp)
    for key, e in exp.items():
        g = got[key]
        assert g["payable"] == e["payable"], key
        assert g["prepaid"] == e["prepaid"], key
        assert g["clearing"] == e["clearing"], key
        assert g["assessment_coef"] == e["assessment_coef"], key
        assert close(g["point_value"], e["point_value"], "1e-10"), key
    assert {e["assessment_coef"] for e in exp.values()} >= {D("1.05"), D("1.00"), D("0.90")}


def _near(a, b, tol: str) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(D(a) - D(b)) <= D(tol))


def test_statistics_match_recomputation(city):
    """§6 marts against the Decimal re-computation: rates and ratios to 1e-6, money means to 1e-6 yuan."""
    url = city["url"]
    rw = {}
    for r in _rows(url, "select settlement_year, drg, rw from marts.drg_base_points where base_points is not null"):
        rw.setdefault(r["settlement_year"], {})[r["drg"]] = r["rw"]
    exp = recompute_statistics(city["cases"], city["groups"], rw)
    got = {(r["year"], r["drg"]): r for r in _rows(url, "select * from marts.drg_year_stats")}
    assert set(got) == set(exp["drg_year_stats"])
    for key, e in exp["drg_year_stats"].items():
        for col, v in e.items():
            if col == "mortality_risk":
                assert got[key][col] == v, (key, col)
            else:
                assert _near(got[key][col], v, "0.000001"), (key, col, got[key][col], v)
    assert {e["mortality_risk"] for e in exp["drg_year_stats"].values()} >= {"low", "high"}
    got = {r["year"]: r for r in _rows(url, "select * from marts.grouping_quality")}
    assert set(got) == set(exp["grouping_quality"])
    for y, e in exp["grouping_quality"].items():
        for col, v in e.items():
            assert _near(got[y][col], v, "0.000001"), (y, col, got[y][col], v)
    got = {(r["year"], r["hospital_id"]): r for r in _rows(url, "select * from marts.hospital_performance")}
    assert set(got) == set(exp["hospital_performance"])
    for key, e in exp["hospital_performance"].items():
        for col, v in e.items():
            assert _near(got[key][col], v, "0.000001"), (key, col, got[key][col], v)
    assert any(e["cmi"] is not None for e in exp["hospital_performance"].values())


def test_invariant_budget_exhausted_with_k_one(city):
    """§5: with every K = 1, Σ_h points × PV = U_r + Σ P (exact before rounding, within n × 0.005 after)."""
    for region in ("R1", "R2"):
        rows = _rows(city["url"], "select * from marts.settlement_annual where settlement_year = %s and "
                                  "region_code = %s", (YEAR, region))
        usable = D(BUDGETS[(region, YEAR)]) * D("0.95")
        personal = sum(r["personal_paid"] for r in rows)
        exact = sum(r["total_points"] * r["point_value"] for r in rows)
        assert abs(exact - (usable + personal)) < D("1e-6")
        rounded = sum(r2(r["total_points"] * r["point_value"] - r["personal_paid"]) for r in rows)
        assert abs(rounded - usable) <= D("0.005") * len(rows)


def test_every_case_has_one_case_points_row(city):
    n_cases = _rows(city["url"], "select count(*) as n from staging.stg_raw__cases where settle_year = %s",
                    (YEAR,))[0]["n"]
    keys = _rows(city["url"], "select count(*) as n, count(distinct (hospital_id, case_id)) as d "
                              "from marts.case_points where settlement_year = %s", (YEAR,))[0]
    assert keys["n"] == keys["d"] == n_cases


def test_runs_are_recorded_with_parameters_and_inputs(city):
    runs = _rows(city["url"], "select * from audit.runs order by run_id")
    assert [r["command"] for r in runs][:1] == ["calibrate"]
    assert all(r["status"] == "success" for r in runs)
    settle_runs = [r for r in runs if r["command"] == "settle"]
    assert [r["period"] for r in settle_runs] == [f"{YEAR}-03", f"{YEAR}-05", str(YEAR)]
    for r in settle_runs:
        assert r["parameters"]["prepay_ratio"] == 0.9 and r["parameter_hash"] and r["scheme_version"]
        assert r["row_counts"]["case_points"] > 0
    inputs = _rows(city["url"], "select * from audit.run_inputs where run_id = %s", (settle_runs[-1]["run_id"],))
    assert {i["input"] for i in inputs} >= {"cases", "budgets", "hospitals"}
    cal = _rows(city["url"], "select * from audit.calibrations where settlement_year = %s", (YEAR,))[0]
    assert cal["parameters"]["base_weights"] == [1, 2, 7] and cal["scheme_version"] == runs[0]["scheme_version"]


def test_rerun_gives_identical_figures(city):
    url = city["url"]
    before = _rows(url, "select * from marts.settlement_annual order by region_code, hospital_id")
    points = _rows(url, "select hospital_id, case_id, case_type, points from marts.case_points order by 1, 2")
    settlement.settle(YEAR, url=url)
    assert _rows(url, "select * from marts.settlement_annual order by region_code, hospital_id") == before
    assert _rows(url, "select hospital_id, case_id, case_type, points from marts.case_points order by 1, 2") == points


def test_record_only_run_records_the_built_figures_and_refuses_another_period(city):
    """settle(build=False) (the DAG's record step after its dbt tasks) records the run without rebuilding:
    same figures, a new run row; models built for another period are refused."""
    url = city["url"]
    before = _rows(url, "select * from marts.settlement_annual order by region_code, hospital_id")
    runs = _rows(url, "select count(*) as n from audit.runs where command = 'settle'")[0]["n"]
    out = settlement.settle(YEAR, url=url, build=False)     # the models hold the annual run of YEAR
    assert out["settlement_annual"] == len(before)
    assert _rows(url, "select * from marts.settlement_annual order by region_code, hospital_id") == before
    assert _rows(url, "select count(*) as n from audit.runs where command = 'settle'")[0]["n"] == runs + 1
    with pytest.raises(UserError, match="built for another period"):
        settlement.settle(YEAR, MONTHS[0], url=url, build=False)
    with pytest.raises(UserError, match="built for another period"):
        settlement.calibrate(YEAR + 1, url=url, build=False)


UNIT_TEST_PATHS = ["models/intermediate/statistics", "models/intermediate/settlement", "models/marts/statistics",
                   "models/marts/coefficients", "models/marts/settlement"]


def test_dbt_unit_tests_with_the_worked_examples_pass(city):
    """drg-dip-reference §4.7 (430/730/120/250/378 points, 1.075, PV 10.909, payable 40,545,454.55, prepayment
    2,938,736.84) and §6 (RIV 97.4 %, CEI 1.033, CMI 1.667), plus hand-made fallbacks (yml unit_tests)."""
    result = run_dbt(["test", "--select", *[f"test_type:unit,path:{p}" for p in UNIT_TEST_PATHS]],
                     url=city["url"], vars=settlement.dbt_vars(YEAR, None))
    units = [r for r in result.results if str(r.node.resource_type).endswith("unit_test")]
    names = {r.node.name for r in units}
    assert {"case_points_worked_example_4_7_and_every_case_type", "grouping_quality_worked_example_riv",
            "int_case_bed_day_matched_categories", "drg_year_stats_mortality_risk_grading",
            "hospital_performance_worked_example_cei_cmi", "settlement_annual_worked_example_4_7_and_assessment_bands",
            "settlement_monthly_worked_example_4_7", "hospital_coefficients_worked_example_and_fallbacks"} <= names
    assert len(units) >= 11 and all(str(r.status).lower().endswith("pass") for r in units)


def test_invariant_tests_catch_a_broken_prepayment(city):
    url = city["url"]
    period = f"{YEAR}-05"
    with psycopg.connect(url) as conn:
        conn.execute("update marts.settlement_monthly set prepayment = prepayment + 1 where period = %s", (period,))
    try:
        with pytest.raises(DbtError, match="assert_monthly_prepayments_match_point_value"):
            run_dbt(["test", "--select", "assert_monthly_prepayments_match_point_value"], url=url,
                    vars=settlement.dbt_vars(YEAR, 5))
    finally:
        settlement.settle(YEAR, 5, url=url)
    run_dbt(["test", "--select", "assert_monthly_prepayments_match_point_value"], url=url,
            vars=settlement.dbt_vars(YEAR, 5))


def test_a_monthly_run_cannot_build_the_annual_settlement(city):
    """settlement_annual belongs to the annual run (selector settlement_annual): selected with a month it fails
    to compile instead of replacing the year's rows."""
    url = city["url"]
    before = _rows(url, "select * from marts.settlement_annual order by region_code, hospital_id, settlement_year")
    with pytest.raises(DbtError, match="settlement_annual is built by the annual settlement"):
        run_dbt(["build", "--select", "settlement_annual", "--exclude-resource-type", "test", "unit_test"],
                url=url, vars=settlement.dbt_vars(YEAR, 5))
    assert _rows(url, "select * from marts.settlement_annual order by region_code, hospital_id, settlement_year") \
        == before


def test_explain_names_type_points_and_money(city):
    cp = _rows(city["url"], "select * from marts.case_points where case_type = 'high' limit 1")[0]
    with psycopg.connect(city["url"]) as conn:  # the fixture's groups carry no trace: give this one the grouper's
        conn.execute("update marts.case_grouping set trace = 'MDCF 主诊断 I21.900 在主诊表 | ADRG FR1 【主要诊断】:"
                     " 主诊断 I21.900' where scheme_version = %s and hospital_id = %s and case_id = %s",
                     (cp["scheme_version"], cp["hospital_id"], cp["case_id"]))
    text = settlement.explain_case(cp["hospital_id"], cp["case_id"], url=city["url"])
    assert "case type: high" in text and str(cp["points"]) in text and "annual point value" in text
    assert f"grouping ({cp['scheme_version']})" in text  # the version and the rule trace of its group
    assert "\n    MDCF 主诊断 I21.900 在主诊表\n    ADRG FR1 【主要诊断】: 主诊断 I21.900\n" in text
    with pytest.raises(UserError):
        settlement.explain_case("H1", "NO-SUCH-CASE", url=city["url"])


def test_base_weights_renormalised_and_calibrations_kept(city):
    """Calibrating 2023 (base 2020–2022, no 2020 data) keeps the 2024 calibration and renormalises weights."""
    url = city["url"]
    before = _rows(url, "select * from marts.drg_base_points where settlement_year = %s order by drg", (YEAR,))
    settlement.calibrate(2023, url=url)
    assert _rows(url, "select * from marts.drg_base_points where settlement_year = %s order by drg", (YEAR,)) == before
    exp = recompute(city["cases"], city["groups"], 2023, budgets=BUDGETS)["base_points"]
    got = {r["drg"]: r for r in _rows(url, "select * from marts.drg_base_points where settlement_year = 2023")}
    assert {d: g["base_points"] for d, g in got.items()} == {d: e["base_points"] for d, e in exp.items()}


def test_close_makes_a_month_immutable_and_corrections_become_adjustments(city, tmp_path):
    url = city["url"]
    period = f"{YEAR}-03"
    frozen = _rows(url, "select * from marts.settlement_monthly where period = %s order by 1, 2", (period,))
    settlement.close_period(period, url=url)
    with pytest.raises(UserError, match="closed"):
        settlement.settle(YEAR, 3, url=url)
    with pytest.raises(UserError, match="in use by closed"):
        settlement.calibrate(YEAR, url=url)
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("delete from marts.settlement_monthly where period = %s", (period,))
    # a March case corrected after the close: new batch, doubled cost
    victim = _rows(url, "select c.* from staging.stg_raw__cases c "
                        "join marts.case_points p using (hospital_id, case_id) "
                        "where c.settle_period = %s and p.case_type = 'normal' limit 1", (period,))[0]
    src = (tmp_path / "fix.csv")
    orig = next(c for c in city["cases"] if c["case_id"] == victim["case_id"])
    fixed = dict(orig, total_cost=str(D(orig["total_cost"]) * 2), fund_paid=str(D(orig["fund_paid"]) * 2))
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CASE_COLUMNS)
        w.writerow([fixed[k] for k in CASE_COLUMNS])
    loader.load_paths([src], url=url, validate=False, progress=False)
    # the correction is not paid under its old group: settlement refuses until it is regrouped
    with pytest.raises(UserError, match=rf"1 case\(s\) of {YEAR} changed after they were grouped \(e.g. "
                                        rf"{victim['hospital_id']}/{victim['case_id']}"):
        settlement.settle(YEAR, url=url)
    regroup_fixture(url)
    settlement.settle(YEAR, url=url)
    assert _rows(url, "select * from marts.settlement_monthly where period = %s order by 1, 2", (period,)) == frozen
    # the closed month's statement, made again after the annual run, shows what the close recorded: its case
    # sheet adds up to its frozen totals (issue 18 #13), the corrected cost nowhere in it
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        d = statements.statement_data(conn, victim["hospital_id"], period)
    assert sum(c["points"] for c in d["cases"]) == d["total"]["total_points"] == d["type_total"]["points"]
    assert next(c for c in d["cases"] if c["case_id"] == victim["case_id"])["total_cost"] == D(orig["total_cost"])
    row = _rows(url, "select * from marts.settlement_annual where settlement_year = %s and hospital_id = %s",
                (YEAR, victim["hospital_id"]))[0]
    assert row["adjusted_case_count"] == 1
    assert row["prepaid"] == sum(r["prepayment"] for r in _rows(
        url, "select prepayment from marts.settlement_monthly where settlement_year = %s and hospital_id = %s and "
             "region_code = %s", (YEAR, victim["hospital_id"], row["region_code"])))
    with pytest.raises(UserError, match="reason"):
        settlement.reopen_period(period, "  ", url=url)
    settlement.reopen_period(period, "hospital appeal 2024-17", url=url)
    ev = _rows(url, "select * from audit.period_events where period = %s order by event_id", (period,))
    assert [e["action"] for e in ev] == ["close", "reopen"] and ev[-1]["reason"] == "hospital appeal 2024-17"
    settlement.settle(YEAR, 3, url=url)
    assert _rows(url, "select * from marts.settlement_monthly where period = %s order by 1, 2", (period,)) != frozen
    # closing the year freezes the annual clearing and every month it used
    settlement.settle(YEAR, url=url)
    settlement.close_period(str(YEAR), url=url)
    with pytest.raises(UserError, match="closed"):
        settlement.settle(YEAR, 5, url=url)
    with pytest.raises(UserError, match="closed"):
        settlement.settle(YEAR, url=url)
    settlement.reopen_period(str(YEAR), "test done", url=url)


def test_cli_prints_user_errors_without_trace(city, use_database, capsys):
    use_database(city["url"])
    assert cli.main(["close", "--period", "2024-13"]) == 2
    assert "not YYYY-MM" in capsys.readouterr().err
    assert cli.main(["settle", "--year", "2031"]) == 2
    assert "drgflow: error:" in capsys.readouterr().err


def _dbt_tests_run(url: str) -> dict[str, str]:
    """test name -> status of the last dbt command run against `url` (its run_results.json)."""
    results = json.loads((Path(target_dir(url)) / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"].split(".")[2]: r["status"] for r in results if r["unique_id"].startswith("test.")}


def test_the_command_line_runs_the_checks_the_dags_run(city, use_database, capsys):
    """drgflow calibrate and settle run the dbt tests the DAGs' test tasks run, those of the period views (built
    in the first step, before the Python checks) included: the base weights and one case_points row per case."""
    use_database(city["url"])
    assert cli.main(["calibrate", "--year", str(YEAR)]) == 0
    assert _dbt_tests_run(city["url"]).get("assert_base_weights_match_base_years") == "pass"
    assert cli.main(["settle", "--year", str(YEAR), "--month", str(MONTHS[0])]) == 0
    ran = _dbt_tests_run(city["url"])
    assert {ran.get(t) for t in ("assert_base_weights_match_base_years", "assert_case_points_one_row_per_case",
                                 "assert_monthly_prepayments_match_point_value")} == {"pass"}, ran
    capsys.readouterr()


def test_missing_budget_and_empty_base_period_are_user_errors(city):
    url = city["url"]
    with pytest.raises(UserError, match="empty base period"):
        settlement.calibrate(2021, url=url)
    with pytest.raises(UserError, match="missing fund budget"):
        settlement.settle(2022, url=url)


def test_other_trimming_methods_match_recomputation(tmp_path):
    name, url, cases, groups = _make_city(tmp_path / "c", "drgflow_trim")
    try:
        settlement.calibrate(YEAR, url=url)
        for method in ("log_sd", "iqr", "none"):
            with psycopg.connect(url) as conn:  # a policy change, as an analyst would try it in a sandbox
                conn.execute("update ref.policy_parameters set trim_method = %s, trim_min_n = 10", (method,))
            run_dbt(runs.build_args(runs.CALIBRATION_FIGURES), url=url, vars=settlement.dbt_vars(YEAR, None))
            exp = recompute(cases, groups, YEAR, p={"trim_method": method, "trim_min_n": 10},
                            budgets=BUDGETS)["base_points"]
            got = {r["drg"]: r for r in _rows(url, "select * from marts.drg_base_points where settlement_year = %s",
                                              (YEAR,))}
            assert ({d: g["base_points"] for d, g in got.items()}
                    == {d: e["base_points"] for d, e in exp.items()}), method
            trimmed = any(g["n_kept"] < g["n_base"] for g in got.values())
            assert trimmed == (method != "none"), method
    finally:
        drop_database(name)


def test_close_refuses_an_interrupted_or_inconsistent_settlement(city):
    """Issue 18 #3: close only a period whose last settle run completed and whose marts agree."""
    url = city["url"]
    period = f"{YEAR}-05"
    settlement.settle(YEAR, 5, url=url)
    with psycopg.connect(url) as conn:   # a settle of the month killed mid-way: its run row stays 'running'
        conn.execute("insert into audit.runs (command, period) values ('settle', %s)", (period,))
    with pytest.raises(UserError, match=r"its last settle run \(\d+\) did not finish .* drgflow settle --year "
                                        rf"{YEAR} --month 5"):
        settlement.close_period(period, url=url)
    settlement.settle(YEAR, 5, url=url)   # the rerun marks the dead run interrupted and completes
    assert _rows(url, "select count(*) as n from audit.runs where status = 'running'")[0]["n"] == 0
    assert _rows(url, "select count(*) as n from audit.runs where status = 'interrupted'")[0]["n"] >= 1
    # case points that no longer add up to the recorded totals (a partial rebuild) are refused too
    with psycopg.connect(url) as conn:
        conn.execute("alter table marts.case_points disable trigger user")
        conn.execute("update marts.case_points set points = points + 1 where ctid = (select ctid from "
                     "marts.case_points where period = %s limit 1)", (period,))
        conn.execute("alter table marts.case_points enable trigger user")
    with pytest.raises(UserError, match="case points of 1 hospital\\(s\\) disagree"):
        settlement.close_period(period, url=url)
    settlement.settle(YEAR, 5, url=url)
    assert settlement.close_period(period, url=url)["changed"]
    settlement.reopen_period(period, "test done", url=url)
