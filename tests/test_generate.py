"""The synthetic city: deterministic, internally consistent, realistic enough for every later stage."""
from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from drgflow import config, contract, generate


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.csv")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate.generate_city(out, years=[2022, 2023], cases_per_year=6000, hospitals=15, regions=2,
                           seed=7, defect_rate=0.02)
    return out


def _cases(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.glob("cases_*.csv")):
        with f.open(encoding="utf-8", newline="") as handle:
            for i, row in enumerate(csv.DictReader(handle), start=1):
                row["_file"], row["_row"] = f.name, i
                rows.append(row)
    return rows


def test_same_seed_same_bytes_other_seed_differs(tmp_path, city):
    again = tmp_path / "again"
    generate.generate_city(again, years=[2022, 2023], cases_per_year=6000, hospitals=15, regions=2,
                           seed=7, defect_rate=0.02)
    assert _digest(again) == _digest(city)
    other = tmp_path / "other"
    generate.generate_city(other, years=[2022, 2023], cases_per_year=6000, hospitals=15, regions=2,
                           seed=8, defect_rate=0.02)
    assert _digest(other) != _digest(city)


def test_files_follow_the_contract(city):
    with (city / "cases_2022_01.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(contract.CASE_COLUMNS)
    for kind in ("hospitals", "budgets", "assessment_scores", "special_review"):
        with (city / f"{kind}.csv").open(encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == list(contract.FILE_KINDS[kind])
    assert len(list(city.glob("cases_2023_*.csv"))) == 12


def test_clean_rows_are_consistent_and_defects_are_listed(city):
    with (city / "defects.csv").open(encoding="utf-8") as handle:
        defects = {(d["file"], int(d["source_row"])): d for d in csv.DictReader(handle)}
    rows = _cases(city)
    assert 0.015 * len(rows) < len(defects) < 0.03 * len(rows)
    kinds = {d["defect_kind"] for d in defects.values()}
    assert {"fee_sum_mismatch", "unknown_hospital", "duplicate_row", "missing_required",
            "discharge_before_admit", "sex_dx_conflict"} <= kinds
    for row in rows:
        defect = defects.get((row["_file"], row["_row"]))
        if defect is None:
            fees = sum(Decimal(row[c]) for c in contract.FEE_COLUMNS)
            assert fees == Decimal(row["total_cost"]), row
            assert Decimal(0) <= Decimal(row["fund_paid"]) <= Decimal(row["total_cost"])
            assert row["admit_date"] <= row["discharge_date"] <= row["settle_date"]
            assert all(row[c] != "" for c in contract.CASE_REQUIRED), row
        elif defect["defect_kind"] == "fee_sum_mismatch":
            assert sum(Decimal(row[c]) for c in contract.FEE_COLUMNS) != Decimal(row["total_cost"])
        elif defect["defect_kind"] == "unknown_hospital":
            assert row["hospital_id"] == "H999999"


def test_city_looks_real(city):
    with (city / "hospitals.csv").open(encoding="utf-8") as handle:
        hospitals = {h["hospital_id"]: h for h in csv.DictReader(handle)}
    assert {h["level"] for h in hospitals.values()} == {"1", "2", "3"}
    assert len({h["region_code"] for h in hospitals.values()}) == 2
    cost_by_level: dict[str, list[Decimal]] = defaultdict(list)
    surgical_by_level: dict[str, list[int]] = defaultdict(list)
    deaths = newborns = long_stays = 0
    for row in _cases(city):
        h = hospitals.get(row["hospital_id"])
        if h is None or not row["total_cost"].replace(".", "").isdigit():
            continue
        cost_by_level[h["level"]].append(Decimal(row["total_cost"]))
        surgical_by_level[h["level"]].append(1 if row["px_codes"] else 0)
        deaths += row["discharge_way"] == "5"
        newborns += row["age_years"] == "0" and row["birth_weight_g"] != ""
        long_stays += row["los_days"].isdigit() and int(row["los_days"]) > 60
    mean = {lv: sum(v) / len(v) for lv, v in cost_by_level.items()}
    assert mean["3"] > mean["2"] > mean["1"]
    share = {lv: sum(v) / len(v) for lv, v in surgical_by_level.items()}
    assert share["3"] > share["1"]
    assert deaths > 0 and newborns > 0 and long_stays > 0
    # heavy right tail: the top 1% of costs is far above the median
    costs = sorted(c for v in cost_by_level.values() for c in v)
    assert costs[int(len(costs) * 0.99)] > 4 * costs[len(costs) // 2]


def test_case_mix_comes_from_the_scheme(city):
    version, folder = config.default_scheme()
    from drgflow.schemes.pack import load_pack

    pack = load_pack(folder, version)
    known = set(pack.names) | set(pack.mcc) | set(pack.cc) | {c for m in pack.mdcs.values() for c in m.principal_dx}
    principals = [r["dx_codes"].split("|")[0] for r in _cases(city) if r["dx_codes"]]
    assert sum(p in known for p in principals) / len(principals) > 0.97
    # skewed frequency: the 10% most frequent principal diagnoses cover far more than 10% of cases
    counts = sorted(defaultdict(int, {p: principals.count(p) for p in set(principals)}).values(), reverse=True)
    assert sum(counts[: max(1, len(counts) // 10)]) > 0.25 * len(principals)
