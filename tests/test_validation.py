"""Case validation: rule catalogue, GX suite and Data Docs, quarantine, resolution (real PostgreSQL + GX)."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import create_database, drop_database, query
from drgflow import cli, config, contract, db, loader, validation
from drgflow.errors import UserError

# generator defect kind -> the catalogue rule that must catch it
DEFECT_RULE = {
    "missing_required": "required_field_missing", "unknown_dx_code": "unknown_dx_code",
    "unknown_px_code": "unknown_px_code", "sex_dx_conflict": "sex_dx_conflict",
    "discharge_before_admit": "discharge_before_admit", "los_mismatch": "los_mismatch",
    "fee_sum_mismatch": "fee_sum_mismatch", "fund_paid_exceeds_total": "fund_paid_out_of_range",
    "negative_money": "negative_amount", "impossible_date": "invalid_date",
    "non_numeric_amount": "invalid_amount", "settle_before_discharge": "settle_before_discharge",
    "newborn_missing_weight": "newborn_weight_missing", "invalid_principal_dx": "principal_dx_not_allowed",
    "duplicate_row": "duplicate_case", "unknown_hospital": "unknown_hospital", "bad_sex_value": "sex_invalid",
}
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(autouse=True)
def _drop_gx_output(request):
    """GX writes a Data Docs site per database: remove the one of a per-test database afterwards."""
    url = request.getfixturevalue("fresh_url") if "fresh_url" in request.fixturenames else None
    yield
    if url:
        shutil.rmtree(config.home() / "gx" / db.conn_params(url)["dbname"], ignore_errors=True)


@pytest.fixture(scope="module")
def module_url():
    name, url = create_database("drgflow_val")
    db.init_warehouse(url)
    from drgflow.schemes.terminology import import_terminology

    import_terminology(url)
    yield url
    drop_database(name)
    shutil.rmtree(validation.gx_output_dir(url), ignore_errors=True)


@pytest.fixture(scope="module")
def generated(module_url, tmp_path_factory):
    """A small synthetic city with injected defects, loaded and validated."""
    from drgflow import generate

    out = tmp_path_factory.mktemp("city")
    generate.generate_city(out, years=[2023, 2024], cases_per_year=1200, hospitals=5, regions=2, seed=11,
                           defect_rate=0.06, split="year")
    results = loader.load_paths([out], url=module_url, progress=False)
    return out, [r for r in results if r.kind == "cases"]


# ------------------------------------------------------------------------------------------ catalogue

def test_catalogue_has_every_required_rule_with_messages():
    cat = validation.load_catalogue()
    ids = {r.id for r in cat.rules}
    assert set(DEFECT_RULE.values()) <= ids
    assert {"insurance_type_invalid", "discharge_way_invalid", "newborn_dx_age_conflict", "los_over_limit",
            "cost_outlier", "invalid_integer", "age_days_missing"} <= ids
    for r in cat.rules:
        assert r.severity in ("reject", "warn") and r.message_zh and r.message_en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.message_zh), r.id
    assert {r.id: r.severity for r in cat.rules}["los_over_limit"] == "warn"
    assert cat.version


def test_catalogue_errors_name_file_and_rule(tmp_path):
    doc = yaml.safe_load(validation.CATALOGUE.read_text(encoding="utf-8"))
    doc["rules"][3]["severity"] = "block"
    bad = tmp_path / "rules.yml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UserError, match=rf"rules.yml: rule {doc['rules'][3]['id']}: severity must be"):
        validation.load_catalogue(bad)
    doc["rules"][3]["severity"] = "reject"
    doc["rules"][5]["check"] = "magic"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UserError, match="unknown check 'magic'"):
        validation.load_catalogue(bad)
    bad.write_text("rules: [", encoding="utf-8")
    with pytest.raises(UserError, match="rules.yml: not valid YAML"):
        validation.load_catalogue(bad)


# ------------------------------------------------------------------------------------ generated data

def _quarantine_by_row(url: str) -> dict[tuple[str, int], list[tuple[str, str]]]:
    got: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    for f, row, rule, sev in query(url, "select b.file_name, q.source_row, q.rule, q.severity"
                                        " from audit.quarantine q join audit.batches b using (batch_id)"):
        got[(f, row)].append((rule, sev))
    return got


def test_every_injected_defect_is_caught_by_its_rule(generated, module_url):
    out, _ = generated
    defects = list(csv.DictReader((out / "defects.csv").open(encoding="utf-8")))
    assert len(defects) > 100 and {d["defect_kind"] for d in defects} == set(DEFECT_RULE)
    got = _quarantine_by_row(module_url)
    missed = [d for d in defects
              if (DEFECT_RULE[d["defect_kind"]], "reject") not in got.get((d["file"], int(d["source_row"])), [])]
    assert missed == []


def test_no_clean_row_is_rejected(generated, module_url):
    out, _ = generated
    defect_rows = {(d["file"], int(d["source_row"])) for d in csv.DictReader((out / "defects.csv").open())}
    got = _quarantine_by_row(module_url)
    wrongly = {k: v for k, v in got.items() if k not in defect_rows and any(s == "reject" for _, s in v)}
    assert wrongly == {}


def test_counts_invariant_and_batch_status(generated, module_url):
    _, results = generated
    assert len(results) == 2
    for r in results:
        read, acc, quar, warned, status = query(
            module_url, "select rows_read, rows_accepted, rows_quarantined, rows_warned, status"
                        " from audit.batches where batch_id = %s", (r.batch_id,))[0]
        assert read == r.rows_read > 1000
        assert acc + quar == read and quar > 0 and status == "validated"
        assert (r.rows_accepted, r.rows_quarantined, r.rows_warned) == (acc, quar, warned)
        distinct_rejected = query(module_url, "select count(distinct source_row) from audit.quarantine"
                                              " where batch_id = %s and severity = 'reject'", (r.batch_id,))[0][0]
        assert distinct_rejected == quar
        # every rule is tallied, checked or skipped with a reason
        tallies = query(module_url, "select rule, status, rows_failed from audit.rule_results where batch_id = %s",
                        (r.batch_id,))
        assert {t[0] for t in tallies} == {x.id for x in validation.load_catalogue().rules}
        assert sum(t[2] for t in tallies if t[0] == "duplicate_case") >= 1


def test_quarantine_row_keeps_raw_record_and_bilingual_message(generated, module_url):
    rec, msg, hid = query(module_url, "select raw_record, message, hospital_id from audit.quarantine"
                                      " where rule = 'invalid_amount' limit 1")[0]
    assert rec["total_cost"] == "一万二千元" and set(contract.CASE_COLUMNS) <= set(rec)
    assert msg.startswith("金额无法识别") and "total_cost=一万二千元" in msg and hid


def test_data_docs_page_per_run_shows_rules(generated, module_url):
    _, results = generated
    pages = [n.removeprefix("Data Docs: ") for r in results for n in r.notes if n.startswith("Data Docs: ")]
    assert len(pages) == 2 and pages[0] != pages[1]
    for page in pages:
        html = Path(page).read_text(encoding="utf-8")
        assert "sex_dx_conflict" in html and "duplicate_case" in html and "case_rules" in html
    stored = query(module_url, "select data_docs, gx_success from audit.validation_runs order by batch_id")
    assert [s[0] for s in stored] == pages and stored[0][1] is False   # defects present: the suite fails
    index = validation.gx_output_dir(module_url) / "data_docs" / "index.html"
    assert index.is_file() and "case_rules" in index.read_text(encoding="utf-8")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (CI: apt-get install chromium)")
def test_data_docs_page_renders_in_headless_chromium(generated, tmp_path):
    _, results = generated
    page = next(n.removeprefix("Data Docs: ") for n in results[0].notes if n.startswith("Data Docs: "))
    shot = tmp_path / "docs.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1400,2400", f"file://{page}"],
                   check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000   # a rendered page, not a blank one


# ---------------------------------------------------------------------------- hand-made bad input

def _codes(url: str) -> dict[str, str]:
    """Catalogue codes to write test rows with (whatever terminology is imported)."""
    def one(sql_text: str) -> str:
        return query(url, sql_text)[0][0]

    return {
        "dx": one("select min(code) from ref.dx_catalogue where code ~ '^[IJK][0-9]{2}[.]' and code !~ '[+*]'"),
        "dx2": one("select max(code) from ref.dx_catalogue where code ~ '^[EJ][0-9]{2}[.]' and code !~ '[+*]'"),
        "px": one("select min(code) from ref.px_catalogue"),
        # a variant spelling of a catalogue code (circulatory/respiratory/digestive when the catalogue has one)
        "variant": one("select m.variant from ref.dx_variant_map m join ref.dx_catalogue c on c.code = m.code"
                       " where m.variant <> m.code and not exists (select 1 from ref.dx_catalogue v"
                       " where v.code = m.variant) and m.code !~ '[+*]'"
                       " order by (m.code ~ '^[IJK]') desc, m.variant limit 1"),
        "preg": one("select min(code) from ref.dx_catalogue where code like 'O8%'"),
        "perinatal": one("select min(code) from ref.dx_catalogue where code like 'P2%'"),
        "organism": one("select min(code) from ref.dx_catalogue where code like 'B96%'"),
    }


def _row(**over) -> dict[str, str]:
    fees = dict.fromkeys(contract.FEE_COLUMNS, "0.00") | {"fee_bed": "600.00", "fee_western_drug": "400.00"}
    base = {"case_id": "C0", "hospital_id": "H001", "region_code": "330102", "insurance_type": "310",
            "patient_id": "P0000000001", "sex": "1", "age_years": "45", "age_days": "", "birth_weight_g": "",
            "admit_date": "2024-03-01", "discharge_date": "2024-03-06", "los_days": "5", "discharge_way": "1",
            "dept_code": "03", "dx_codes": "", "px_codes": "", "ventilator_hours": "", "total_cost": "1000.00",
            "fund_paid": "700.00", **fees, "settle_date": "2024-03-08"}
    return base | over


def _write_cases(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.DictWriter(handle, fieldnames=contract.CASE_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def _hospitals(path: Path) -> Path:
    path.write_text("hospital_id,hospital_name,level,hospital_type,region_code\n"
                    "H001,一院,3,general,330102\nH002,二院,2,general,330102\n", encoding="utf-8")
    return path


def bad_input_cases(c: dict[str, str]) -> list[tuple[dict[str, str], set[str], set[str]]]:
    """(row, expected reject rules, expected warn rules) — a reviewer-style bad-input set."""
    dx = c["dx"]
    return [
        (_row(case_id="ok1", dx_codes=f"{dx}|{c['dx2']}", px_codes=c["px"]), set(), set()),
        (_row(case_id=" ok2 ", dx_codes=f" {c['variant']} ", sex=" 2 ", total_cost="1000", fee_bed="600"),
         set(), set()),                                                  # padded values, a variant code
        (_row(case_id="sameday", dx_codes=dx, discharge_date="2024-03-01", los_days="1"), set(), set()),
        (_row(case_id="long", dx_codes=dx, admit_date="2024-01-01", discharge_date="2024-03-06", los_days="65"),
         set(), {"los_over_limit"}),
        (_row(case_id="feb30", dx_codes=dx, admit_date="2024-02-30"), {"invalid_date"}, set()),
        (_row(case_id="money", dx_codes=dx, fund_paid="七百"), {"invalid_amount"}, set()),
        (_row(case_id="3dec", dx_codes=dx, fee_other="0.001"), {"invalid_amount"}, set()),
        (_row(case_id="age", dx_codes=dx, age_years="45.5"), {"invalid_integer"}, set()),
        (_row(case_id="nodx", dx_codes=" | "), {"required_field_missing"}, set()),
        (_row(case_id="nosettle", dx_codes=dx, settle_date=""), {"required_field_missing"}, set()),
        (_row(case_id="sex3", dx_codes=dx, sex="3"), {"sex_invalid"}, set()),
        (_row(case_id="ins", dx_codes=dx, insurance_type="391"), set(), {"insurance_type_invalid"}),
        (_row(case_id="way", dx_codes=dx, discharge_way="7"), set(), {"discharge_way_invalid"}),
        (_row(case_id="hosp", hospital_id="H999", dx_codes=dx), {"unknown_hospital"}, set()),
        (_row(case_id="udx", dx_codes=f"{dx}|Z99.999x999"), {"unknown_dx_code"}, set()),
        (_row(case_id="upx", dx_codes=dx, px_codes="99.9999x999"), {"unknown_px_code"}, set()),
        (_row(case_id="b96", dx_codes=f"{c['organism']}|{dx}"), {"principal_dx_not_allowed"}, set()),
        (_row(case_id="preg", dx_codes=c["preg"], sex="1"), {"sex_dx_conflict"}, set()),
        (_row(case_id="peri", dx_codes=c["perinatal"], age_years="40"), {"newborn_dx_age_conflict"}, set()),
        (_row(case_id="nb", dx_codes=c["perinatal"], age_years="0", age_days="3"),
         {"newborn_weight_missing"}, set()),
        (_row(case_id="nbok", dx_codes=c["perinatal"], age_years="0", age_days="3", birth_weight_g="3100"),
         set(), set()),
        (_row(case_id="nbdays", dx_codes=c["perinatal"], age_years="0"), {"age_days_missing"}, set()),
        (_row(case_id="nbw", dx_codes=c["perinatal"], age_years="0", age_days="2", birth_weight_g="12000"),
         set(), {"newborn_weight_out_of_range"}),
        (_row(case_id="swap", dx_codes=dx, admit_date="2024-03-06", discharge_date="2024-03-01"),
         {"discharge_before_admit"}, set()),
        (_row(case_id="los", dx_codes=dx, los_days="9"), {"los_mismatch"}, set()),
        (_row(case_id="settle", dx_codes=dx, settle_date="2024-03-02"), {"settle_before_discharge"}, set()),
        (_row(case_id="fees", dx_codes=dx, fee_other="10.00"), {"fee_sum_mismatch"}, set()),
        (_row(case_id="fund", dx_codes=dx, fund_paid="1000.01"), {"fund_paid_out_of_range"}, set()),
        (_row(case_id="neg", dx_codes=dx, fee_registration="-5.00", fee_other="5.00"), {"negative_amount"}, set()),
        (_row(case_id="negfund", dx_codes=dx, fund_paid="-1.00"), {"negative_amount", "fund_paid_out_of_range"},
         set()),
        (_row(case_id="dup", dx_codes=dx), set(), set()),
        (_row(case_id="dup", dx_codes=dx), {"duplicate_case"}, set()),
        # ages: the age in days matters only under one year (both sides of every bound)
        (_row(case_id="adult60", dx_codes=dx, age_years="60", age_days="22262"), set(), set()),
        (_row(case_id="adult1", dx_codes=dx, age_years="1", age_days="365"), set(), set()),
        (_row(case_id="adult1hi", dx_codes=dx, age_years="1", age_days="731"), set(), set()),
        (_row(case_id="adult1off", dx_codes=dx, age_years="1", age_days="732"), set(), {"age_days_inconsistent"}),
        (_row(case_id="adult60off", dx_codes=dx, age_years="60", age_days="100"), set(), {"age_days_inconsistent"}),
        (_row(case_id="adultneg", dx_codes=dx, age_years="45", age_days="-3"), set(), {"age_days_inconsistent"}),
        (_row(case_id="inf365", dx_codes=dx, age_years="0", age_days="365"), set(), set()),
        (_row(case_id="inf366", dx_codes=dx, age_years="0", age_days="366"), {"age_days_out_of_range"}, set()),
        (_row(case_id="infneg", dx_codes=dx, age_years="0", age_days="-1", birth_weight_g="3000"),
         {"age_days_out_of_range"}, set()),
        (_row(case_id="age130", dx_codes=dx, age_years="130"), set(), set()),
        (_row(case_id="age131", dx_codes=dx, age_years="131"), {"age_out_of_range"}, set()),
        (_row(case_id="peri364", dx_codes=c["perinatal"], age_years="0", age_days="364"), set(), set()),
        (_row(case_id="peri29", dx_codes=c["perinatal"], age_years="0", age_days="29"), set(), set()),
        (_row(case_id="peri28", dx_codes=c["perinatal"], age_years="0", age_days="28"),
         {"newborn_weight_missing"}, set()),
        (_row(case_id="peri1y", dx_codes=c["perinatal"], age_years="1", age_days="400"),
         {"newborn_dx_age_conflict"}, set()),
        # whole numbers: rejected only where grouping reads them
        (_row(case_id="infdays", dx_codes=dx, age_years="0", age_days="3.5", birth_weight_g="3000"),
         {"invalid_age_days"}, {"invalid_integer_reported"}),
        (_row(case_id="adultdays", dx_codes=dx, age_years="45", age_days="abc"), set(), {"invalid_integer_reported"}),
        (_row(case_id="nbweight", dx_codes=dx, age_years="0", age_days="5", birth_weight_g="3kg"),
         {"invalid_birth_weight"}, {"invalid_integer_reported"}),
        (_row(case_id="infweight", dx_codes=dx, age_years="0", age_days="40", birth_weight_g="3kg"),
         set(), {"invalid_integer_reported"}),
        (_row(case_id="vent", dx_codes=dx, ventilator_hours="12.5"), set(), {"invalid_integer_reported"}),
        (_row(case_id="los1", dx_codes=dx, los_days="x"), {"invalid_integer"}, set()),
        # money on both sides of its bounds
        (_row(case_id="fundall", dx_codes=dx, fund_paid="1000.00"), set(), set()),
        (_row(case_id="fees1c", dx_codes=dx, fee_other="0.01"), {"fee_sum_mismatch"}, set()),
        (_row(case_id="", dx_codes=dx, sex="", total_cost="abc"),
         {"required_field_missing", "invalid_amount"}, set()),          # several failures: every rule kept
    ]


def test_bad_input_set_is_accounted_for_row_by_row(fresh_url, tmp_path):
    from drgflow.schemes.terminology import import_terminology

    import_terminology(fresh_url)
    codes = _codes(fresh_url)
    # a row needing a code family the imported catalogue lacks (the bundled sample is small) is left out
    cases = [c for c in bad_input_cases(codes) if "None" not in str(c[0]["dx_codes"])]
    assert len(cases) >= 20
    # every rule but the history-based cost_outlier fails on some row of the set
    failing = set().union(*(r | w for _, r, w in cases))
    assert {r.id for r in validation.load_catalogue().rules} - failing <= {"cost_outlier"}
    _hospitals(tmp_path / "hospitals.csv")
    _write_cases(tmp_path / "cases.csv", [r for r, _, _ in cases])
    results = loader.load_paths([tmp_path], url=fresh_url, progress=False)
    res = next(r for r in results if r.kind == "cases")
    got: dict[int, dict[str, set[str]]] = defaultdict(lambda: {"reject": set(), "warn": set()})
    for row, rule, sev in query(fresh_url, "select source_row, rule, severity from audit.quarantine"
                                           " where batch_id = %s", (res.batch_id,)):
        got[row][sev].add(rule)
    for n, (row, rejects, warns) in enumerate(cases, start=1):
        assert (row["case_id"], got[n]["reject"], got[n]["warn"]) == (row["case_id"], rejects, warns)
    assert res.rows_read == len(cases)
    assert res.rows_quarantined == sum(1 for _, r, _ in cases if r)
    assert res.rows_accepted + res.rows_quarantined == res.rows_read
    assert res.rows_warned == sum(1 for _, r, w in cases if w and not r)
    # accepted rows are exactly the ones staging may use
    accepted = query(fresh_url, "select count(*) from raw.cases c where batch_id = %s and not exists (select 1"
                                " from audit.quarantine q where q.batch_id = c.batch_id and q.source_row ="
                                " c.source_row and q.severity = 'reject')", (res.batch_id,))[0][0]
    assert accepted == res.rows_accepted


def test_corrected_resubmission_is_accepted_and_resolves(fresh_url, tmp_path):
    from drgflow.schemes.terminology import import_terminology

    import_terminology(fresh_url)
    c = _codes(fresh_url)
    loader.load_paths([_hospitals(tmp_path / "hospitals.csv")], url=fresh_url, progress=False)
    first = _write_cases(tmp_path / "cases_03.csv", [
        _row(case_id="A1", dx_codes=c["dx"], fee_other="10.00"), _row(case_id="A2", dx_codes=c["dx"])])
    r1 = loader.load_paths([first], url=fresh_url, progress=False)[0]
    assert (r1.rows_accepted, r1.rows_quarantined) == (1, 1)
    fixed = _write_cases(tmp_path / "cases_03_fix.csv", [_row(case_id="A1", dx_codes=c["dx"])])
    r2 = loader.load_paths([fixed], url=fresh_url, progress=False)[0]
    assert (r2.rows_accepted, r2.rows_quarantined) == (1, 0)
    resolved = query(fresh_url, "select rule, resolved_at is not null, resolved_by_batch from audit.quarantine"
                                " where case_id = 'A1'")
    assert resolved == [("fee_sum_mismatch", True, r2.batch_id)]
    # validating the same batch again changes nothing (idempotent)
    validation.validate_pending(fresh_url, batch_id=r2.batch_id)
    assert query(fresh_url, "select count(*), count(resolved_at) from audit.quarantine") == [(1, 1)]


def test_bureau_changes_severity_without_code(fresh_url, tmp_path, monkeypatch):
    from drgflow.schemes.terminology import import_terminology

    import_terminology(fresh_url)
    c = _codes(fresh_url)
    before = _write_cases(tmp_path / "cases_a.csv", [_row(case_id="L0", dx_codes=c["dx"], los_days="9")])
    res = loader.load_paths([before], url=fresh_url, progress=False)[0]
    assert (res.rows_accepted, res.rows_quarantined, res.rows_warned) == (0, 1, 0)

    doc = yaml.safe_load(validation.CATALOGUE.read_text(encoding="utf-8"))
    for rule in doc["rules"]:
        if rule["id"] == "los_mismatch":
            rule["severity"] = "warn"
        if rule["id"] == "los_over_limit":
            rule["params"]["max_los"] = 3
    own = tmp_path / "bureau_rules.yml"
    own.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DRGFLOW_RULES", str(own))
    after = _write_cases(tmp_path / "cases_b.csv", [_row(case_id="L1", dx_codes=c["dx"], los_days="9")])
    res = loader.load_paths([after], url=fresh_url, progress=False)[0]
    assert (res.rows_accepted, res.rows_quarantined, res.rows_warned) == (1, 0, 1)
    rules = query(fresh_url, "select rule, severity, message from audit.quarantine where batch_id = %s"
                             " order by rule", (res.batch_id,))
    assert [(r[0], r[1]) for r in rules] == [("los_mismatch", "warn"), ("los_over_limit", "warn")]
    assert "超过3天" in rules[1][2]
    # the GX suite was rebuilt from the changed catalogue
    suite = json.loads((validation.gx_output_dir(fresh_url) / "expectations" / "case_rules.json").read_text())
    severity = {e["kwargs"].get("column"): e.get("severity") for e in suite["expectations"]}
    assert severity["los_mismatch"] == "warning" and severity["fee_sum_mismatch"] == "critical"


def test_cli_load_prints_counts_and_data_docs(fresh_url, tmp_path, use_database, capsys):
    use_database(fresh_url)
    from drgflow.schemes.terminology import import_terminology

    import_terminology(fresh_url)
    c = _codes(fresh_url)
    _hospitals(tmp_path / "hospitals.csv")
    _write_cases(tmp_path / "cases.csv", [_row(case_id="X1", dx_codes=c["dx"]),
                                          _row(case_id="X2", dx_codes=c["dx"], sex="9")])
    assert cli.main(["load", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 read, 1 accepted, 1 quarantined, 0 warned" in out
    docs = next(line for line in out.splitlines() if "Data Docs:" in line).split("Data Docs:")[1].strip()
    assert Path(docs).is_file() and docs.endswith(".html")


def test_cli_reports_a_broken_catalogue_without_traceback(fresh_url, tmp_path, use_database, monkeypatch,
                                                           capsys):
    use_database(fresh_url)
    bad = tmp_path / "rules.yml"
    bad.write_text("rules:\n  - id: Bad-Id\n", encoding="utf-8")
    monkeypatch.setenv("DRGFLOW_RULES", str(bad))
    _write_cases(tmp_path / "cases.csv", [_row(case_id="X1", dx_codes="I10.x00")])
    assert cli.main(["load", str(tmp_path / "cases.csv")]) == 2
    err = capsys.readouterr().err
    assert "rules.yml: rule #1: id 'Bad-Id'" in err and "Traceback" not in err


def test_sqlalchemy_url_keeps_socket_directory():
    url = validation.sqlalchemy_url("postgresql://postgres@/drgflow?host=/tmp/pg%20sock")
    assert url.startswith("postgresql+psycopg://postgres@/drgflow?") and "host=/tmp/pg" in url.replace("%2F", "/")
    plain = validation.sqlalchemy_url("postgresql://u:p@db.example:6543/w")
    assert plain == "postgresql+psycopg://u:p@db.example:6543/w"


def test_validate_command_after_load_without_validation(fresh_url, tmp_path, use_database, capsys):
    use_database(fresh_url)
    from drgflow.schemes.terminology import import_terminology

    import_terminology(fresh_url)
    c = _codes(fresh_url)
    _write_cases(tmp_path / "cases.csv", [_row(case_id="V1", dx_codes=c["dx"]),
                                          _row(case_id="V2", dx_codes=c["dx"], los_days="70")])
    assert cli.main(["load", "--no-validate", str(tmp_path / "cases.csv")]) == 0
    assert query(fresh_url, "select status from audit.batches") == [("loaded",)]
    capsys.readouterr()
    assert cli.main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "2 read, 1 accepted, 1 quarantined, 0 warned" in out and "Data Docs:" in out
    assert query(fresh_url, "select status, rows_accepted, rows_quarantined from audit.batches") == [
        ("validated", 1, 1)]
    assert cli.main(["validate"]) == 0
    assert "no case batch waiting" in capsys.readouterr().out
    assert cli.main(["rules"]) == 0
    assert "sex_dx_conflict" in capsys.readouterr().out


def test_cost_outlier_warns_against_last_years_percentile(fresh_url, tmp_path, monkeypatch):
    from drgflow.schemes.terminology import import_terminology

    import_terminology(fresh_url)
    doc = yaml.safe_load(validation.CATALOGUE.read_text(encoding="utf-8"))
    for rule in doc["rules"]:
        if rule["id"] == "cost_outlier":
            rule["params"]["min_history"] = 10
            rule["params"]["percentile"] = 0.9
    own = tmp_path / "rules.yml"
    own.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DRGFLOW_RULES", str(own))
    dx = _codes(fresh_url)["dx"]

    def case(cid: str, cost: int, year: int) -> dict[str, str]:
        money = f"{cost}.00"
        return _row(case_id=cid, dx_codes=dx, total_cost=money, fund_paid="0.00", fee_bed=money,
                    fee_western_drug="0.00", admit_date=f"{year}-03-01", discharge_date=f"{year}-03-06",
                    settle_date=f"{year}-03-08")

    history = _write_cases(tmp_path / "cases_2023.csv", [case(f"H{i}", 1000 + 10 * i, 2023) for i in range(20)])
    first = loader.load_paths([history], url=fresh_url, progress=False)[0]
    assert any("cost_outlier skipped" in n for n in first.notes)      # no year before 2023
    current = _write_cases(tmp_path / "cases_2024.csv", [case("N1", 1100, 2024), case("N2", 5000, 2024)])
    res = loader.load_paths([current], url=fresh_url, progress=False)[0]
    assert (res.rows_accepted, res.rows_quarantined, res.rows_warned) == (2, 0, 1)
    (case_id, message), = query(fresh_url, "select case_id, message from audit.quarantine where batch_id = %s",
                                (res.batch_id,))
    # percentile_cont(0.9) of 1000 … 1190 = 1171; the group is the principal diagnosis' category
    assert case_id == "N2" and "5000.00 > 1171.00" in message and f"({dx[:3]})" in message


def test_a_broken_rule_expression_is_named(fresh_url, tmp_path, use_database, monkeypatch, capsys):
    use_database(fresh_url)
    doc = yaml.safe_load(validation.CATALOGUE.read_text(encoding="utf-8"))
    rule = next(r for r in doc["rules"] if r["id"] == "los_over_limit")
    rule["params"]["fails_when"] = "length_of_stay > {max_los}"      # no such column
    own = tmp_path / "rules.yml"
    own.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DRGFLOW_RULES", str(own))
    _write_cases(tmp_path / "cases.csv", [_row(case_id="X1", dx_codes="I10.x00")])
    assert cli.main(["load", str(tmp_path / "cases.csv")]) == 2
    err = capsys.readouterr().err
    assert "rules.yml: rule los_over_limit: its SQL failed" in err and "length_of_stay" in err
    assert "Traceback" not in err
    assert query(fresh_url, "select status from audit.batches") == [("loaded",)]   # nothing half-validated


def test_staging_reads_validations_typed_rows_as_it_parses_them(fresh_url, tmp_path):
    """Staging's own parse of a batch validation has not typed (a view branch) and the typed rows validation
    writes (audit.cases_typed) are the same rows, defects included; once typed, the view parses nothing."""
    from drgflow import generate
    from drgflow.transform import run_dbt

    generate.generate_city(tmp_path, years=[2024], cases_per_year=600, hospitals=3, regions=1, seed=5,
                           defect_rate=0.05, split="year")
    # and values only one path might read differently: blanks of spaces, extra money decimals, a bad date
    with open(tmp_path / "cases_2024.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    odd = [{**rows[0], "case_id": f"ODD{i}", **change} for i, change in enumerate([
        {"region_code": "   ", "insurance_type": " ", "dept_code": "  "},
        {"fee_bed": "12.345", "fund_paid": " 7 "},
        {"settle_date": "2024-02-30", "px_codes": " | "}])]
    with open(tmp_path / "cases_2024.csv", "a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n").writerows(odd)
    result = loader.load_file(tmp_path / "cases_2024.csv", fresh_url, progress=False)
    select = "select * from staging.stg_raw__cases_typed order by batch_id, source_row"
    run_dbt(["run", "--select", "stg_raw__cases_typed"], url=fresh_url)
    assert "audit.parse_" in query(fresh_url, "select pg_get_viewdef('staging.stg_raw__cases_typed')")[0][0]
    parsed = query(fresh_url, select)
    assert len(parsed) == result.rows_read and query(fresh_url, "select count(*) from audit.cases_typed") == [(0,)]
    assert not any(row[-1] for row in parsed)   # rejected: nothing is quarantined before validation

    validation.validate_batch(result, fresh_url)
    assert result.rows_quarantined > 0          # the defects reached both parsers
    run_dbt(["run", "--select", "stg_raw__cases_typed"], url=fresh_url)
    assert "audit.parse_" not in query(fresh_url, "select pg_get_viewdef('staging.stg_raw__cases_typed')")[0][0]
    assert query(fresh_url, "select count(*) from audit.cases_typed") == [(result.rows_read,)]
    typed = query(fresh_url, select)
    assert [row[:-1] for row in typed] == [row[:-1] for row in parsed]
    # validation's reject flag is the quarantine's verdict, row for row
    rejected = {(row[2], row[3]) for row in typed if row[-1]}
    assert rejected == set(query(fresh_url, "select distinct batch_id, source_row from audit.quarantine"
                                            " where severity = 'reject'"))
    assert len(rejected) == result.rows_quarantined

    # a batch validated before audit.cases_typed existed: the view parses it and reads the flag from the quarantine
    with db.connect(fresh_url) as conn:
        conn.execute("delete from audit.cases_typed_batches")
        conn.execute("delete from audit.cases_typed")
    run_dbt(["run", "--select", "stg_raw__cases_typed"], url=fresh_url)
    assert "audit.parse_" in query(fresh_url, "select pg_get_viewdef('staging.stg_raw__cases_typed')")[0][0]
    assert query(fresh_url, select) == typed


# ------------------------------------------------------------------ Data Docs: input text is text (#6)

#: values that would run as script in a page that printed them raw
SCRIPTS = {"dx_codes": "<script>alert('dx')</script>", "sex": "<svg onload=alert('sex')>",
           "total_cost": "1<img src=x onerror=alert('cost')>", "settle_date": "2024-13-01<script>alert(1)</script>"}


class _Markup(HTMLParser):
    """The elements of a page (tag, attributes, script text) and its text as a browser shows it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def _input_handlers(markup: _Markup) -> list[tuple[str, str | None]]:
    """Event-handler attributes that came from the input (the SCRIPTS values all call alert)."""
    return [(name, value) for _, attrs in markup.tags for name, value in attrs
            if name.startswith("on") and "alert" in (value or "")]


def _data_docs_pages(fresh_url: str, tmp_path: Path) -> list[Path]:
    rows = [_row(**({"case_id": f"X{i}", "dx_codes": "I10.x00"} | {column: value}))
            for i, (column, value) in enumerate(SCRIPTS.items())]
    res = loader.load_paths([_write_cases(tmp_path / "scripts.csv", rows)], fresh_url, progress=False)[0]
    assert res.rows_quarantined == len(rows)
    page = Path(next(n.removeprefix("Data Docs: ") for n in res.notes if n.startswith("Data Docs: ")))
    return [page, validation.gx_output_dir(fresh_url) / "data_docs" / "index.html"]


def test_data_docs_show_input_text_as_text_never_as_markup(fresh_url, tmp_path):
    page, index = _data_docs_pages(fresh_url, tmp_path)
    for path in (page, index):
        markup = _Markup()
        markup.feed(path.read_text(encoding="utf-8"))
        assert not any("alert" in s for s in markup.scripts), path.name                  # no script from input
        assert not _input_handlers(markup), path.name                        # GX's own onclick buttons only
    markup = _Markup()
    markup.feed(page.read_text(encoding="utf-8"))
    for value in SCRIPTS.values():
        assert value in "".join(markup.text), value                                     # shown, as text


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (CI: apt-get install chromium)")
def test_data_docs_input_text_stays_text_in_headless_chromium(fresh_url, tmp_path):
    page, _ = _data_docs_pages(fresh_url, tmp_path)
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", f"file://{page}"],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    markup = _Markup()
    markup.feed(dom)
    assert not any("alert" in s for s in markup.scripts)
    assert not _input_handlers(markup)
    assert all(value in "".join(markup.text) for value in SCRIPTS.values())
