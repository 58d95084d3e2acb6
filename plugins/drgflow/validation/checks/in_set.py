"""in_set: params.column (raw text, trimmed) must be one of params.values when not empty."""
from __future__ import annotations

from drgflow.validation.checks._common import require_case_columns
from drgflow.validation.sqltext import literal

PARAMS = ("column", "values")


def check_params(params: dict, where: str) -> None:
    """The column is a case column."""
    require_case_columns([params["column"]], where)


def flag_sql(rule, ctx: dict) -> str:
    """'<column>=<value>' for a value outside the set."""
    col = rule.params["column"]
    values = ", ".join(literal(v) for v in rule.params["values"])
    return f"case when x.t_{col} is not null and x.t_{col} not in ({values}) then {literal(col + '=')} || x.t_{col} end"
