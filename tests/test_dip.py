"""DIP part 1 (issue 20): the 平顶山 catalogue import, refused files, and the DIP grouping against the independent
oracle (tests/oracle/dip_v1.py, written from dip-spec alone by someone who had not read the models):

* the oracle's hand-made cases (tests/oracle/handmade_dip.csv: every boundary of §2 and §4, expected values worked
  out by hand) against a hand-made catalogue imported as a workbook in the 平顶山 layout;
* cases generated on the 平顶山 catalogue's groups, perturbed at the boundaries, grouped by both.
"""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import create_database, drop_database, query
from drgflow import loader
from drgflow.dip import catalogue as dip_catalogue
from drgflow.dip import runs as dip_runs
from drgflow.errors import UserError
from drgflow.grouping import ensure_reference
from oracle import dip_v1
from test_dip_support import dip_parameters, generated_cases, write_catalogue, write_csv
from test_grouping_support import load_cases

ORACLE_DIR = Path(__file__).parent / "oracle"
COMPARED = ("group_status", "reason", "code", "dx4", "p_i", "r_i", "class", "px_dropped")
REGION = "330100"


@pytest.fixture(scope="module")
def shared(shared_dir):
    if shared_dir is None or not (shared_dir / "dip").is_dir():
        pytest.skip("../shared (terminology, CHS-DRG-1.1, the 平顶山 catalogue) is not on this machine")
    return shared_dir


@pytest.fixture(scope="module")
def pingdingshan(shared) -> Path:
    return next((shared / "dip" / "pingdingshan-2025").glob("*.xlsx"))


@pytest.fixture(scope="module")
def term(shared):
    return dip_v1.load_terminology(shared)


@pytest.fixture(scope="module")
def or_list(shared):
    return dip_v1.load_or_list(shared / "schemes" / "CHS-DRG-1.1")


def _warehouse(prefix: str):
    name, url = create_database(prefix)
    ensure_reference(url, "CHS-DRG-1.1")     # the terminology and the operating-room list (or_list_scheme)
    return name, url


@pytest.fixture(scope="module")
def warehouse(shared):
    name, url = _warehouse("drgflow_dip")
    yield url
    drop_database(name)


def _grouped(url: str, year: int) -> dict[str, dict]:
    rows = query(url, "select case_id, group_status, reason, code, dx4, p_i, r_i, class, px_dropped, trace"
                      " from marts.dip_case_grouping where settlement_year = %s", (year,))
    return {r[0]: dict(zip(("case_id",) + COMPARED + ("trace",), r, strict=True)) for r in rows}


# --- import -------------------------------------------------------------------------------------------------------

def test_pingdingshan_import_reproduces_the_published_catalogue(warehouse, pingdingshan, term, tmp_path):
    r = dip_catalogue.import_catalogue(pingdingshan, 2025, warehouse)
    assert (r["groups"], r["core"], r["comprehensive"]) == (4444, 3877, 567)
    assert r["reference_mean"] == Decimal("5718.153489")
    assert r["warnings"] == []
    assert query(warehouse, "select count(*) from ref.dip_catalogue_extra where settlement_year = 2025")[0][0] == 92
    ours = {row[0]: row[1:] for row in query(
        warehouse, "select code, published_code, group_type, dx_key, main_px, related_px, class, score, mean_cost, n,"
                   " cv, mean_los from ref.dip_catalogue_published where settlement_year = 2025")}
    theirs = dip_v1.import_catalogue(pingdingshan, 2025, term)
    assert len(theirs) == len(ours) == 4444
    for t in theirs:
        o = ours[t["code"]]
        assert o[:6] == (t["published_code"], t["group_type"], t["dx_key"], t["main_px"], t["related_px"],
                         t["class"]), t["code"]
        # scores and mean fees exactly as published (6 decimals)
        assert (o[6], o[7], o[8]) == (Decimal(t["score"]), Decimal(t["mean_cost"]), t["n"]), t["code"]
    # a sample published value (dip-spec §13.1)
    assert ours["K80.1:51.2300_47.0100"][6] == Decimal("2241.793618")


@pytest.mark.parametrize("damage, named", [
    ("duplicate", "row 6"),
    ("missing_stats", "no 中间结果 row"),
    ("zero_score", "must be > 0"),
    ("type", "病种类型"),
    ("unknown_px", "not in the ICD-9-CM-3"),
])
def test_a_damaged_catalogue_is_refused_naming_sheet_and_row(warehouse, pingdingshan, tmp_path, damage, named):
    import openpyxl

    wb = openpyxl.load_workbook(pingdingshan)
    groups, stats = wb["目录"], wb["中间结果"]
    if damage == "duplicate":
        groups.cell(6, 2).value = groups.cell(3, 2).value.lower()     # equal to row 3 after normalisation
    elif damage == "missing_stats":
        groups.cell(10, 2).value = "A09.9:99.9999"
    elif damage == "zero_score":
        stats.cell(5, 7).value = 0
    elif damage == "type":
        groups.cell(4, 3).value = "2"
    elif damage == "unknown_px":
        code = groups.cell(2, 2).value
        groups.cell(2, 2).value = code.split(":")[0] + ":ZZ.9999"
        groups.cell(2, 6).value = "ZZ.9999"
    bad = tmp_path / f"damaged-{damage}.xlsx"
    wb.save(bad)
    before = query(warehouse, "select count(*) from ref.dip_catalogue_published")[0][0]
    with pytest.raises(UserError) as err:
        dip_catalogue.import_catalogue(bad, 2031, warehouse)
    text = str(err.value)
    assert bad.name in text and "sheet " in text and "row " in text and named in text, text
    assert query(warehouse, "select count(*) from ref.dip_catalogue_published")[0][0] == before   # nothing written


def test_a_file_that_is_no_workbook_is_refused_in_one_sentence(warehouse, tmp_path):
    bad = tmp_path / "catalogue.xlsx"
    bad.write_text("序号,病种编码\n1,A09.9\n", encoding="utf-8")
    with pytest.raises(UserError, match="not an .xlsx workbook"):
        dip_catalogue.import_catalogue(bad, 2031, warehouse)


# --- grouping -----------------------------------------------------------------------------------------------------

def _handmade_catalogue() -> list[dict]:
    with (ORACLE_DIR / "handmade_dip_catalogue.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _handmade_cases() -> list[dict]:
    with (ORACLE_DIR / "handmade_dip.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _group_handmade(url: str, tmp: Path, year: int, rows: list[dict], procedure_class: dict[str, str]) -> dict:
    cat = _handmade_catalogue()
    tmp.mkdir(parents=True, exist_ok=True)
    write_catalogue(tmp / "handmade.xlsx", [(c["code"], Decimal(c["score"])) for c in cat])
    dip_catalogue.import_catalogue(tmp / "handmade.xlsx", year, url)
    files = [dip_parameters(tmp, [(year, "dip_regions", REGION), (year, "catalogue_source", "import")]),
             write_csv(tmp / "dip_basic_groups.csv", ("settlement_year", "code"),
                       [(year, c["code"]) for c in cat if c["group_type"] == "basic"])]
    if procedure_class:
        files.append(write_csv(tmp / "procedure_class.csv", ("code", "class"), sorted(procedure_class.items())))
    loader.load_paths(files, url=url, validate=False, progress=False)
    load_cases(url, tmp, [{"case_id": r["case_id"], "dx_codes": r["dx_codes"], "px_codes": r["px_codes"],
                           "region_code": REGION} for r in rows], name=f"handmade-{year}.csv")
    dip_runs.group(year, url)
    return _grouped(url, year)


def _check_handmade(rows: list[dict], got: dict, term, or_list) -> list[str]:
    cat = [dip_v1.catalogue_row(c["code"], c["group_type"], Decimal(c["score"])) for c in _handmade_catalogue()]
    wrong = []
    for r in rows:
        g = got[r["case_id"]]
        want = {"group_status": r["expected_status"], "code": r["expected_code"] or None,
                "p_i": r["expected_p_i"] or None, "r_i": r["expected_r_i"], "class": r["expected_class"],
                "px_dropped": int(r["expected_px_dropped"])}
        have = {k: g[k] for k in want}
        if have != want:
            wrong.append(f"{r['case_id']} {r['rule']}: expected {want}, got {have}\n    {g['trace']}")
        pc = dict(e.split(":", 1) for e in r["procedure_class"].split("|") if e)
        o = dip_v1.group_case({"dx_codes": r["dx_codes"], "px_codes": r["px_codes"]}, cat, term, or_list,
                              procedure_class=pc or None)
        if {k: o[k] or None for k in want if k not in ("r_i", "px_dropped")} != \
                {k: have[k] for k in want if k not in ("r_i", "px_dropped")}:
            wrong.append(f"{r['case_id']}: the oracle says {o}")
    return wrong


def test_handmade_cases_group_as_worked_out_by_hand(warehouse, tmp_path, term, or_list):
    rows = [r for r in _handmade_cases() if not r["procedure_class"]]
    got = _group_handmade(warehouse, tmp_path, 2026, rows, {})
    assert len(got) == len(rows)
    wrong = _check_handmade(rows, got, term, or_list)
    assert not wrong, f"{len(wrong)} of {len(rows)} hand-made cases differ:\n" + "\n".join(wrong)


def test_a_loaded_procedure_class_decides_the_class(shared, tmp_path, term, or_list):
    """procedure_class.csv applies to every case, so each hand-made row's own classes get a warehouse of their own."""
    rows = [r for r in _handmade_cases() if r["procedure_class"]]
    assert rows, "the hand-made cases have rows with a procedure class"
    by_classes: dict[str, list[dict]] = {}
    for r in rows:
        by_classes.setdefault(r["procedure_class"], []).append(r)
    for n, (text, group) in enumerate(sorted(by_classes.items())):
        classes = dict(e.split(":", 1) for e in text.split("|") if e)
        name, url = _warehouse("drgflow_dipc")
        try:
            got = _group_handmade(url, tmp_path / str(n), 2026, group, classes)
            wrong = _check_handmade(group, got, term, or_list)
            assert not wrong, "\n".join(wrong)
        finally:
            drop_database(name)


def test_generated_cases_group_as_the_independent_oracle(warehouse, pingdingshan, tmp_path, term, or_list):
    dip_catalogue.import_catalogue(pingdingshan, 2025, warehouse)
    catalogue = dip_v1.import_catalogue(pingdingshan, 2025, term)
    dx_codes = [r[0] for r in query(warehouse, "select code from ref.dx_catalogue order by code")]
    px_codes = [r[0] for r in query(warehouse, "select code from ref.px_catalogue order by code")]
    cases = generated_cases(catalogue, dx_codes, px_codes, 2500)
    loader.load_paths([dip_parameters(tmp_path, [(2025, "dip_regions", REGION),
                                                 (2025, "catalogue_source", "import")])],
                      url=warehouse, validate=False, progress=False)
    load_cases(warehouse, tmp_path, [{**c, "region_code": REGION} for c in cases], name="generated.csv")
    dip_runs.group(2025, warehouse)
    got = _grouped(warehouse, 2025)
    index = dip_v1.CatalogueIndex(catalogue)
    wrong, statuses = [], {}
    for c in cases:
        o = dip_v1.group_case(c, index, term, or_list)
        g = got[c["case_id"]]
        statuses[g["group_status"]] = statuses.get(g["group_status"], 0) + 1
        want = {k: (o[k] if o[k] != "" or k == "r_i" else None) for k in COMPARED}
        have = {k: g[k] for k in COMPARED}
        if want != have:
            wrong.append(f"{c['case_id']} dx {c['dx_codes']} px {c['px_codes']}:\n  oracle {want}\n  drgflow {have}"
                         f"\n  {g['trace']}")
    assert not wrong, f"{len(wrong)} of {len(cases)} generated cases differ:\n" + "\n".join(wrong[:20])
    # the generated cases reach every status but basic (平顶山 has no basic list)
    assert {"core", "comprehensive", "unmatched"} <= set(statuses), statuses
