"""Self-checks of the independent DIP oracle (dip_v1.py) against dip-spec.md: hand-made grouping rows, the §13
worked examples, import facts and refusals of the 平顶山 catalogue, and a small local-build scenario.

Run: /work/main/.venv/bin/python -m pytest /work/main/tests/oracle/test_dip_oracle_selfcheck.py -q -p no:cacheprovider
"""
from __future__ import annotations

import csv
import glob
import pathlib
import random
import sys
import time
from decimal import Decimal

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from selfcheck_support import HERE, SHARED, import_oracle  # noqa: E402

if not (SHARED / "docs" / "dip-spec.md").exists():
    pytest.skip(f"shared directory {SHARED} is absent", allow_module_level=True)

d = import_oracle("dip_v1.py")

XLSX = (glob.glob(str(SHARED / "dip" / "pingdingshan-2025" / "*.xlsx")) or [None])[0]
D = Decimal


def close(a, b, eps="1e-20"):
    return a is not None and b is not None and abs(D(a) - D(b)) <= D(eps)


@pytest.fixture(scope="module")
def term():
    return d.load_terminology(SHARED)


@pytest.fixture(scope="module")
def or_list():
    return d.load_or_list(SHARED / "schemes" / "CHS-DRG-1.1")


@pytest.fixture(scope="module")
def pds(term):
    if XLSX is None:
        pytest.skip("平顶山 catalogue absent")
    return d.import_catalogue(XLSX, 2025, term)


@pytest.fixture(scope="module")
def handmade_catalogue():
    with (HERE / "handmade_dip_catalogue.csv").open(encoding="utf-8") as f:
        return [d.catalogue_row(r["code"], r["group_type"], r["score"]) for r in csv.DictReader(f)]


def _handmade_rows():
    with (HERE / "handmade_dip.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------------- hand-made
def test_handmade_size():
    rows = _handmade_rows()
    assert len(rows) >= 40
    assert len({r["case_id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("row", _handmade_rows(), ids=lambda r: f"{r['case_id']}-{r['rule']}")
def test_handmade_row(row, term, or_list, handmade_catalogue):
    pc = dict(x.split(":", 1) for x in row["procedure_class"].split("|") if x) or None
    g = d.group_case({"dx_codes": row["dx_codes"], "px_codes": row["px_codes"]}, handmade_catalogue, term, or_list,
                     pc)
    got = (g["group_status"], g["code"] or "", g["p_i"] or "", g["r_i"], g["class"], str(g["px_dropped"]))
    exp = (row["expected_status"], row["expected_code"], row["expected_p_i"], row["expected_r_i"],
           row["expected_class"], row["expected_px_dropped"])
    assert got == exp, g["trace"]
    assert g["reason"] == {"invalid": "invalid_dx", "unmatched": "no_group"}.get(g["group_status"])
    assert g["dx4"] and g["trace"]


def test_handmade_codes_exist(term):
    """The hand-made catalogue and rows use real 医保版 codes (except rows that test unknown codes)."""
    with (HERE / "handmade_dip_catalogue.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            p = d.parse_code(r["code"].upper())
            assert p["dx_key"] in term.dx_prefixes(), r
            for c in [p["main_px"]] + p["related_px"].split("+"):
                assert not c or c in term.px, (r, c)


# ---------------------------------------------------------------------------------------------------- import facts
def test_import_facts(pds, term):
    assert len(pds) == 4444
    assert sum(r["group_type"] == "core" for r in pds) == 3877
    assert sum(r["group_type"] == "comprehensive" for r in pds) == 567
    assert {r["reference_mean"] for r in pds} == {D("5718.153489")}
    dev = max(abs(r["mean_cost"] / r["reference_mean"] * 1000 - r["score"]) for r in pds)
    assert dev <= D("0.001")
    assert dev <= D("0.0000012")                        # §12: the maximum is 1.1e-6
    assert len({r["code"] for r in pds}) == 4444
    assert all(r["source"] == "import" and r["settlement_year"] == 2025 for r in pds)
    assert all(r["score"] > 0 for r in pds)
    comp = [r for r in pds if r["group_type"] == "comprehensive"]
    assert all(r["main_px"] is None and r["related_px"] == "" and r["class"] in d.TOKEN_CLASS for r in comp)
    assert all(r["class"] is None for r in pds if r["group_type"] == "core")
    k = {r["code"]: r for r in pds}
    r = k["A09.9:44.1300X001_45.2302"]
    assert (r["published_code"], r["dx_key"], r["main_px"], r["related_px"]) == \
        ("A09.9:44.1300x001_45.2302", "A09.9", "44.1300X001", "45.2302")
    assert k["M12:SS"]["dx_key"] == "M12" and k["M12:SS"]["class"] == "SS"
    assert k["K80.1:51.2300_47.0100"]["score"] == D("2241.793618")
    assert k["J18.9"]["score"] == D("576.444152")
    assert k["I63.9:88.4101"]["score"] == D("1651.0096")


def test_import_extra_rows_and_simple_codes(pds):
    extra = d.import_extra(XLSX)
    assert len(extra) == 92
    assert {c for c in extra if c.startswith("CP")} == {f"CP{i:02d}:{t}" for i in range(1, 23)
                                                       for t in ("SS", "ZLXCZ", "ZDXCZ", "BSZL")}
    assert "KBBZ" in extra and all(c.startswith(("CP", "KBBZ", "U07:")) for c in extra)
    P = d.Params()
    parts = {r["main_px"] for r in pds if r["main_px"]} | {x for r in pds for x in r["related_px"].split("+") if x}
    simple = {c for c in parts if d.is_simple(c, P.list("simple_px_prefixes"), P.list("simple_px_exceptions"))}
    assert simple == {"99.2901"}                        # §2.2: only 99.2901, protected by step 3
    idx = d.CatalogueIndex(pds)
    assert "99.2901" in idx.protected


def test_import_parts_repeat_published_columns():
    """§3.2 fact: 主要操作代码 and 其他操作代码 repeat the code's parts in upper case; related lists are sorted."""
    import openpyxl
    wb = openpyxl.load_workbook(XLSX, read_only=True)
    rows = list(wb["目录"].iter_rows(values_only=True))[1:]
    wb.close()
    for r in rows:
        code = r[1]
        if ":" not in code or code.split(":")[1] in d.TOKEN_CLASS:
            continue
        tail = code.split(":", 1)[1]
        main, _, rel = tail.partition("_")
        assert (r[5] or "") == main.upper()
        assert [x.strip() for x in (r[7] or "").split(",") if x.strip()] == [x.upper() for x in rel.split("+") if x]
        assert rel.split("+") == sorted(rel.split("+"))


def test_import_basic_codes(term):
    rows = d.import_catalogue(XLSX, 2025, term, basic_codes=["K80.1:51.2300", "j18.9"])
    k = {r["code"]: r for r in rows}
    assert k["K80.1:51.2300"]["group_type"] == "basic" and k["J18.9"]["group_type"] == "basic"
    with pytest.raises(d.CatalogueError, match="basic"):
        d.import_catalogue(XLSX, 2025, term, basic_codes=["M12:SS"])
    with pytest.raises(d.CatalogueError, match="basic"):
        d.import_catalogue(XLSX, 2025, term, basic_codes=["K80.1:99.9999"])


# ---------------------------------------------------------------------------------------------------- damaged copies
def _small_book(tmp_path, mutate, n=40, name="small.xlsx"):
    """A small workbook in the 平顶山 layout: the headers and the first n 目录 rows with their 中间结果 rows (read
    from the shared file at run time), plus the CP01 extra rows; `mutate(cat_rows, mid_rows)` damages it."""
    import openpyxl
    wb = openpyxl.load_workbook(XLSX, read_only=True)
    cat = [list(r) for r in wb["目录"].iter_rows(values_only=True)]
    mid = [list(r) for r in wb["中间结果"].iter_rows(values_only=True)]
    wb.close()
    cat = cat[: n + 1]
    want = {r[1] for r in cat[1:]}
    mid = [mid[0]] + [r for r in mid[1:] if r[2] in want or str(r[2]).startswith("CP01")]
    mutate(cat, mid)
    out = openpyxl.Workbook()
    ws = out.active
    ws.title = "中间结果"
    for r in mid:
        ws.append(r)
    ws2 = out.create_sheet("目录")
    for r in cat:
        ws2.append(r)
    p = tmp_path / name
    out.save(p)
    return p


def _mid_row(mid, code):
    """Excel row number of a DIP_CODE in the small 中间结果 sheet."""
    return next(i for i, r in enumerate(mid, start=1) if r[2] == code)


def test_small_book_imports(tmp_path, term):
    p = _small_book(tmp_path, lambda c, m: None)
    rows = d.import_catalogue(p, 2025, term)
    assert len(rows) == 40


def test_damaged_duplicate_code(tmp_path, term):
    def m(cat, mid):
        cat[3][1] = cat[2][1]                         # Excel row 4 repeats row 3
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "目录" in str(e.value) and "row 4" in str(e.value) and "same normalised code" in str(e.value)


def test_damaged_duplicate_after_case_folding(tmp_path, term):
    def m(cat, mid):
        r = list(cat[7])
        r[1] = r[1].lower()                          # a09.9:44.1300x001 == A09.9:44.1300x001 after folding
        cat.append(r)                                # Excel row 42
        twin = list(mid[_mid_row(mid, cat[7][1]) - 1])
        twin[2] = r[1]
        mid.append(twin)
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "目录" in str(e.value) and "row 42" in str(e.value)


def test_damaged_missing_middle_row(tmp_path, term):
    holder = {}

    def m(cat, mid):
        holder["code"] = cat[5][1]
        mid[_mid_row(mid, cat[5][1]) - 1][2] = cat[5][1] + "Z"
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    msg = str(e.value)
    assert "目录" in msg and "row 6" in msg and "中间结果" in msg and holder["code"] in msg


@pytest.mark.parametrize("bad", [0, -12.5, None])
def test_damaged_non_positive_score(tmp_path, term, bad):
    holder = {}

    def m(cat, mid):
        i = _mid_row(mid, cat[10][1])
        holder["row"] = i
        mid[i - 1][6] = bad
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "中间结果" in str(e.value) and f"row {holder['row']}" in str(e.value) and "> 0" in str(e.value)


def test_damaged_type_mismatch(tmp_path, term):
    def m(cat, mid):
        cat[2][2] = "0"                                # a core code marked 综合
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "目录" in str(e.value) and "row 3" in str(e.value) and "type mismatch" in str(e.value)


def test_damaged_two_reference_means(tmp_path, term):
    holder = {}

    def m(cat, mid):
        i = _mid_row(mid, cat[20][1])
        holder["row"] = i
        mid[i - 1][8] = 5718.15
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "中间结果" in str(e.value) and f"row {holder['row']}" in str(e.value) and "REGION_AVE_VAL" in str(e.value)


def test_damaged_unknown_procedure(tmp_path, term):
    def m(cat, mid):
        i = next(k for k, r in enumerate(cat) if k and ":" in r[1] and r[2] == "1")
        old = cat[i][1]
        new = old.split(":")[0] + ":99.9999"
        cat[i][1] = new
        mid[_mid_row(mid, old) - 1][2] = new
        m.row = i + 1
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "目录" in str(e.value) and f"row {m.row}" in str(e.value) and "99.9999" in str(e.value)


def test_damaged_unknown_dx4(tmp_path, term):
    def m(cat, mid):
        old = cat[1][1]
        cat[1][1] = "A00.7"                           # no 医保版 code starts with A00.7
        mid[_mid_row(mid, old) - 1][2] = "A00.7"
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(_small_book(tmp_path, m), 2025, term)
    assert "目录" in str(e.value) and "row 2" in str(e.value) and "prefix" in str(e.value)


def test_damaged_full_copy(tmp_path, term):
    """A damaged copy of the whole file: the last 目录 row repeats the first code."""
    import openpyxl
    wb = openpyxl.load_workbook(XLSX)
    ws = wb["目录"]
    last = ws.max_row
    ws.cell(row=last, column=2).value = ws.cell(row=2, column=2).value
    p = tmp_path / "full.xlsx"
    wb.save(p)
    with pytest.raises(d.CatalogueError) as e:
        d.import_catalogue(p, 2025, term)
    assert "目录" in str(e.value) and f"row {last}" in str(e.value)


# ---------------------------------------------------------------------------------------------------- §13 examples
def test_13_1_grouping(pds, term, or_list):
    g = d.group_case({"dx_codes": "K80.101", "px_codes": "51.2300|54.5101|99.1800X001|47.0100|51.2300"},
                     pds, term, or_list)
    assert (g["group_status"], g["code"], g["dx4"], g["p_i"], g["r_i"], g["px_dropped"]) == \
        ("core", "K80.1:51.2300_47.0100", "K80.1", "51.2300", "47.0100+54.5101", 0)
    S = {r["code"]: r for r in pds}[g["code"]]["score"]
    assert S == D("2241.793618")
    # candidates: K80.1:51.2300 (|R| 0), …_54.5101 and …_47.0100 (|R| 1); the other K80.1:51.2300_* rows are not
    # subsets of R = {47.0100, 54.5101}
    assert "K80.1:51.2300_54.5101(" in g["trace"] and "K80.1:51.2300(" in g["trace"]
    for c in ("K80.1:51.2300_44.1300X001", "K80.1:51.2300_50.0X03", "K80.1:51.2300_54.5100X005"):
        assert c in {r["code"] for r in pds} and c + "(" not in g["trace"]


def test_13_1_level_coefficient():
    sums = {1: (D(412650000), D(69120000), D(801200000), D(146900000)),
            2: (D(455980000), D(74800000), D(866400000), D(155300000)),
            3: (D(498730000), D(80050000), D(930100000), D(163400000))}
    ratios, raw, coef = d.level_coefficient(sums, {1: D(1), 2: D(2), 3: D(7)}, n_kept=10_000)
    assert [round(ratios[y], 8) for y in (1, 2, 3)] == [D("1.09460890"), D("1.09269060"), D("1.09452721")]
    assert round(raw, 8) == D("1.09416806")
    assert coef == D("1.0942")
    # clamp, and λ = 1 below coef_min_n
    assert d.level_coefficient(sums, {1: D(1), 2: D(2), 3: D(7)}, n_kept=29)[2] == D(1)
    assert d.level_coefficient(sums, {1: D(1), 2: D(2), 3: D(7)}, 30, {"coef_max": "1.05"})[2] == D("1.0500")
    # normal case arithmetic of 13.1
    S, lam, pv = D("2241.793618"), coef, D("5.718153489")
    E = S * lam * pv
    assert round(E, 4) == D("14026.4623")
    assert D("0.5") * E <= D("13460.00") <= 2 * E
    assert d._q(S * lam, 4) == D("2452.9706")


def _two_point(n, mean, sd):
    """n costs (n even) with exactly this mean and (to ~1e-20) this sample sd: n/2 at mean ± δ."""
    delta = (D(sd) ** 2 * (n - 1) / n).sqrt()
    return [D(mean) + delta] * (n // 2) + [D(mean) - delta] * (n // 2)


def test_13_2_aux_coefficient():
    inside, outside = _two_point(260, 14000, 3000), _two_point(440, 7000, 1800)
    a = d.aux_coefficient(inside, outside)
    assert (a["n_g"], a["n_j"]) == (700, 260)
    assert round(a["cv_g"], 6) == D("0.427286")
    assert round(a["cv_split"], 6) == D("0.241552")
    assert round(1 - a["cv_split"] / a["cv_g"], 6) == D("0.434683")
    assert a["triggered"] and a["coefficient"] == D("1.4583")
    # boundaries: n_j ≥ 10, n_g − n_j ≥ 10, n_g ≥ 50 (inclusive)
    assert not d.aux_coefficient(inside, outside, {"aux_min_group_n": "701"})["triggered"]
    assert d.aux_coefficient(inside, outside, {"aux_min_group_n": "700"})["triggered"]
    assert not d.aux_coefficient(inside, outside, {"aux_min_subtype_n": "261"})["triggered"]
    assert d.aux_coefficient(inside, outside, {"aux_min_subtype_n": "260"})["triggered"]
    assert not d.aux_coefficient(inside, outside, {"aux_min_cv_reduction": "0.435"})["triggered"]
    assert d.aux_coefficient(inside, outside, {"aux_coef_max": "1.2"})["coefficient"] == D("1.2000")
    # 13.2 case arithmetic
    B = D("1651.0096") * D("0.9275") * D("1.4583")
    assert B == D("2233.1114204532")
    E = B * D("5.718153489")
    assert round(E, 4) == D("12769.2739")
    assert d._q(B * (D("36500.00") / E - 2 + 1), 4) == D("4150.0681")


def _case(cid, dx, px, cost, year=2024, hosp="H1", region="R1", los=5, age=50, age_days="", way=1, month=6,
          drug="0", material="0"):
    return {"case_id": cid, "hospital_id": hosp, "region_code": region, "dx_codes": dx, "px_codes": px,
            "total_cost": str(cost), "fund_paid": str(cost), "los_days": str(los), "age_years": str(age),
            "age_days": str(age_days), "discharge_way": str(way), "settle_date": f"{year}-{month:02d}-15",
            "fee_western_drug": drug, "fee_material": material}


def test_13_2_through_compute(pds, term, or_list):
    """700 Y−1 cases of I63.9:88.4101 (260 aged 78 at mean 14,000 / sd 3,000; 440 at 7,000 / 1,800) → elderly_65
    triggers with a = 1.4583; the rows of dip_aux_coefficients exist for the 7 subtypes."""
    inside, outside = _two_point(260, 14000, 3000), _two_point(440, 7000, 1800)
    cases = [_case(f"E{i}", "I63.900", "88.4101", c.quantize(D("0.01")), age=78, hosp="H2")
             for i, c in enumerate(inside)]
    cases += [_case(f"O{i}", "I63.900", "88.4101", c.quantize(D("0.01")), age=50, hosp="H2")
              for i, c in enumerate(outside)]
    hospitals = [{"hospital_id": "H2", "level": "2", "hospital_type": "general", "region_code": "R1"}]
    out = d.compute(2025, cases, hospitals, pds, {"dip_regions": "R1"}, term, or_list)
    aux = {(r["code"], r["subtype"]): r for r in out["dip_aux_coefficients"]}
    assert len(aux) == 7
    r = aux[("I63.9:88.4101", "elderly_65")]
    assert r["triggered"] and r["coefficient"] == D("1.4583") and (r["n_g"], r["n_j"]) == (700, 260)
    assert not aux[("I63.9:88.4101", "death")]["triggered"] and aux[("I63.9:88.4101", "death")]["cv_split"] is None
    lev = {r["stratum"]: r for r in out["dip_level_coefficients"]}
    assert lev["2"]["coefficient"] == D("1.0000") and lev["2"]["n_kept"] > 0
    assert lev["2"]["ratio_2024"] == 1 and lev["2"]["ratio_2022"] is None


def test_13_3_conservative(pds, term, or_list):
    g = d.group_case({"dx_codes": "J18.900", "px_codes": "87.4401|99.2100"}, pds, term, or_list)
    assert (g["group_status"], g["code"], g["p_i"], g["r_i"], g["class"]) == ("core", "J18.9", None, "", "BSZL")
    S = {r["code"]: r for r in pds}["J18.9"]["score"]
    assert S == D("576.444152")
    pv = D("5.718153489")
    assert round(S * pv, 4) == D("3296.1961")
    assert d._q(S * D("0.86") * (D("1206.40") / (S * pv * D("0.86"))), 4) == D("210.9772")
    assert d._q(D(4000) / pv * D("0.9"), 4) == D("629.5739")


# ---------------------------------------------------------------------------------------------------- local build
def _scenario():
    cs, n = [], [0]

    def add(k, dx, px, cost, **kw):
        for _ in range(k):
            n[0] += 1
            cs.append(_case(f"C{n[0]:04d}", dx, px, cost, **kw))
    add(15, "K80.101", "", "3000.00")                              # (K80.1, ∅): exactly 15 → core
    add(14, "K81.000", "", "2000.00")                              # (K81.0, ∅): 14 → no core; K81:BSZL 14 → dropped
    add(15, "K80.101", "51.2300", "10000.00")                      # (K80.1, 51.2300), R = ∅, mean 10,000
    add(15, "K80.101", "51.2300|47.0100", "11000.00")              # R {47.0100}: uplift exactly 10 % → core
    add(15, "K80.101", "51.2300|54.5101", "10999.99")              # R {54.5101}: just below → not a key
    add(14, "K80.101", "51.2300|44.1300x001", "20000.00")          # R with 14 cases → not a key
    add(14, "K80.101", "51.2200", "15000.00")                      # (K80.1, 51.2200): 14 → to K80:SS
    add(1, "K80.000", "51.2200", "15000.00")                       # K80:SS reaches exactly 15
    add(15, "K35.800", "47.0100|54.5101", "8000.00")               # no R = ∅ case: uplift test waived
    add(15, "O00.900", "99.2901", "3000.00")                       # simple code dropped while building → O00.9
    add(15, "F32.900", "", "4000.00")                              # bed-day diagnosis: out of the selection
    add(15, "K80.200", "", "2500.00", los=60)                      # los 60 kept
    add(15, "K80.300", "", "2500.00", los=61)                      # los 61 out
    add(15, "A04.900", "", "1500.00", year=2025)                   # year Y: not a base year
    add(15, "K80.500", "", "1500.00", year=2021)                   # before the base period
    add(15, "K80.999", "", "1500.00")                              # invalid principal diagnosis
    add(15, "K80.500", "", "1500.00", region="R9")                 # not a DIP region
    return cs


HOSP = [{"hospital_id": "H1", "level": "3", "hospital_type": "general", "region_code": "R1"}]


def test_local_build_boundaries(term, or_list):
    cat = d.build_local_catalogue(2025, _scenario(), HOSP, {"dip_regions": "R1"}, term, or_list)
    codes = {r["code"]: r for r in cat}
    assert set(codes) == {"K80.1", "K80.1:51.2300", "K80.1:51.2300_47.0100", "K80:SS",
                          "K35.8:47.0100_54.5101", "O00.9", "K80.2"}
    assert all(r["source"] == "local" and r["published_code"] == r["code"] for r in cat)
    assert codes["K80:SS"]["group_type"] == "comprehensive" and codes["K80:SS"]["n"] == 15
    assert codes["K80.1:51.2300"]["n"] == 44                       # R = ∅, {54.5101} and {44.1300X001}
    assert close(codes["K80.1:51.2300"]["selection_mean"],
                 (15 * D(10000) + 15 * D(11000) + 15 * D("10999.99") + 14 * D(20000)) / 59)
    assert codes["K80.1:51.2300_47.0100"]["selection_mean"] == D("11000")
    # scores: one base year with data (2024), weight renormalised; no group reaches trim_min_n except 30/… ones
    M = codes["K80.1"]["reference_mean"]
    for r in cat:
        assert r["score"] == d._q(r["mean_cost"] / M * 1000, 4)
        assert r["reference_mean"] == M


def test_local_build_switches(term, or_list):
    cs = _scenario()
    cat = {r["code"] for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1", "related_split": "false"},
                                                      term, or_list)}
    assert "K80.1:51.2300_47.0100" not in cat and "K35.8:47.0100" in cat and "K35.8:47.0100_54.5101" not in cat
    cat = {r["code"] for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1", "core_min_n": "14",
                                                                       "comp_min_n": "14"}, term, or_list)}
    assert {"K81.0", "K80.1:51.2200", "K80.1:51.2300_44.1300X001"} <= cat
    cat = {r["code"] for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1", "comp_min_n": "16"},
                                                      term, or_list)}
    assert "K80:SS" not in cat
    cat = {r["code"] for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1",
                                                                       "related_min_uplift": "0.1000001"},
                                                      term, or_list)}
    assert "K80.1:51.2300_47.0100" not in cat
    cat = {r["code"] for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1", "bed_day_enabled": "false"},
                                                      term, or_list)}
    assert "F32.9" in cat
    with pytest.raises(ValueError):
        d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R7"}, term, or_list)


def test_local_scores_weighted(term, or_list):
    """m_g = Σ w_y m_{g,y} / Σ w_y over the years with data (weights 2:7 for 2023, 2024); M likewise."""
    cs = []
    for y, a, b in ((2023, "1000.00", "3000.00"), (2024, "2500.00", "5000.00")):
        cs += [_case(f"A{y}{i}", "K80.101", "", a, year=y) for i in range(15)]
        cs += [_case(f"B{y}{i}", "J18.900", "", b, year=y) for i in range(15)]
    cat = {r["code"]: r for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1"}, term, or_list)}
    # by hand: M_2023 = 2000, M_2024 = 3750, M = (2·2000 + 7·3750)/9 = 30250/9; m_A = 19500/9, m_B = 41000/9
    mA, mB, M = D(19500) / 9, D(41000) / 9, D(30250) / 9
    assert close(cat["K80.1"]["mean_cost"], mA) and close(cat["J18.9"]["mean_cost"], mB)
    assert close(cat["K80.1"]["reference_mean"], M)
    assert cat["K80.1"]["score"] == D("644.6281")                 # 19500/30250 = 0.64462809…
    assert cat["J18.9"]["score"] == D("1355.3719")                # 41000/30250 = 1.35537190…
    assert cat["K80.1"]["n"] == 30 and cat["K80.1"]["mean_los"] == 5
    cat2 = {r["code"]: r for r in d.build_local_catalogue(2025, cs, HOSP, {"dip_regions": "R1", "score_method": "fixed",
                                                                          "fixed_mean_cost": "2000"}, term, or_list)}
    assert cat2["K80.1"]["score"] == D("1083.3333")              # 19500/9/2000·1000


def test_compute_marts_small(term, or_list):
    cs = _scenario()
    cs.append(_case("X1", "K80.101", "", "9000.00", year=2025, drug="100", material="50"))
    out = d.compute(2025, cs, HOSP, None, {"dip_regions": "R1"}, term, or_list)
    assert {r["code"] for r in out["dip_catalogue"]} >= {"K80.1", "K80:SS"}
    grp = {r["case_id"]: r for r in out["dip_case_grouping"]}
    assert all(r["settlement_year"] == 2025 for r in out["dip_case_grouping"])
    assert not any(r["region_code"] == "R9" for r in grp.values())
    assert grp["X1"]["code"] == "K80.1" and grp["X1"]["year"] == 2025
    q = {r["year"]: r for r in out["dip_grouping_quality"]}
    assert set(q) == {2021, 2024, 2025}
    r24 = q[2024]
    assert close(r24["grouped_rate"], 1 - r24["unmatched_rate"] - r24["invalid_rate"])
    assert close(r24["invalid_rate"], D(15) / r24["n_cases"])
    st = {(r["year"], r["code"]): r for r in out["dip_group_year_stats"]}
    assert st[(2025, "K80.1")]["n"] == 1 and st[(2025, "K80.1")]["sd_cost"] is None
    assert st[(2025, "K80.1")]["drug_score"] == 1
    perf = {(r["year"], r["hospital_id"]): r for r in out["dip_hospital_performance"]}
    assert close(perf[(2024, "H1")]["cost_index"], 1) and perf[(2024, "H1")]["total_score"] is None


# ---------------------------------------------------------------------------------------------------- speed
def test_compute_20k_under_a_minute(pds, term, or_list):
    rnd = random.Random(7)
    first_dx = {}
    for c in sorted(term.dx):
        first_dx.setdefault(c[:5], c)
    core = [r for r in pds if r["group_type"] == "core"][:400]
    hospitals = [{"hospital_id": f"H{i}", "level": str(1 + i % 3), "hospital_type": "general", "region_code": "R1"}
                 for i in range(12)]
    cases = []
    for i in range(20_000):
        r = rnd.choice(core)
        dx = first_dx[r["dx_key"]]
        px = "|".join(([r["main_px"]] if r["main_px"] else []) + [x for x in r["related_px"].split("+") if x])
        cost = (r["mean_cost"] * D(rnd.uniform(0.3, 2.5))).quantize(D("0.01"))
        cases.append(_case(f"S{i}", dx, px, cost, year=rnd.choice((2022, 2023, 2024, 2025)),
                           hosp=f"H{rnd.randrange(12)}", age=rnd.randrange(0, 95), age_days=rnd.randrange(0, 365),
                           way=rnd.choice((1, 1, 1, 2, 4, 5)), los=rnd.randrange(1, 70)))
    t0 = time.time()
    out = d.compute(2025, cases, hospitals, pds, {"dip_regions": "R1"}, term, or_list)
    assert time.time() - t0 < 60
    assert len(out["dip_case_grouping"]) == 20_000
    grouped = sum(r["group_status"] in ("core", "basic", "comprehensive") for r in out["dip_case_grouping"])
    assert grouped > 19_000
    assert len(out["dip_level_coefficients"]) == 3
