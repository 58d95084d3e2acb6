"""registry: params.column must exist in params.table (params.table_column); skipped while the registry
table is empty."""
from __future__ import annotations

import re

from drgflow.errors import UserError
from drgflow.validation import checks
from drgflow.validation.checks._common import require_case_columns
from drgflow.validation.reference import table_has_rows

PARAMS = ("column", "table", "table_column")


def check_params(params: dict, where: str) -> None:
    """A case column, and a table named schema.table."""
    require_case_columns([params["column"]], where)
    if not re.match(r"^[a-z_]+\.[a-z_]+$", str(params["table"])):
        raise UserError(f"{where}: table must be schema.table")


def prepare(conn, rule, cat, batch_id: int, ctx: dict) -> list[str]:
    """ctx['registry']: whether the registry table has rows."""
    ctx["registry"] = table_has_rows(conn, str(rule.params["table"]))
    return []


def flag_sql(rule, ctx: dict) -> str | None:
    """The value where it is not in the registry; None while the registry is empty."""
    if not ctx.get("registry"):
        return None
    col = rule.params["column"]
    return f"case when x.t_{col} is not null and not x.in_registry then x.t_{col} end"


def skip_reason(rule) -> str:
    """The registry table is empty."""
    return f"{rule.params['table']} is empty (no hospital registry loaded)"


def row_part(rules: list, ctx: dict) -> checks.RowPart:
    """in_registry: the row's value is in the registry (the first rule's table)."""
    p = rules[0].params
    if not ctx.get("registry"):
        return checks.RowPart(columns=["true as in_registry"])
    return checks.RowPart(
        join=(f"left join (select distinct btrim({p['table_column']}) as rid from {p['table']}) reg "
              f"on reg.rid = t.t_{p['column']}"),
        columns=["reg.rid is not null as in_registry"])
