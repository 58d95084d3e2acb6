"""Differential tests: the dbt grouper against independent CHS-DRG 1.1 and 2.0 oracles.

The oracles (tests/oracle/chs_drg11.py, chs_drg20.py) were written from ../shared/docs/drg-dip-reference.md §2
and the packs' own files by someone who had not read the SQL models or their helpers; they import nothing from
drgflow and parse the packs themselves (tests/oracle/README.md lists their sources and choices). Two checks
per version:

* the oracle's hand-made cases (tests/oracle/handmade_chs11.csv, handmade_chs20.csv: every split pattern × CC
  status, every MDCP age band and weight band, sex, MDCA, MDCZ; for 2.0 also every rule form of the JSON
  pack: formulas, procedure groups, referenced ADRGs, secondary diagnoses, xQY, invalid principal diagnoses),
  whose expected DRGs were worked out by hand from the tables, grouped by the real dbt models;
* generated cases per rule form (a positive case for every ADRG, perturbed negatives, two per exclusion
  table, random mixes) grouped by both; every disagreement is listed.

One reading differs on purpose: when a case enters an MDC whose ADRGs all fail, drgflow tries the next
MDC, as OpenDRG chs_drg_11 does (docs/grouping.md); the oracle's switch fall_through=True follows it.
"""
from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import query
from drgflow.grouping import group_cases
from drgflow.schemes.pack_json import read_pack
from drgflow.schemes.rules import compile_rule
from oracle import chs_drg11, chs_drg20
from test_grouping_support import load_cases

#: version -> (oracle module, hand-made cases)
ORACLES = {"CHS-DRG-1.1": (chs_drg11, "handmade_chs11.csv"), "CHS-DRG-2.0": (chs_drg20, "handmade_chs20.csv")}


def generate(pack, rng: random.Random, n_random: int = 600) -> list[tuple[str, dict]]:
    """(rule form, case) pairs: a positive and a negative per ADRG, two per exclusion table, random mixes.
    For a pack that lists its non-OR procedures (2.0), some cases carry one of those, first or later."""
    mcc, cc = list(pack.mcc), list(pack.cc)
    if pack.ss_valid:
        ss = sorted(pack.ss_valid)
    else:  # 2.0: every procedure not listed as non-OR is an OR procedure; take those the rules list
        ss = sorted({c for a in pack.adrgs.values() for codes in (a.rule or {}).get("sections", {}).values()
                     for c in codes if c[:1].isdigit()} - pack.px_non_or)
    non_or = sorted(pack.px_non_or)
    all_pdx = sorted({c for m in pack.mdcs.values() for c in m.principal_dx})
    by_table = defaultdict(list)
    for c, t in list(pack.mcc.items()) + list(pack.cc.items()):
        if t:
            by_table[t].append(c)
    cases = []

    def case(form, dx, px, sex=None, age=45, age_days=None, weight=None):
        sex = sex or rng.choice((1, 2))
        cases.append((form, {"sex": str(sex), "age_years": str(age),
                             "age_days": "" if age_days is None else str(age_days),
                             "birth_weight_g": "" if weight is None else str(weight),
                             "dx_codes": "|".join(dict.fromkeys(dx)), "px_codes": "|".join(px)}))

    for _code, a in sorted(pack.adrgs.items()):
        comp = compile_rule(a, pack.adrgs)
        alt = rng.choice(sorted({c[0] for c in comp.conds}))
        conds = [c for c in comp.conds if c[0] == alt]
        kinds = [k for _, _, k, _ in conds]
        mdc_list = sorted(pack.mdcs[a.mdc].principal_dx) or all_pdx
        dx = [rng.choice(mdc_list)]
        px: list[str] = []
        for _, _, kind, n in conds:
            codes = comp.lists.get(n, [])
            if kind == "pdx":
                dx[0] = rng.choice(codes)
            elif kind == "ppx":
                px.insert(0, rng.choice(codes))
            elif kind in ("any_dx", "sdx"):
                dx.append(rng.choice(codes))
            elif kind == "any_px":
                px.append(rng.choice(codes))
            elif kind == "ppx_or":
                px.insert(0, rng.choice(ss))
        if a.mdc == "Z":
            regions = [s for s in pack.mdcs["Z"].sections if s.codes]
            dx += [rng.choice(s.codes) for s in rng.sample(regions, 2)]
        if non_or and rng.random() < .3:  # a non-OR procedure before or after the others
            px.insert(rng.choice((0, len(px))), rng.choice(non_or))
        dx += rng.sample(mcc + cc, rng.randint(0, 3))
        sex = 1 if a.mdc == "M" else (2 if a.mdc in "NO" else None)
        newborn = a.mdc == "P"
        form = "+".join(sorted(set(kinds)))
        kw = dict(sex=sex, age=0 if newborn else 45, age_days=rng.choice((3, 20, 28, 29, 200)) if newborn else None,
                  weight=rng.choice((900, 1499, 1500, 1999, 2000, 2499, 2500, 3300)) if newborn else None)
        case(f"{form}:positive", dx, px, **kw)
        # negative: drop the procedures / swap the principal diagnosis / flip sex
        case(f"{form}:no_px", dx, [], **kw)
        case(f"{form}:other_pdx", [rng.choice(all_pdx)] + dx[1:], px, **kw)
        if sex:
            case(f"{form}:other_sex", dx, px, **{**kw, "sex": 3 - sex})
    for t, members in sorted(pack.cce.items()):
        if not by_table.get(t) or not members:
            continue
        p = rng.choice(members)
        same = rng.choice(by_table[t])
        other = rng.choice(mcc + cc)
        case(f"exclusion:7-{t}:same", [p, same], [])
        case(f"exclusion:7-{t}:mixed", [p, same, other], [rng.choice(ss)] if rng.random() < .3 else [])
    # the pack's few non-catalogue codes (the variant map would send them elsewhere) as principal diagnoses
    for c in ("K43.900", "K43.902", "P78.300x004"):
        if c in all_pdx:
            case("scheme_code_not_in_catalogue", [c], [], age=0 if c[0] == "P" else 45,
                 age_days=10 if c[0] == "P" else None, weight=3000 if c[0] == "P" else None)
    for c in sorted(pack.dx_invalid)[::400]:
        case("invalid_principal_dx", [c, rng.choice(all_pdx)], [])
    for _ in range(n_random):
        px = rng.sample(ss, rng.randint(0, 2)) if rng.random() < .6 else []
        if non_or and rng.random() < .2:
            px.insert(0, rng.choice(non_or))
        case("random", [rng.choice(all_pdx)] + rng.sample(mcc + cc, rng.randint(0, 4)), px,
             age=rng.choice((0, 1, 30, 70)), age_days=rng.choice((None, 5, 28, 100)),
             weight=rng.choice((None, 1200, 2600)))
    return cases


ORACLE_DIR = Path(__file__).parent / "oracle"


def _as_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def _group_sql(url: str, folder: Path, cases: list[dict], version: str) -> dict[str, str]:
    load_cases(url, folder, cases)
    group_cases(url, version)
    return dict(query(url, "select case_id, drg from marts.case_grouping where scheme_version = %s", (version,)))


@pytest.mark.parametrize("version", sorted(ORACLES))
def test_handmade_cases_group_as_worked_out_by_hand(fresh_url, shared_dir, tmp_path, version):
    if shared_dir is None or not (shared_dir / "schemes" / version).is_dir():
        pytest.skip(f"no ../shared/schemes/{version} on this machine")
    oracle, handmade = ORACLES[version]
    rows = list(csv.DictReader((ORACLE_DIR / handmade).open(encoding="utf-8")))
    assert len(rows) >= 60
    rules = {r["rule"] for r in rows}
    assert {"split_9", "split_135", "split_35", "split_15", "mdcp_age", "mdcp_weight"} <= rules
    cases = [{k: r[k] for k in ("case_id", "sex", "age_years", "age_days", "birth_weight_g", "dx_codes", "px_codes")}
             for r in rows]
    got = _group_sql(fresh_url, tmp_path, cases, version)
    # where the oracle's author chose "no fall-through" (its README, choice 1), drgflow follows OpenDRG's
    # code: the expectation of those rows is the oracle's fall-through reading, and they are few
    scheme = shared_dir / "schemes" / version
    strict, falls = oracle.load(scheme), oracle.load(scheme, fall_through=True)
    expected = {}
    for r in rows:
        args = (int(r["sex"]), int(r["age_years"]), _as_int(r["age_days"]), _as_int(r["birth_weight_g"]),
                r["dx_codes"].split("|"), r["px_codes"].split("|") if r["px_codes"] else [])
        differs = strict.group(*args) != falls.group(*args)
        expected[r["case_id"]] = falls.group(*args) if differs else r["expected_drg"]
    assert sum(expected[r["case_id"]] != r["expected_drg"] for r in rows) <= 2
    wrong = [(r["case_id"], r["rule"], expected[r["case_id"]], got.get(r["case_id"]), r["why"]) for r in rows
             if got.get(r["case_id"]) != expected[r["case_id"]]]
    assert wrong == [], f"{len(wrong)} of {len(rows)} hand-made cases disagree: {wrong[:5]}"


@pytest.mark.parametrize("version", sorted(ORACLES))
def test_differential_against_independent_oracle(fresh_url, shared_dir, tmp_path, version, seed=11):
    if shared_dir is None or not (shared_dir / "schemes" / version).is_dir():
        pytest.skip(f"no ../shared/schemes/{version} on this machine")
    module = ORACLES[version][0]
    pack = read_pack(shared_dir / "schemes" / version)
    oracle = module.load(shared_dir / "schemes" / version, fall_through=True)
    strict = module.load(shared_dir / "schemes" / version)
    cases = generate(pack, random.Random(seed))
    rows = [{"case_id": f"D{i:05d}", **c} for i, (_, c) in enumerate(cases)]
    got = _group_sql(fresh_url, tmp_path, rows, version)
    disagreements, fall_throughs = [], 0
    for (form, c), row in zip(cases, rows, strict=True):
        args = (int(c["sex"]), int(c["age_years"]), _as_int(c["age_days"]), _as_int(c["birth_weight_g"]),
                c["dx_codes"].split("|"), c["px_codes"].split("|") if c["px_codes"] else [])
        want = oracle.group(*args)
        fall_throughs += strict.group(*args) != want
        if got[row["case_id"]] != want:
            disagreements.append((row["case_id"], form, want, got[row["case_id"]], c))
    assert len(cases) > 1500
    assert disagreements == [], f"{len(disagreements)} of {len(cases)} disagree: {disagreements[:5]}"
    # the readings differ on few cases only (an MDC entered with no ADRG matching)
    assert fall_throughs < len(cases) * 0.05
    print(f"{version}: {len(cases)} generated cases agree; {fall_throughs} depend on the fall-through reading")
