"""parse: a non-empty value of params.columns must parse as params.type (int | date | money); with params.when
(SQL over the typed row) only for the cases where it holds."""
from __future__ import annotations

from drgflow.errors import UserError
from drgflow.validation.checks._common import require_case_columns
from drgflow.validation.sqltext import fill, literal

PARAMS = ("type", "columns")


def check_params(params: dict, where: str) -> None:
    """Case columns, and a type the parsers know."""
    require_case_columns(params["columns"], where)
    if params["type"] not in ("int", "date", "money"):
        raise UserError(f"{where}: parse type must be int, date or money")


def flag_sql(rule, ctx: dict) -> str:
    """'<column>=<text>' for each value that does not parse."""
    p = rule.params
    bad = []
    for c in p["columns"]:
        typed_ok = f"x.{c} is null" if c not in ("dx_codes", "px_codes") else "false"
        bad.append(f"case when x.t_{c} is not null and {typed_ok} then {literal(c + '=')} || x.t_{c} end")
    failed = f"nullif(concat_ws(', ', {', '.join(bad)}), '')"
    # params.when: the value matters only for some cases (age in days under one year, …)
    return f"case when ({fill(str(p['when']), p)}) then {failed} end" if "when" in p else failed
