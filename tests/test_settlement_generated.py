"""End to end on a generated city (drgflow generate → load with validation → group with the real grouper →
calibrate → settle a month and the year), every published figure re-computed independently in Decimal from the
staging tables (tests/settlement_fixture.py): points and coefficients exactly (to 1e-4), money to the cent,
statistics to 1e-6."""
from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from conftest import create_database, drop_database
from drgflow import config, db, generate, grouping, loader, settlement, transform
from settlement_fixture import recompute, recompute_statistics

D = Decimal
YEAR = 2024


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    name, url = create_database("drgflow_gen")
    db.init_warehouse(url)
    out = tmp_path_factory.mktemp("gen")
    generate.generate_city(out, years=[2021, 2022, 2023, 2024], cases_per_year=2000, hospitals=8, regions=2,
                           seed=11, defect_rate=0.01, scheme_dir=None, split="year", progress=False)
    loader.load_paths([out], url=url, progress=False)
    transform.run_dbt(["run", "--select", "staging"], url=url)
    grouping.group_cases(url, config.default_scheme()[0])
    settlement.calibrate(YEAR, url=url)
    settlement.settle(YEAR, 6, url=url)
    settlement.settle(YEAR, 7, url=url)
    settlement.settle(YEAR, url=url)
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        yield url, conn
    drop_database(name)


def _inputs(conn) -> dict:
    cases = []
    for r in conn.execute("select * from staging.stg_raw__cases where settle_year is not null").fetchall():
        c = {k: ("" if v is None else str(v)) for k, v in r.items()}
        c["dx_codes"] = "|".join(r["dx_codes"] or [])
        cases.append(c)
    groups = [(g["hospital_id"], g["case_id"], g["drg"], g["group_status"])
              for g in conn.execute("select * from intermediate.int_case_groups_selected").fetchall()]
    hospitals = [(h["hospital_id"], h["level"], h["region_code"])
                 for h in conn.execute("select * from staging.stg_raw__hospitals").fetchall()]
    special = {(r["hospital_id"], r["case_id"]): r["approved_points"]
               for r in conn.execute("select * from staging.stg_raw__special_review where approved").fetchall()}
    scores = {r["hospital_id"]: r["score"] for r in conn.execute(
        "select * from staging.stg_raw__assessment_scores where year = %s and score is not null", (YEAR,)).fetchall()}
    budgets = {(r["region_code"], r["year"]): str(r["fund_budget"])
               for r in conn.execute("select * from staging.stg_raw__budgets").fetchall()}
    return dict(cases=cases, groups=groups, hospitals=hospitals, special=special, scores=scores, budgets=budgets)


def test_generated_city_matches_recomputation(generated):
    url, conn = generated
    i = _inputs(conn)
    prepaid: dict = {}
    exp = recompute(i["cases"], i["groups"], YEAR, special=i["special"], scores=i["scores"], budgets=i["budgets"],
                    hospitals=i["hospitals"])
    for (r, h, per), m in exp["monthly"].items():
        if per in (f"{YEAR}-06", f"{YEAR}-07"):
            prepaid[(r, h)] = prepaid.get((r, h), D(0)) + m["prepayment"]
    exp = recompute(i["cases"], i["groups"], YEAR, special=i["special"], scores=i["scores"], budgets=i["budgets"],
                    hospitals=i["hospitals"], prepaid=prepaid)

    bp = {r["drg"]: r for r in conn.execute("select * from marts.drg_base_points where settlement_year = %s",
                                            (YEAR,)).fetchall()}
    assert len(bp) == len(exp["base_points"]) > 50
    for drg, e in exp["base_points"].items():
        assert (bp[drg]["base_points"], bp[drg]["stable"]) == (e["base_points"], e["stable"]), drg
    hc = {(r["hospital_id"], r["drg"]): r["coefficient"] for r in conn.execute(
        "select * from marts.hospital_coefficients where settlement_year = %s", (YEAR,)).fetchall()}
    assert hc == {k: e["coefficient"] for k, e in exp["coefficients"].items()}
    cp = {(r["hospital_id"], r["case_id"]): (r["case_type"], r["points"]) for r in conn.execute(
        "select * from marts.case_points where settlement_year = %s", (YEAR,)).fetchall()}
    assert cp == {k: (e["case_type"], e["points"]) for k, e in exp["case_points"].items()}
    sm = {(r["region_code"], r["hospital_id"], r["period"]): r["prepayment"] for r in conn.execute(
        "select * from marts.settlement_monthly").fetchall()}
    assert sm and sm == {k: exp["monthly"][k]["prepayment"] for k in sm}
    sa = {(r["region_code"], r["hospital_id"]): (r["payable"], r["prepaid"], r["clearing"]) for r in conn.execute(
        "select * from marts.settlement_annual where settlement_year = %s", (YEAR,)).fetchall()}
    assert sa == {k: (e["payable"], e["prepaid"], e["clearing"]) for k, e in exp["annual"].items()}


def test_generated_city_statistics_match_recomputation(generated):
    url, conn = generated
    i = _inputs(conn)
    rw: dict = {}
    for r in conn.execute("select settlement_year, drg, rw from marts.drg_base_points where base_points is not null"):
        rw.setdefault(r["settlement_year"], {})[r["drg"]] = r["rw"]
    st = recompute_statistics(i["cases"], i["groups"], rw)
    tol = D("0.000001")
    ds = {(r["year"], r["drg"]): r for r in conn.execute("select * from marts.drg_year_stats").fetchall()}
    assert set(ds) == set(st["drg_year_stats"])
    for k, e in st["drg_year_stats"].items():
        for col, v in e.items():
            got = ds[k][col]
            assert got == v if col in ("mortality_risk", "n", "n_trimmed", "deaths") or v is None or got is None \
                else abs(D(got) - v) <= tol, (k, col, got, v)
    gq = {r["year"]: r for r in conn.execute("select * from marts.grouping_quality").fetchall()}
    for y, e in st["grouping_quality"].items():
        for col, v in e.items():
            assert abs(D(gq[y][col]) - v) <= tol, (y, col)
    hp = {(r["year"], r["hospital_id"]): r for r in conn.execute("select * from marts.hospital_performance").fetchall()}
    assert set(hp) == set(st["hospital_performance"])
    for k, e in st["hospital_performance"].items():
        for col, v in e.items():
            got = hp[k][col]
            assert (got is None) == (v is None) and (v is None or abs(D(got) - v) <= tol), (k, col, got, v)
