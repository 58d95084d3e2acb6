"""The statements that flag a batch: audit.rule_flags, one row per case row, one text column per active rule
(NULL = passed, else what failed), from the raw text and the typed values; and the typed rows staging reads."""
from __future__ import annotations

from typing import Any

from drgflow import contract
from drgflow.validation import checks
from drgflow.validation.catalogue import Rule
from drgflow.validation.sqltext import DATE_COLS, INT_COLS, MONEY_COLS, TEXT_COLS, literal, typed

#: the principal diagnosis after the variant map (pm: the map's first code per variant)
PRINCIPAL = "coalesce(pm.code, t.dx_list[1])"


def flags_statements(batch_id: int, active: list[tuple[Rule, str]], ctx: dict[str, Any]) -> list[str]:
    """Statements building audit.rule_flags for the batch.

    Two steps so that every raw value is parsed once and all the work runs in parallel workers:
    audit.case_typed holds the typed row (parsing is most of the cost), then the rule expressions
    read its columns. Lookups are regular (unlogged) tables: temp tables would keep the joins out of
    the parallel workers. Each check kind adds its own scratch tables, join and columns (checks.RowPart).
    """
    decimals = ctx["decimals"]
    b = int(batch_id)
    cols = [f"nullif(btrim(c.{col}), '') as t_{col}" for col in contract.CASE_COLUMNS]
    cols += [f"{typed(col, 'int', decimals)} as {col}" for col in INT_COLS]
    cols += [f"{typed(col, 'date', decimals)} as {col}" for col in DATE_COLS]
    cols += [f"{typed(col, 'money', decimals)} as {col}" for col in MONEY_COLS]
    # the same parser as the staging macro code_list()
    cols += ["audit.parse_code_list(c.dx_codes) as dx_list", "audit.parse_code_list(c.px_codes) as px_list"]
    typed_sql = ("create unlogged table audit.case_typed as\nselect c.source_row,\n       "
                 + ",\n       ".join(cols) + f"\nfrom raw.cases c where c.batch_id = {b}")
    # text columns under their own names for rule expressions (same values as t_*)
    text_alias = ", ".join(f"t.t_{col} as {col}" for col in TEXT_COLS)
    dx_map = "ref.dx_variant_map" if ctx["variant_map"]["dx"] else "(select null::text as variant, null::text as code)"

    by_kind: dict[str, list[Rule]] = {}
    for rule, _ in active:
        by_kind.setdefault(rule.check, []).append(rule)
    parts = [checks.KINDS[k].row_part(rules, ctx) for k, rules in by_kind.items()
             if hasattr(checks.KINDS[k], "row_part")]
    part_columns = "".join(f", {c}" for p in parts for c in p.columns)
    part_joins = "\n        ".join(p.join.replace("{principal}", PRINCIPAL) for p in parts if p.join)
    rule_cols = ",\n        ".join(f"{expr} as {rule.id}" for rule, expr in active)
    reject = [r.id for r, _ in active if r.severity == "reject"]
    warn = [r.id for r, _ in active if r.severity == "warn"]

    def any_failed(ids: list[str]) -> str:
        return f"num_nonnulls({', '.join(ids)}) > 0" if ids else "false"

    flags_sql = f"""
create unlogged table audit.rule_flags with (autovacuum_enabled = false) as
select {b}::bigint as batch_id, z.*,
       {any_failed(reject)} as rejected,
       {any_failed(warn)} as warned
from (
    select x.source_row, x.hospital_id, x.case_id,
        {rule_cols}
    from (
        select t.*, {text_alias}, {PRINCIPAL} as principal_dx{part_columns},
               {' + '.join(f't.{f}' for f in contract.FEE_COLUMNS)} as fee_sum
        from audit.case_typed t
        left join (select distinct on (variant) variant, code from {dx_map} m order by variant, code) pm
               on pm.variant = t.dx_list[1]
        {part_joins}
    ) x
    offset 0
) z
"""
    # audit.case_typed stays until the batch is recorded (gate.py: typed_copy in the recording transaction)
    scratch = [s for p in parts for s in p.scratch]
    # analyze only what the joins need: a full analyze of ~100 columns costs seconds per million rows
    analyze_cols = ", ".join(dict.fromkeys(["source_row", *(c for p in parts for c in p.analyze), "dx_list"]))
    # each step its own statement: a plan has one Gather, so a CTE with its own parallel part would
    # leave the main join serial
    return [*(f"drop table if exists {t}" for t in ["audit.case_typed", *scratch]), typed_sql,
            f"analyze audit.case_typed ({analyze_cols})",
            *(s for p in parts for s in p.statements),
            "drop view if exists audit.rule_flags_docs", "drop table if exists audit.rule_flags", flags_sql,
            _docs_view_sql(active), *(f"drop table {t}" for t in scratch)]


def typed_copy(b: int) -> list[str]:
    """The typed rows as staging reads them (audit.cases_typed), with their reject flag: dbt then needs no second
    parse of the batch, and no join to the quarantine. Blank text is null, as in the staging view's own parse
    of a batch that was not validated. Run in the transaction that records the batch validated (gate.py), so
    a batch's typed rows exist exactly when its validation completed; drops audit.case_typed."""
    text = ("hospital_id", "case_id", "region_code", "insurance_type", "patient_id", "dept_code")
    same = ("sex", "age_years", "age_days", "birth_weight_g", "admit_date", "discharge_date", "los_days",
            "discharge_way", "ventilator_hours", "total_cost", "fund_paid", *contract.FEE_COLUMNS, "settle_date")
    staged = {**{c: f"t.t_{c}" for c in text}, **{c: f"t.{c}" for c in same},
              "batch_id": f"{b}::bigint", "source_row": "t.source_row",
              "dx_codes": "coalesce(t.dx_list, '{}')", "px_codes": "coalesce(t.px_list, '{}')",
              "personal_paid": "t.total_cost - t.fund_paid",
              "settle_year": "extract(year from t.settle_date)::integer",
              "settle_period": "to_char(t.settle_date, 'YYYY-MM')", "rejected": "f.rejected"}
    return [f"delete from audit.cases_typed where batch_id = {b}",
            f"delete from audit.cases_typed_batches where batch_id = {b}",
            f"insert into audit.cases_typed ({', '.join(staged)}) select {', '.join(staged.values())}"
            " from audit.case_typed t join audit.rule_flags f on f.source_row = t.source_row",
            f"insert into audit.cases_typed_batches (batch_id, rows) select {b}, count(*) from audit.case_typed",
            "drop table audit.case_typed"]


def _html_escaped(column: str) -> str:
    """SQL of `column` with the five characters HTML gives a meaning (& < > " ') as character references."""
    expr = column
    for char, ref in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        expr = f"replace({expr}, {literal(char)}, {literal(ref)})"
    return expr


def _docs_view_sql(active: list[tuple[Rule, str]]) -> str:
    """audit.rule_flags_docs, what Great Expectations reads: audit.rule_flags with every text HTML-escaped.

    GX's Data Docs print the failing values (`partial_unexpected_list`) into the page as they are, and a
    rule's detail carries the row's own text (`total_cost=<script>…`): escaped here, a browser shows that
    text and runs none of it. Null stays null, so every count is the table's; the quarantine and the
    feedback files read audit.rule_flags, the text as received."""
    text = ", ".join(f"{_html_escaped(c)} as {c}" for c in ("hospital_id", "case_id", *(r.id for r, _ in active)))
    return ("create view audit.rule_flags_docs as select batch_id, source_row, " + text
            + ", rejected, warned from audit.rule_flags")
