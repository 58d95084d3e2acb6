"""required_if: params.column must not be empty when params.when (SQL over the typed row) holds."""
from __future__ import annotations

from drgflow.validation.checks._common import require_case_columns
from drgflow.validation.sqltext import fill, literal

PARAMS = ("column", "when")


def check_params(params: dict, where: str) -> None:
    """The column is a case column."""
    require_case_columns([params["column"]], where)


def flag_sql(rule, ctx: dict) -> str:
    """'<column> empty' when the condition holds and the column is empty."""
    p = rule.params
    empty = literal(p["column"] + " empty")
    return f"case when ({fill(str(p['when']), p)}) and x.t_{p['column']} is null then {empty} end"
