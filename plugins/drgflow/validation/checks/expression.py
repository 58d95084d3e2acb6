"""expression: params.fails_when, a SQL condition over the typed row; params.detail, SQL text shown in the
message. {name} placeholders are replaced by other params."""
from __future__ import annotations

from drgflow.validation.sqltext import fill

PARAMS = ("fails_when", "detail")


def check_params(params: dict, where: str) -> None:
    """Nothing beyond PARAMS: a bad expression is named when its SQL fails on a batch."""


def flag_sql(rule, ctx: dict) -> str:
    """The detail text where the condition holds."""
    p = rule.params
    return f"case when ({fill(str(p['fails_when']), p)}) then ({fill(str(p['detail']), p)})::text end"
