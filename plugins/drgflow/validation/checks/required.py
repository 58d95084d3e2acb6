"""required: params.columns must not be empty (a list field of separators only, e.g. "|", is empty too)."""
from __future__ import annotations

from drgflow.validation.checks._common import require_case_columns
from drgflow.validation.sqltext import literal

PARAMS = ("columns",)
_EMPTY_LIST = {"dx_codes": " or cardinality(x.dx_list) = 0", "px_codes": " or cardinality(x.px_list) = 0"}


def check_params(params: dict, where: str) -> None:
    """Every column is a case column."""
    require_case_columns(params["columns"], where)


def flag_sql(rule, ctx: dict) -> str:
    """The empty columns, comma-separated."""
    parts = ", ".join(f"case when x.t_{c} is null{_EMPTY_LIST.get(c, '')} then {literal(c)} end"
                      for c in rule.params["columns"])
    return f"nullif(concat_ws(', ', {parts}), '')"
