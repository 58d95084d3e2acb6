"""Self-check of the independent CHS-DRG 2.0 oracle (chs_drg20.py).

* every hand-built row of handmade_chs20.csv must be reproduced;
* public labelled cases: /work/shared/testdata holds only the OpenDRG sample, labelled with CHS-DRG 1.1
  (schemes/README.md), so there is no 2.0-labelled public case; the one published 2.0 case (CHS-DRG-Grouper's
  smoke test, ref §3: K80.101 + I50.900, 51.2300 -> HC23) is row H2001 of the hand-made file and is also
  checked on its own below.  Any future public file whose name says 2.0 (``*chs*20*`` / ``*2.0*``) with the
  OpenDRG layout is picked up automatically.

The scheme pack is read from $DRGFLOW_SHARED/schemes/CHS-DRG-2.0 (default: ../shared beside the repository);
the tests are skipped when it is absent.  Nothing from the ``drgflow`` package is imported.
"""
from __future__ import annotations

import csv
import json
import time

import pytest

from oracle.selfcheck_support import HERE, SHARED, case_args, codes, handmade_rows, import_oracle, int_or_none

SCHEME_DIR = SHARED / "schemes" / "CHS-DRG-2.0"
TESTDATA = SHARED / "testdata"
HANDMADE = HERE / "handmade_chs20.csv"

chs_drg20 = import_oracle("chs_drg20.py")

needs_pack = pytest.mark.skipif(not SCHEME_DIR.is_dir(), reason=f"scheme pack not found: {SCHEME_DIR}")


@pytest.fixture(scope="module")
def oracle():
    if not SCHEME_DIR.is_dir():
        pytest.skip(f"scheme pack not found: {SCHEME_DIR}")
    return chs_drg20.load(SCHEME_DIR)


HANDMADE_ROWS = handmade_rows("handmade_chs20.csv")
_int_or_none, _codes, _args = int_or_none, codes, case_args


def test_no_drgflow_import():
    for name in ("chs_drg20.py", "test_oracle20_selfcheck.py"):
        src = (HERE / name).read_text(encoding="utf-8")
        assert "import " + "drgflow" not in src and "from " + "drgflow" not in src


def test_handmade_file_shape():
    assert len(HANDMADE_ROWS) >= 80
    ids = [r["case_id"] for r in HANDMADE_ROWS]
    assert len(ids) == len(set(ids))
    assert list(HANDMADE_ROWS[0].keys()) == ["case_id", "rule", "sex", "age_years", "age_days", "birth_weight_g",
                                             "dx_codes", "px_codes", "expected_drg", "why"]
    for r in HANDMADE_ROWS:
        assert len(r["expected_drg"]) in (3, 4), r  # xQY has 3 characters
        assert r["why"].strip(), r
    # the published example must be there
    assert any(r["dx_codes"] == "K80.101|I50.900" and r["px_codes"] == "51.2300" and r["sex"] == "1"
               and r["age_years"] == "45" and r["expected_drg"] == "HC23" for r in HANDMADE_ROWS)
    # every rule form the brief names is covered
    rules = {r["rule"] for r in HANDMADE_ROWS}
    for needed in ("split_9", "split_135", "split_35", "split_15", "cond_logic", "cond_dx_and_px",
                   "cond_required_groups", "cond_referenced_all", "cond_referenced_any", "cond_any_px",
                   "cond_secondary_dx", "cond_dx_or_secondary", "qy", "non_or_no_qy", "position", "no_mdc",
                   "invalid_dx", "validation", "mdcp_age", "mdcp_weight", "mdcp_order", "sex_mdc", "mdca",
                   "mdcz", "mdcy"):
        assert needed in rules, needed


@needs_pack
def test_pack_counts(oracle):
    # pack README "Verified counts"
    assert len(oracle.mdc_names) == 26
    assert len(oracle.adrg_order) == 409
    assert len(oracle.drg_names) == 634
    counts: dict[str, int] = {}
    for a in oracle.adrg_order:
        counts[oracle.split_pattern(a)] = counts.get(oracle.split_pattern(a), 0) + 1
    assert counts == {"9": 238, "1/3/5": 54, "3/5": 71, "1/5": 46}
    assert len(oracle.mcc) == 4477 and len(oracle.cc) == 8009 and len(oracle.cce) == 27143
    assert len(oracle.zd_invalid) == 1849 and len(oracle.ss_invalid) == 1822
    assert not oracle.load_warnings, oracle.load_warnings  # incl. logic text == pack RPN for all 9 formulas


@needs_pack
def test_rule_forms(oracle):
    forms: dict[str, int] = {}
    for r in oracle.rules.values():
        forms[r.form] = forms.get(r.form, 0) + 1
    assert forms == {
        "sections: 主要诊断": 180,
        "sections: 主要手术或操作": 169,
        "sections: 主要手术或操作 + 主要诊断": 30,
        "sections: 诊断": 6,
        "sections: 其他诊断": 2,
        "sections: 主要诊断 + 其他诊断": 1,
        "logic formula": 9,
        "requiredProcedureGroups": 4,
        "referencedADRGs(all)": 2,
        "referencedADRGs(any)": 1,
        "anyProcedureRequired": 4,
        "zeroProceduresRequired": 1,
    }


@needs_pack
def test_logic_parser_matches_pack_rpn(oracle):
    raw = json.loads((SCHEME_DIR / "generated" / "adrg_rules.json").read_text(encoding="utf-8"))
    n = 0
    for x in raw:
        if x["rule"]["logic"]:
            n += 1
            mine = chs_drg20.compile_logic(x["rule"]["logic"], x["rule"]["sections"])
            pack = [t["name"] if isinstance(t, dict) else t for t in x["rule"]["_logicRPN"]]
            assert mine == pack, x["code"]
    assert n == 9


@needs_pack
def test_mdcp_name_conditions(oracle):
    got = {a: (r.age_days_range, r.weight_range) for a, r in oracle.rules.items() if a[0] == "P"}
    nb = (0, 28)
    assert got == {
        "PB1": (nb, None), "PC1": (nb, None), "PD1": (nb, None), "PJ1": (nb, None), "PK1": (nb, None),
        "PR1": (nb, None), "PS1": (nb, (None, 1499)), "PS2": (nb, (1500, 1999)), "PS3": (nb, (2000, 2499)),
        "PS4": (nb, (2500, None)), "PU1": (nb, None), "PV1": ((29, 364), None),
    }


@needs_pack
def test_split_patterns_examples(oracle):
    assert oracle.split_pattern("HC2") == "3/5"
    assert oracle.split_pattern("HC1") == "1/5"
    assert oracle.split_pattern("HC3") == "1/3/5"
    assert oracle.split_pattern("HZ2") == "9"
    assert oracle.split_pattern("NR1") == "3/5"
    assert oracle.split_pattern("RS1") == "3/5"


@needs_pack
def test_cc_status_examples(oracle):
    assert oracle.cc_status(["K80.101"]) == "none"
    assert oracle.cc_status(["K80.101", "I50.900"]) == "mcc"
    assert oracle.cc_status(["K80.101", "E87.600"]) == "cc"
    assert oracle.cc_status(["K80.101", "K82.000"]) == "none"  # MCC table 113 holds K80.101
    assert oracle.cc_status(["K80.101", "K82.000", "E87.600"]) == "cc"
    assert oracle.cc_status(["N17.900"]) == "none"  # the principal never counts


@needs_pack
def test_published_example(oracle):
    t = oracle.explain(1, 45, None, None, ["K80.101", "I50.900"], ["51.2300"])
    assert (t.drg, t.mdc, t.adrg, t.cc_status) == ("HC23", "H", "HC2", "mcc")
    assert any("主要手术或操作" in line for line in t.trace)


@needs_pack
@pytest.mark.parametrize("row", HANDMADE_ROWS, ids=[r["case_id"] for r in HANDMADE_ROWS])
def test_handmade(oracle, row):
    t = oracle.explain(*_args(row))
    assert t.drg == row["expected_drg"], f"{row['case_id']} ({row['why']}): trace={t.trace} reason={t.reason}"


def _public_20_files():
    if not TESTDATA.is_dir():
        return []
    out = []
    for f in sorted(TESTDATA.iterdir()):
        n = f.name.lower()
        if f.is_file() and ("2.0" in n or "chs20" in n or "chs_drg_20" in n or "drg20" in n):
            out.append(f)
    return out


def _public_20_cases():
    cases = []
    for f in _public_20_files():
        with f.open(encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
        if not rows or rows[0][:2] != ["Index", "gender"]:
            continue
        for r in rows[1:]:
            if r and r[-1].strip():
                cases.append({"id": f"{f.name}:{r[0]}", "sex": int(r[1]), "age": int(r[2]),
                              "age_days": _int_or_none(r[3]), "weight": _int_or_none(r[4]),
                              "dx": _codes(r[8]), "px": _codes(r[9]), "label": r[-1].strip()})
    return cases


PUBLIC20 = _public_20_cases()


@needs_pack
@pytest.mark.parametrize("case", PUBLIC20 or [None], ids=[c["id"] for c in PUBLIC20] or ["none"])
def test_public_20_labelled(oracle, case):
    if case is None:
        pytest.skip("no 2.0-labelled public case in testdata")
    got = oracle.group(case["sex"], case["age"], case["age_days"], case["weight"], case["dx"], case["px"])
    assert got == case["label"]


@needs_pack
def test_speed_5000_cases(oracle):
    rows = [_args(r) for r in HANDMADE_ROWS]
    cases = (rows * (5000 // len(rows) + 1))[:5000]
    t0 = time.perf_counter()
    out = oracle.group_many(cases)
    assert len(out) == 5000
    assert time.perf_counter() - t0 < 60
