"""cost_percentile: params.value above the params.percentile of the same params.group in the settlement year
before (accepted cases already loaded), groups with >= params.min_history cases."""
from __future__ import annotations

from drgflow.errors import UserError
from drgflow.validation import checks
from drgflow.validation.sqltext import MONEY_COLS, fill, typed

PARAMS = ("value", "group", "percentile", "min_history")


def check_params(params: dict, where: str) -> None:
    """A percentile in (0, 1) of a money column."""
    if not 0 < float(params["percentile"]) < 1:
        raise UserError(f"{where}: percentile must be between 0 and 1")
    if params["value"] not in MONEY_COLS:
        raise UserError(f"{where}: value must be a money column ({', '.join(MONEY_COLS)})")


def prepare(conn, rule, cat, batch_id: int, ctx: dict) -> list[str]:
    """audit.rule_cost_ref(year, grp, p): percentile of last year's accepted cases per group; ctx['cost_ref']."""
    conn.execute("truncate audit.rule_cost_ref")
    ctx["cost_ref"] = False
    p = rule.params
    years = [r[0] for r in conn.execute(
        "select distinct left(btrim(settle_date), 4)::integer - 1 from raw.cases"
        " where batch_id = %s and btrim(settle_date) ~ '^[0-9]{4}-'", (batch_id,)).fetchall()]
    if not years:
        return []
    dx_map = ("left join (select distinct on (variant) variant, code from ref.dx_variant_map"
              " order by variant, code) m on m.variant = h.principal_raw"
              if ctx["variant_map"]["dx"] else "left join (select null::text as code) m on false")
    value = str(p["value"])
    group = fill(str(p["group"]), p)
    conn.execute(f"""
        insert into audit.rule_cost_ref
        select year, grp, percentile_cont({float(p['percentile'])}) within group (order by val)
        from (
            select extract(year from h.settle_date)::integer as year,
                   ({group.replace('principal_dx', 'coalesce(m.code, h.principal_raw)')}) as grp,
                   h.{value} as val
            from (
                select audit.parse_date(c.settle_date) as settle_date,
                       split_part(replace(c.dx_codes, ' ', ''), '|', 1) as principal_raw,
                       {typed(value, 'money', ctx['decimals'])} as {value}
                from raw.cases c
                where c.batch_id <> %(b)s and left(btrim(c.settle_date), 4)::text = any(%(years)s)
                  and not exists (select 1 from audit.quarantine q where q.batch_id = c.batch_id
                                  and q.source_row = c.source_row and q.severity = 'reject')
            ) h
            {dx_map}
        ) s
        where val is not null and grp is not null
        group by year, grp
        having count(*) >= {int(p['min_history'])}
    """, {"b": batch_id, "years": [str(y) for y in years]})
    conn.execute("analyze audit.rule_cost_ref")   # planner estimates: a guess of 850 rows chose a sort-merge
    ctx["cost_ref"] = bool(conn.execute("select exists (select 1 from audit.rule_cost_ref)").fetchone()[0])
    return []


def flag_sql(rule, ctx: dict) -> str | None:
    """'<value> > <limit> (<group>)' above the limit; None without history."""
    if not ctx.get("cost_ref"):
        return None
    v = rule.params["value"]
    return (f"case when x.{v} > x.cost_limit then "
            f"x.{v}::text || ' > ' || round(x.cost_limit, 2) || ' (' || x.cost_group || ')' end")


def skip_reason(rule) -> str:
    """Not enough history."""
    return f"no group with at least {rule.params['min_history']} accepted cases in the year before"


def row_part(rules: list, ctx: dict) -> checks.RowPart:
    """cost_limit / cost_group: last year's limit of the row's group (the first rule's group)."""
    if not ctx.get("cost_ref"):
        return checks.RowPart(columns=["null::numeric as cost_limit", "null::text as cost_group"])
    p = rules[0].params
    group = fill(str(p["group"]), p).replace("principal_dx", "{principal}")
    return checks.RowPart(
        join=(f"left join audit.rule_cost_ref cr on cr.year = extract(year from t.settle_date)::integer - 1 "
              f"and cr.grp = ({group})"),
        columns=["cr.p as cost_limit", "cr.grp as cost_group"])
