"""Self-check of the independent CHS-DRG 1.1 oracle (chs_drg11.py).

* every hand-built row of handmade_chs11.csv must be reproduced;
* every labelled case of the public OpenDRG sample (/work/shared/testdata/opendrg_30_cases.txt)
  must be reproduced.

The scheme pack is read from $DRGFLOW_SHARED/schemes/CHS-DRG-1.1 (default: ../shared beside the repository);
the tests are skipped when it is absent.  Nothing from the ``drgflow`` package is imported.
"""
from __future__ import annotations

import csv

import pytest

from oracle.selfcheck_support import HERE, SHARED, case_args, codes, handmade_rows, import_oracle, int_or_none

SCHEME_DIR = SHARED / "schemes" / "CHS-DRG-1.1"
PUBLIC_CASES = SHARED / "testdata" / "opendrg_30_cases.txt"
HANDMADE = HERE / "handmade_chs11.csv"

chs_drg11 = import_oracle("chs_drg11.py")

needs_pack = pytest.mark.skipif(not SCHEME_DIR.is_dir(), reason=f"scheme pack not found: {SCHEME_DIR}")


@pytest.fixture(scope="module")
def oracle():
    if not SCHEME_DIR.is_dir():
        pytest.skip(f"scheme pack not found: {SCHEME_DIR}")
    return chs_drg11.load(SCHEME_DIR)


HANDMADE_ROWS = handmade_rows("handmade_chs11.csv")
_int_or_none, _codes, _args = int_or_none, codes, case_args


def test_no_drgflow_import():
    # the oracle must stay independent of the production package
    for name in ("chs_drg11.py", "test_oracle_selfcheck.py"):
        src = (HERE / name).read_text(encoding="utf-8")
        assert "import " + "drgflow" not in src and "from " + "drgflow" not in src


def test_handmade_file_shape():
    assert len(HANDMADE_ROWS) >= 60
    ids = [r["case_id"] for r in HANDMADE_ROWS]
    assert len(ids) == len(set(ids))
    for r in HANDMADE_ROWS:
        assert len(r["expected_drg"]) == 4, r
        assert r["why"].strip(), r


@needs_pack
def test_pack_counts(oracle):
    # ref §1 / §2.5 / schemes README: 26 MDC, 376 ADRG, 628 DRG; patterns 192/68/61/55
    assert len(oracle.mdc_names) == 26
    assert len(oracle.adrg_order) == 376
    assert len(oracle.drg_names) == 628
    counts: dict[str, int] = {}
    for a in oracle.adrg_order:
        counts[oracle.split_pattern(a)] = counts.get(oracle.split_pattern(a), 0) + 1
    assert counts == {"9": 192, "1/3/5": 68, "3/5": 61, "1/5": 55}
    assert len(oracle.mcc) == 4678 and len(oracle.cc) == 16568
    assert len(oracle.cce) == 223
    assert sum(len(v) for v in oracle.cce.values()) == 28302
    assert not oracle.load_warnings  # exclusion tables partition the principal codes (ref §2.5)


@needs_pack
def test_split_patterns_examples(oracle):
    assert oracle.split_pattern("HC1") == "1/5"
    assert oracle.split_pattern("FW1") == "1/5"
    assert oracle.split_pattern("KS1") == "1/5"
    assert oracle.split_pattern("EZ1") == "1/5"
    assert oracle.split_pattern("BR2") == "1/3/5"
    assert oracle.split_pattern("GZ1") == "3/5"
    assert oracle.split_pattern("DU1") == "9"
    assert oracle.split_pattern("PV1") == "3/5"


@needs_pack
def test_cc_status_examples(oracle):
    assert oracle.cc_status(["I63.900"]) == "none"
    assert oracle.cc_status(["I63.900", "N17.900"]) == "mcc"
    assert oracle.cc_status(["I63.900", "J18.900"]) == "cc"
    assert oracle.cc_status(["I63.900", "I60.000"]) == "none"  # excluded by 表7-96
    assert oracle.cc_status(["I63.900", "I60.000", "J18.900"]) == "cc"
    # the principal diagnosis itself never counts
    assert oracle.cc_status(["N17.900"]) == "none"


@needs_pack
@pytest.mark.parametrize("row", HANDMADE_ROWS, ids=[r["case_id"] for r in HANDMADE_ROWS])
def test_handmade(oracle, row):
    t = oracle.explain(int(row["sex"]), int(row["age_years"]), _int_or_none(row["age_days"]),
                       _int_or_none(row["birth_weight_g"]), _codes(row["dx_codes"]),
                       _codes(row["px_codes"]))
    assert t.drg == row["expected_drg"], f"{row['case_id']} ({row['why']}): trace={t.trace} reason={t.reason}"


def _public_cases():
    """opendrg_30_cases.txt: header of 11 columns, rows carry an empty remark field before the
    group, so the label is the LAST field (schemes/README.md)."""
    if not PUBLIC_CASES.is_file():
        return []
    with PUBLIC_CASES.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:10] == ["Index", "gender", "age", "ageDay", "weight", "dept", "inHospitalTime",
                           "leavingType", "ICD10_DRGS", "ICD9_DRGS"]
    out = []
    for r in body:
        if not r:
            continue
        out.append({
            "index": r[0], "sex": int(r[1]), "age": int(r[2]), "age_days": _int_or_none(r[3]),
            "weight": _int_or_none(r[4]), "dx": _codes(r[8]), "px": _codes(r[9]),
            "label": r[-1].strip(),
        })
    return out


PUBLIC = _public_cases()


def test_public_file_shape():
    if not PUBLIC_CASES.is_file():
        pytest.skip("public sample absent")
    assert len(PUBLIC) == 30
    assert sum(1 for c in PUBLIC if c["label"]) == 24


@needs_pack
@pytest.mark.parametrize("case", [c for c in PUBLIC if c["label"]], ids=[c["index"] for c in PUBLIC if c["label"]])
def test_public_labelled(oracle, case):
    # ageDay in this file is the age in days since birth for every patient; the oracle only uses it
    # when age_years == 0, as the rules do.
    got = oracle.group(case["sex"], case["age"], case["age_days"], case["weight"], case["dx"], case["px"])
    assert got == case["label"], oracle.trace(case["sex"], case["age"], case["age_days"], case["weight"],
                                              case["dx"], case["px"])


@needs_pack
def test_public_unlabelled_are_grouped(oracle):
    # The 6 unlabelled rows have no expectation; they must at least produce a 4-character code.
    for c in PUBLIC:
        if not c["label"]:
            got = oracle.group(c["sex"], c["age"], c["age_days"], c["weight"], c["dx"], c["px"])
            assert len(got) == 4
