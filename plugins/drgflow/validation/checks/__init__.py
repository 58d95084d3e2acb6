"""The check kinds of the rule catalogue, one module each: a new kind is one module here plus its cases in
tests/validation_cases/<kind>.yml, and its name in KINDS below.

A kind module defines
    PARAMS                    the params every rule of the kind must have
    check_params(params, where)   further checks of a rule's params (UserError naming `where`)
    flag_sql(rule, ctx)       SQL text over the prepared row `x`: NULL when the row passes, else what failed;
                              None when the rule cannot run (it is then skipped, see skip_reason)
    skip_reason(rule)         why a skipped rule of the kind did not run
and, when it reads more than the typed row,
    prepare(conn, rule, cat, batch_id, ctx) -> list[str]   fill the reference tables it reads (notes back)
    row_part(rules, ctx) -> RowPart                         scratch tables, join and columns of the prepared row

`ctx` holds what validation found in the warehouse: terminology / variant_map ({'dx': bool, 'px': bool}),
decimals (money), and what the kinds' prepare steps add.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from drgflow.validation.checks import (
    code_catalogue,
    cost_percentile,
    duplicate,
    expression,
    in_set,
    parse,
    principal_dx_prefix,
    registry,
    required,
    required_if,
    sex_dx,
)


@dataclass
class RowPart:
    """What a kind adds to the prepared row: scratch tables (built first, dropped after), a join, columns."""
    statements: list[str] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)
    join: str = ""                  # {principal}: the principal diagnosis after the variant map
    columns: list[str] = field(default_factory=list)
    analyze: list[str] = field(default_factory=list)   # columns of audit.case_typed its joins use


KINDS: dict[str, ModuleType] = {m.__name__.rsplit(".", 1)[1]: m for m in (
    required, required_if, parse, in_set, expression, code_catalogue, principal_dx_prefix, sex_dx, duplicate,
    registry, cost_percentile)}


def skip_reason(rule) -> str:
    """Why `rule` did not run (its kind's reason, or 'nothing to check')."""
    fn = getattr(KINDS[rule.check], "skip_reason", None)
    return fn(rule) if fn else "nothing to check"
