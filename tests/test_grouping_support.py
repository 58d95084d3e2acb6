"""Helpers for the grouping tests: write cases in the input contract and load them (no tests here)."""
from __future__ import annotations

import csv
from pathlib import Path

from drgflow import contract, loader

DEFAULTS = {
    "region_code": "330100", "insurance_type": "1", "patient_id": "p", "sex": "1", "age_years": "50",
    "age_days": "", "birth_weight_g": "", "admit_date": "2024-01-01", "discharge_date": "2024-01-08",
    "los_days": "7", "discharge_way": "1", "dept_code": "", "px_codes": "", "ventilator_hours": "",
    "total_cost": "10000", "fund_paid": "7000", "settle_date": "2024-01-10",
    **{f: "0" for f in contract.FEE_COLUMNS},
}


def write_cases(folder: Path, cases: list[dict], name: str = "cases.csv") -> Path:
    """cases: dicts with at least case_id and dx_codes ('|'-separated, principal first)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(contract.CASE_COLUMNS)
        for i, c in enumerate(cases):
            row = {**DEFAULTS, "hospital_id": "H001", "patient_id": f"p{i}", **c}
            w.writerow([row.get(col, "") for col in contract.CASE_COLUMNS])
    return path


def load_cases(url: str, folder: Path, cases: list[dict], name: str = "cases.csv") -> None:
    loader.load_paths([write_cases(folder, cases, name)], url=url, validate=False, progress=False)


def opendrg_cases() -> list[dict]:
    """The 30 public OpenDRG sample cases as case dicts (+ 'label': expected CHS-DRG 1.1 DRG or '')."""
    path = Path("/work/shared/testdata/opendrg_30_cases.txt")
    from drgflow import config

    shared = config.shared_dir()
    if shared is not None:
        path = shared / "testdata" / "opendrg_30_cases.txt"
    out = []
    with path.open(encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)  # header names 11 columns; rows carry an empty remark before the label
        for r in rows:
            if not r:
                continue
            out.append({"case_id": r[0], "sex": r[1], "age_years": r[2], "age_days": r[3],
                        "birth_weight_g": r[4], "dept_code": r[5], "los_days": r[6], "discharge_way": r[7],
                        "dx_codes": r[8], "px_codes": r[9], "label": r[11] if len(r) > 11 else ""})
    return out
