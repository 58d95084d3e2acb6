"""Helpers both oracle self-checks use: where the packs are, loading an oracle module from its file, and
reading the hand-made cases. Standard library only; nothing from drgflow."""
from __future__ import annotations

import csv
import importlib.util
import os
import pathlib
import sys
from types import ModuleType

HERE = pathlib.Path(__file__).resolve().parent
# DRGFLOW_SHARED, else ../shared beside the repository (as drgflow itself reads it)
SHARED = pathlib.Path(os.environ.get("DRGFLOW_SHARED") or HERE.parents[2] / "shared")


def import_oracle(file_name: str) -> ModuleType:
    """The oracle module in this folder, loaded from its file (not through the tests' package)."""
    spec = importlib.util.spec_from_file_location(file_name.removesuffix(".py") + "_oracle", HERE / file_name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def int_or_none(s: str) -> int | None:
    s = (s or "").strip()
    return int(s) if s else None


def codes(s: str) -> list[str]:
    return [c.strip() for c in (s or "").split("|") if c.strip()]


def handmade_rows(file_name: str) -> list[dict]:
    with (HERE / file_name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def case_args(row: dict) -> tuple:
    """(sex, age_years, age_days, birth_weight_g, dx, px) of a hand-made row, as Oracle.group takes them."""
    return (int(row["sex"]), int(row["age_years"]), int_or_none(row["age_days"]),
            int_or_none(row["birth_weight_g"]), codes(row["dx_codes"]), codes(row["px_codes"]))
