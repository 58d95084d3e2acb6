"""Reports (issue 8) on a real warehouse: the small four-year city of tests/settlement_fixture.py, loaded,
calibrated and settled with real dbt (2024-03, 2024-05 and the year), plus a file of bad rows validated for
real so audit.quarantine has rows. The workbooks are opened with openpyxl and their totals compared with the
marts; the regional report is rendered in headless Chromium; the analysts' SQL examples are executed."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook

from conftest import create_database, drop_database
from drgflow import cli, config, contract, db, loader, quality, settlement
from drgflow.errors import UserError
from drgflow.reports import build_reports
from settlement_fixture import build_city, write_case_grouping

D = Decimal
YEAR, MONTHS = 2024, (3, 5)
CHROMIUM = "/usr/bin/chromium"
#: bad rows of H1: (settle_date, extra fee that breaks the fee sum) -> two in 2024-03, one in 2024-05
BAD_ROWS = [("2024-03-09", "10.00"), ("2024-03-15", "5.00"), ("2024-05-02", "7.00")]


def _rows(url: str, sql: str, args=()) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, args).fetchall()


def _write_bad_rows(folder: Path, url: str) -> Path:
    with psycopg.connect(url) as conn:
        dx = conn.execute("select min(code) from ref.dx_catalogue where code ~ '^[IJK][0-9]{2}[.]' "
                          "and code !~ '[+*]'").fetchone()[0]
    rows = []
    for i, (settle, extra) in enumerate(BAD_ROWS):
        fees = dict.fromkeys(contract.FEE_COLUMNS, "0.00") | {"fee_bed": "600.00", "fee_western_drug": "400.00",
                                                              "fee_other": extra}
        rows.append(dict.fromkeys(contract.CASE_COLUMNS, "") | fees | {
            "case_id": f"BAD{i}", "hospital_id": "H1", "region_code": "R1", "insurance_type": "310",
            "patient_id": f"PBAD{i}", "sex": "1", "age_years": "45", "admit_date": settle[:8] + "01",
            "discharge_date": settle[:8] + "06", "los_days": "5", "discharge_way": "1", "dx_codes": dx,
            "total_cost": "1000.00", "fund_paid": "700.00", "settle_date": settle})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cases_bad.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=contract.CASE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The settled city and its reports for 2024-03 (no dbt docs) and 2024 (with dbt docs)."""
    tmp = tmp_path_factory.mktemp("reports_city")
    name, url = create_database("drgflow_reports")
    try:
        yield _settled_city(tmp, url)
    finally:  # also when building the city failed: no database or dbt/GX folders left behind
        drop_database(name)
        shutil.rmtree(config.home() / "dbt" / name, ignore_errors=True)
        shutil.rmtree(config.home() / "gx" / name, ignore_errors=True)


def _settled_city(tmp: Path, url: str) -> dict:
    from drgflow.schemes.terminology import import_terminology

    db.init_warehouse(url)
    _, groups = build_city(tmp / "city")
    loader.load_paths([tmp / "city"], url=url, validate=False, progress=False)
    scheme = config.default_scheme_version()
    write_case_grouping(url, scheme, groups)
    settlement.calibrate(YEAR, url=url)
    for m in MONTHS:
        settlement.settle(YEAR, m, url=url)
    settlement.settle(YEAR, url=url)
    import_terminology(url)
    bad = loader.load_paths([_write_bad_rows(tmp / "bad", url)], url=url, progress=False)[0]
    assert (bad.rows_accepted, bad.rows_quarantined) == (0, len(BAD_ROWS))  # rejected for real, by validation
    quality.build_quality_marts(url)  # so the dbt docs check covers the quality marts too
    out = tmp / "reports"
    monthly = build_reports(f"{YEAR}-03", url, out_dir=out, docs=False)
    annual = build_reports(str(YEAR), url, out_dir=out)
    return {"url": url, "out": out, "monthly": monthly, "annual": annual, "tmp": tmp}


def _named(wb, name: str):
    """Value of a workbook-level defined name (the statement names its total cells)."""
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "")].value


def _cents(x) -> Decimal:
    return D(str(x)).quantize(D("0.01"))


def _close(a, b, tol: str) -> bool:
    return abs(D(str(a)) - D(str(b))) <= D(tol)


# ------------------------------------------------------------------------------------------ statements

def test_monthly_statements_equal_the_marts_to_the_cent(city):
    url, stmts = city["url"], city["monthly"]["statements"]
    marts = _rows(url, """select hospital_id, sum(case_count) as cases, sum(total_points) as points,
                                 sum(prepayment) as prepayment, sum(personal_paid) as personal
                          from marts.settlement_monthly where period = %s group by 1""", (f"{YEAR}-03",))
    assert sorted(stmts) == sorted(r["hospital_id"] for r in marts) and len(marts) >= 4
    for m in marts:
        wb = load_workbook(stmts[m["hospital_id"]]["xlsx"])
        assert wb.sheetnames == ["汇总 Summary", "病例明细 Cases", "拒收病例 Rejected"]
        assert _named(wb, "total_case_count") == m["cases"]
        assert _cents(_named(wb, "total_prepayment")) == m["prepayment"]
        assert _cents(_named(wb, "total_personal_paid")) == m["personal"]
        assert _close(_named(wb, "total_total_points"), m["points"], "0.0001")
        assert _close(_named(wb, "total_points_by_type"), m["points"], "0.0001")
        # the case sheet: one row per case of the mart, its points add up to the total
        cases = _rows(url, "select case_id, points, case_type from marts.case_points where hospital_id = %s "
                           "and period = %s", (m["hospital_id"], f"{YEAR}-03"))
        ws = wb["病例明细 Cases"]
        header = [c.value for c in ws[1]]
        assert "基准点数 base points BP" in header and "差异系数 coefficient c" in header
        body = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] and not str(r[0]).startswith("合计")]
        assert sorted(r[0] for r in body) == sorted(c["case_id"] for c in cases)
        pts = header.index("点数 points")
        assert _close(sum(D(str(r[pts])) for r in body), m["points"], "0.0001")
        assert _close(_named(wb, "cases_total_points"), m["points"], "0.0001")


def test_statement_flags_cases_changed_after_settlement(city):
    from drgflow.reports.statements import _explanation, adjusted_points, statement_data

    with psycopg.connect(city["url"]) as conn:
        d = statement_data(conn, "H2", f"{YEAR}-03")
    assert adjusted_points(d) == 0 and "注意" not in _explanation(d)  # nothing changed since settlement
    d["total"]["total_points"] -= D("1.2345")  # as if a case of the closed month had been corrected since
    assert adjusted_points(d) == D("1.2345") and "1.2345" in _explanation(d)


def test_numbers_are_numbers_with_formats(city):
    wb = load_workbook(city["monthly"]["statements"]["H1"]["xlsx"])
    ws = wb["汇总 Summary"]
    sheet, ref = next(iter(wb.defined_names["total_prepayment"].destinations))
    cell = wb[sheet][ref.replace("$", "")]
    assert isinstance(cell.value, (int, float)) and cell.number_format == "#,##0.00"
    sheet, ref = next(iter(wb.defined_names["total_total_points"].destinations))
    assert wb[sheet][ref.replace("$", "")].number_format == "#,##0.0000"
    cases = wb["病例明细 Cases"]
    header = [c.value for c in cases[1]]
    cost = cases.cell(row=2, column=header.index("医疗总费用 total cost C") + 1)
    assert isinstance(cost.value, (int, float)) and cost.number_format == "#,##0.00"
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if re.fullmatch(r"-?[\d,]+\.\d+", t)]  # no figure written as text


def test_annual_statements_payable_and_clearing_equal_the_marts(city):
    url, stmts = city["url"], city["annual"]["statements"]
    marts = _rows(url, """select hospital_id, sum(total_points) as points, sum(payable) as payable,
                                 sum(prepaid) as prepaid, sum(clearing) as clearing, sum(case_count) as cases
                          from marts.settlement_annual where settlement_year = %s group by 1""", (YEAR,))
    assert sorted(stmts) == sorted(r["hospital_id"] for r in marts)
    for m in marts:
        wb = load_workbook(stmts[m["hospital_id"]]["xlsx"])
        assert _cents(_named(wb, "total_payable")) == m["payable"]
        assert _cents(_named(wb, "total_prepaid")) == m["prepaid"]
        assert _cents(_named(wb, "total_clearing")) == m["clearing"]
        assert _named(wb, "total_case_count") == m["cases"]
        assert _close(_named(wb, "total_total_points"), m["points"], "0.0001")
        summary = [c.value for row in wb["汇总 Summary"].iter_rows() for c in row]
        assert "清算 clearing" in summary and "应付 payable" in summary and "年度点值 point value (元/点)" in summary
    # the prepaid of the year is the two settled months' prepayments
    prepaid = _rows(url, "select sum(prepayment) as s from marts.settlement_monthly where settlement_year = %s",
                    (YEAR,))[0]["s"]
    assert sum(m["prepaid"] for m in marts) == prepaid


def test_rejected_sheet_lists_the_hospitals_quarantined_rows_of_the_period(city):
    def rejected(path: str) -> list[tuple]:
        ws = load_workbook(path)["拒收病例 Rejected"]
        return [r for r in ws.iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]

    march = rejected(city["monthly"]["statements"]["H1"]["xlsx"])
    assert sorted(r[3] for r in march) == ["BAD0", "BAD1"]
    assert all(r[5] == "fee_sum_mismatch" and "total" in r[6] for r in march)  # rule and its reason
    assert rejected(city["monthly"]["statements"]["H2"]["xlsx"]) == []
    year = rejected(city["annual"]["statements"]["H1"]["xlsx"])  # one line per (row, rule): a row may fail two
    assert {r[3] for r in year} == {"BAD0", "BAD1", "BAD2"}
    assert {r[3] for r in year if r[5] == "fee_sum_mismatch"} == {"BAD0", "BAD1", "BAD2"}
    assert len(year) == _rows(city["url"], "select count(*) as n from audit.quarantine where hospital_id = 'H1' "
                                           "and severity = 'reject'")[0]["n"]
    assert _named(load_workbook(city["monthly"]["statements"]["H1"]["xlsx"]), "rejected_rows") == 2
    assert _named(load_workbook(city["annual"]["statements"]["H1"]["xlsx"]), "rejected_rows") == 3  # rows, not hits


def test_html_summary_shows_the_workbook_totals(city):
    url = city["url"]
    m = _rows(url, "select sum(prepayment) as p, sum(total_points) as pts from marts.settlement_monthly "
                   "where period = %s and hospital_id = 'H2'", (f"{YEAR}-03",))[0]
    page = Path(city["monthly"]["statements"]["H2"]["html"]).read_text(encoding="utf-8")
    assert f"{m['p']:,.2f}" in page and f"{m['pts']:,.4f}" in page
    assert "预拨金额 prepayment" in page and "点值" in page
    workbook = re.search(r'href="([^"]+\.xlsx)"', page).group(1)
    assert Path(city["monthly"]["statements"]["H2"]["html"]).with_name(workbook).exists()
    a = _rows(url, "select sum(clearing) as c from marts.settlement_annual where settlement_year = %s "
                   "and hospital_id = 'H2'", (YEAR,))[0]
    assert f"{a['c']:,.2f}" in Path(city["annual"]["statements"]["H2"]["html"]).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------- regional

def test_regional_report_has_every_section_and_the_mart_figures(city):
    url = city["url"]
    page = Path(city["annual"]["regional"]).read_text(encoding="utf-8")
    for heading in ("预算使用 Budget use", "点值 Point values by month", "Points by hospital and case type",
                    "Top DRGs", "费用结构 Cost structure", "入组率", "CMI"):
        assert heading in page
    assert page.count("<svg") >= 6                          # charts inline
    assert all(label in page for label in contract.FEE_LABELS_ZH.values())  # the 14 fee categories
    total = _rows(url, "select sum(payable) as p, sum(total_points) as pts from marts.settlement_annual "
                       "where settlement_year = %s", (YEAR,))[0]
    assert f"{total['p']:,.2f}" in page and f"{total['pts']:,.4f}" in page
    pv = _rows(url, "select max(point_value) as pv from marts.settlement_monthly where period = %s "
                    "and region_code = 'R2'", (f"{YEAR}-05",))[0]["pv"]
    assert f"{pv:.6f}" in page
    # last year's CMI with this year's weights: 2023 has no calibration of its own, yet the change is shown
    from drgflow.reports.regional import hospital_indices, scheme_of
    with psycopg.connect(url) as conn:
        indices = hospital_indices(conn, scheme_of(conn, YEAR), YEAR)
    assert indices and all(r["cmi_prev"] is not None and r["cmi_change"] == r["cmi"] - r["cmi_prev"]
                           for r in indices)
    same_rw = _rows(url, """select avg(b.rw) as cmi from staging.stg_raw__cases c
                            join marts.case_grouping g using (hospital_id, case_id)
                            join marts.drg_base_points b on b.settlement_year = %s and b.drg = g.drg
                            where g.group_status = 'grouped' and c.settle_year = %s and c.hospital_id = 'H1'
                              and b.base_points is not null""", (YEAR, YEAR))[0]["cmi"]
    assert _close(same_rw, next(r["cmi"] for r in indices if r["hospital_id"] == "H1"), "0.000001")
    # self-contained: no script, no external resource
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@media print" in page
    # a monthly report shows the months up to its own: rebuilt later, it reads the same
    march = Path(city["monthly"]["regional"]).read_text(encoding="utf-8")
    assert f"{YEAR}-03" in march and f"{YEAR}-05" not in march and f"{YEAR}-05" in page
    assert (Path(city["annual"]["regional"]).parent / "../index.html").resolve() == Path(city["annual"]["index"])


def _chromium(page: Path, shot: Path, tmp: Path) -> list[str]:
    """Render `page` headless, save a screenshot, return the page's console messages."""
    profile = tmp / f"chromium-profile-{shot.stem}"
    profile.mkdir()
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1280,2000",
         "--enable-logging=stderr", "--v=0", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [line for line in proc.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium on this machine")
def test_regional_report_renders_in_headless_chromium(city, tmp_path):
    # the detector itself: a page that logs an error is caught (else "no console errors" proves nothing)
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); missing();</script>", encoding="utf-8")
    assert any("boom" in line for line in _chromium(bad, tmp_path / "bad.png", tmp_path))

    shot = city["out"] / f"regional_{YEAR}.png"  # kept beside the reports for a human look
    assert _chromium(Path(city["annual"]["regional"]), shot, tmp_path) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 60_000  # a rendered page with charts, not blank
    # printable: Chromium's print path (A4 via @page) gives a multi-page PDF
    pdf = tmp_path / "regional.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'pdf-profile'}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                    Path(city["annual"]["regional"]).resolve().as_uri()], capture_output=True, timeout=120, check=True)
    assert pdf.read_bytes()[:5] == b"%PDF-" and len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) >= 2
    assert _chromium(Path(city["monthly"]["statements"]["H1"]["html"]), tmp_path / "stmt.png", tmp_path) == []
    assert _chromium(Path(city["annual"]["index"]), tmp_path / "index.png", tmp_path) == []


def test_charts_fall_back_to_english_labels_without_the_cjk_font():
    from drgflow.reports import charts

    installed = charts.cjk_available()   # fonts-noto-cjk: CI installs it, a fresh machine may lack it
    assert charts.label("点值", "point value") == ("点值" if installed else "point value")
    saved = charts.CJK_FONT
    try:
        charts.CJK_FONT = "No Such Font SC"
        charts.cjk_available.cache_clear()
        assert charts.label("点值", "point value") == "point value"
        svg = charts.line_chart(["2024-01", "2024-02"], {"R1": [D("1.5"), None]}, charts.label("点值", "PV"))
        assert svg.startswith("<svg") and "</svg>" in svg
        charts.CJK_FONT = "DejaVu Sans"        # a font every matplotlib has: the found-font branch
        charts.cjk_available.cache_clear()
        assert charts.label("点值", "point value") == "点值"
    finally:
        charts.CJK_FONT = saved
        charts.cjk_available.cache_clear()
        assert charts.cjk_available() == installed


# ------------------------------------------------------------------------------------- index, docs

def test_index_links_every_report_and_the_docs(city):
    out, index = city["out"], Path(city["annual"]["index"])
    assert index == out / "index.html"
    page = index.read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', page)
    assert links and all((out / link).resolve().exists() for link in links)  # no dead link
    targets = {(out / link).resolve() for link in links}
    for r in (city["monthly"], city["annual"]):
        assert Path(r["regional"]).resolve() in targets
        assert {Path(f["xlsx"]).resolve() for f in r["statements"].values()} <= targets
    assert (out / "dbt_docs" / "index.html").resolve() in targets
    # validation ran for the bad rows, so GX Data Docs exist and are linked
    assert city["annual"]["data_docs"] and Path(city["annual"]["data_docs"]).resolve() in targets
    assert page.index(f">{YEAR} ·") < page.index(f">{YEAR}-03 ·")  # newest period first (annual after its months)


def test_dbt_docs_describe_every_mart_and_column(city):
    docs = Path(city["annual"]["dbt_docs"])
    assert docs.exists() and docs.stat().st_size > 100_000   # the static page, manifest embedded
    manifest = json.loads((docs.parent / "manifest.json").read_text())
    catalog = json.loads((docs.parent / "catalog.json").read_text())
    marts = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model" and n["schema"] == "marts"}
    built = {uid for uid in marts if uid in catalog["nodes"]}
    assert {"case_points", "settlement_monthly", "settlement_annual", "drg_base_points", "hospital_performance",
            "grouping_quality", "drg_year_stats", "hospital_coefficients", "case_grouping", "hospital_data_quality",
            "hospital_data_quality_rules"} <= {marts[u]["name"] for u in built}
    undocumented = [marts[uid]["name"] for uid in marts if not marts[uid]["description"].strip()]
    missing = [f"{marts[uid]['name']}.{col}" for uid in built for col in catalog["nodes"][uid]["columns"]
               if not (marts[uid]["columns"].get(col, {}).get("description") or "").strip()]
    assert undocumented == [] and missing == []


def test_analysts_examples_run_against_the_warehouse(city):
    text = (config.REPO_ROOT / "docs" / "analysts.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(blocks) >= 8
    may_be_empty = re.findall(r"may return no rows\)?:?\s*\n+```sql\n(.*?)```", text, re.S)
    with psycopg.connect(city["url"], autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = on")  # examples only read
        for sql in blocks:
            try:
                result = conn.execute(sql).fetchall()
            except psycopg.Error as exc:
                pytest.fail(f"analysts.md example fails: {exc}\n{sql}")
            assert result or sql in may_be_empty, f"example returned no rows:\n{sql}"


# --------------------------------------------------------------------------------------- CLI, API

def test_cli_report_rebuilds_a_period_and_prints_the_index(city, use_database, monkeypatch, tmp_path, capsys):
    use_database(city["url"])
    monkeypatch.setenv("DRGFLOW_REPORTS", str(tmp_path / "r"))
    assert cli.main(["report", "--period", f"{YEAR}-05", "--no-docs"]) == 0
    out = capsys.readouterr().out
    assert f"index: {tmp_path / 'r' / 'index.html'}" in out
    paths = json.loads(out[:out.rindex("}") + 1])
    assert Path(paths["regional"]).exists() and set(paths["statements"]) >= {"H1", "H2"}
    # H1 has no accepted case in May, only a rejected row: it still gets a statement saying so
    assert not _rows(city["url"], "select 1 from marts.settlement_monthly where hospital_id = 'H1' and period = %s",
                     (f"{YEAR}-05",))
    wb = load_workbook(paths["statements"]["H1"]["xlsx"])
    assert {r[3] for r in wb["拒收病例 Rejected"].iter_rows(min_row=2, values_only=True) if r[0]} == {"BAD2"}
    assert _named(wb, "total_case_count") == 0 and _named(wb, "total_prepayment") == 0
    # an unsettled period is refused with what to do, not a traceback
    assert cli.main(["report", "--period", f"{YEAR}-07", "--no-docs"]) == 2
    assert "drgflow settle --year 2024 --month 7" in capsys.readouterr().err
    with pytest.raises(UserError):
        build_reports("2024-13", city["url"], out_dir=tmp_path, docs=False)


def test_write_period_reports_lists_the_files_index_first(city, use_database, monkeypatch, tmp_path):
    """The form the Airflow publish task (drgflow.airflow.tasks.write_reports) calls."""
    from drgflow.reports import write_period_reports

    use_database(city["url"])
    monkeypatch.setenv("DRGFLOW_REPORTS", str(tmp_path))
    files = write_period_reports(f"{YEAR}-05", docs=False)
    assert files[0] == str(tmp_path / "index.html") and all(Path(f).exists() for f in files)
    assert str(tmp_path / f"{YEAR}-05" / f"statement_H2_{YEAR}-05.xlsx") in files


def test_rebuilding_is_idempotent(city, tmp_path):
    first = build_reports(f"{YEAR}-03", city["url"], out_dir=tmp_path / "a", docs=False)
    again = build_reports(f"{YEAR}-03", city["url"], out_dir=tmp_path / "a", docs=False)
    assert {k: v for k, v in first.items() if k != "seconds"} == {k: v for k, v in again.items() if k != "seconds"}
    a, b = (load_workbook(r["statements"]["H1"]["xlsx"])["病例明细 Cases"] for r in (first, again))
    assert [r for r in a.iter_rows(values_only=True)] == [r for r in b.iter_rows(values_only=True)]
    shutil.rmtree(tmp_path / "a")
