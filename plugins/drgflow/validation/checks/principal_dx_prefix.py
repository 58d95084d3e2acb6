"""principal_dx_prefix: the principal diagnosis (after the variant map) must not match params.prefixes (code
prefixes) or params.ranges (3-character categories, inclusive, e.g. B95-B98)."""
from __future__ import annotations

import re

from drgflow.errors import UserError
from drgflow.validation.sqltext import literal

PARAMS = ()


def check_params(params: dict, where: str) -> None:
    """Ranges look like B95-B98."""
    for rng in params.get("ranges", []):
        if not re.match(r"^[A-Z][0-9]{2}-[A-Z][0-9]{2}$", str(rng)):
            raise UserError(f"{where}: range {rng!r} must look like B95-B98")


def flag_sql(rule, ctx: dict) -> str | None:
    """The principal diagnosis where it matches; None without prefixes or ranges."""
    p = rule.params
    conds = [f"left(x.principal_dx, 3) between {literal(r[:3])} and {literal(r[4:])}" for r in p.get("ranges", [])]
    conds += [f"x.principal_dx like {literal(str(pre).replace('%', '') + '%')}" for pre in p.get("prefixes", [])]
    if not conds:
        return None
    return f"case when {' or '.join(conds)} then x.principal_dx end"
