"""SQL text shared by the check kinds and the flags statement: literals, typed values, the typed-row columns."""
from __future__ import annotations

import re
from typing import Any

from drgflow import contract

TEXT_COLS = ("case_id", "hospital_id", "region_code", "insurance_type", "patient_id", "dept_code")
INT_COLS = ("sex", "age_years", "age_days", "birth_weight_g", "los_days", "discharge_way", "ventilator_hours")
DATE_COLS = ("admit_date", "discharge_date", "settle_date")
MONEY_COLS = ("total_cost", "fund_paid", *contract.FEE_COLUMNS)
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def fill(text: str, params: dict[str, Any]) -> str:
    """Replace {name} placeholders that name a param (SQL braces such as {17} are left alone)."""
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text)


def literal(value: Any) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def typed(col: str, kind: str, decimals: int, alias: str = "c") -> str:
    """SQL of a typed value from raw text (audit.parse_* in sql/30_validation.sql): NULL when empty or bad."""
    if kind == "int":
        return f"audit.parse_int({alias}.{col})"
    if kind == "date":
        return f"audit.parse_date({alias}.{col})"
    return f"audit.parse_money({alias}.{col}, {int(decimals)})"
