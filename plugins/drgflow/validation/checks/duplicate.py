"""duplicate: the same params.keys twice in one batch; every occurrence after the first fails."""
from __future__ import annotations

from drgflow.validation import checks
from drgflow.validation.checks._common import require_case_columns

PARAMS = ("keys",)


def check_params(params: dict, where: str) -> None:
    """Every key is a case column."""
    require_case_columns(params["keys"], where)


def flag_sql(rule, ctx: dict) -> str:
    """'first at row N' for a later occurrence."""
    return "case when x.dup_first is not null then 'first at row ' || x.dup_first end"


def row_part(rules: list, ctx: dict) -> checks.RowPart:
    """The keys seen more than once in the batch, with their first row (the first rule's keys)."""
    keys = rules[0].params["keys"]
    cols = ", ".join(f"t_{k} as {k}" for k in keys)
    group = ", ".join(str(i) for i in range(1, len(keys) + 1))
    notnull = " and ".join(f"t_{k} is not null" for k in keys)
    dup = f"""
create unlogged table audit.rule_dup_keys as
select {cols}, min(source_row) as first_row
from audit.case_typed where {notnull}
group by {group} having count(*) > 1"""
    return checks.RowPart(
        statements=[dup, "analyze audit.rule_dup_keys"], scratch=["audit.rule_dup_keys"],
        join="left join audit.rule_dup_keys d on " + " and ".join(f"d.{k} = t.t_{k}" for k in keys),
        columns=["case when t.source_row > d.first_row then d.first_row end as dup_first"],
        analyze=[f"t_{k}" for k in keys])
