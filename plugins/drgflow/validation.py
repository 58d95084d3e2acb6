"""Case-batch validation: the rule catalogue (expectations/rules/case_rules.yml) run set-based in
PostgreSQL, checked by Great Expectations, with row-level quarantine.

For a loaded cases batch:
1. one SQL statement builds `audit.rule_flags`: one row per case row of the batch, one text column per
   enabled rule (NULL = passed, else what failed), from the raw text and typed values;
2. Great Expectations runs the suite `case_rules` (one expect_column_values_to_be_null per rule) against
   that table through its PostgreSQL datasource and updates the Data Docs site;
3. every failure goes to `audit.quarantine` (severity reject or warn, the raw record as jsonb), earlier
   quarantine entries of cases this batch accepts are marked resolved, and `audit.batches`,
   `audit.rule_results`, `audit.validation_runs` record the counts.
Nothing of a batch's rows is pulled into Python: only counts and the flags table's metrics travel.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from drgflow import config, contract, db, roles
from drgflow.batch import LoadResult
from drgflow.errors import UserError
from drgflow.schemes import terminology
from drgflow.schemes.pack import load_pack

GX_DIR = config.REPO_ROOT / "expectations"
CATALOGUE = GX_DIR / "rules" / "case_rules.yml"
SUITE_NAME = "case_rules"
VALIDATE_LOCK = "drgflow.validate"
SEVERITIES = ("reject", "warn")
CHECKS = ("required", "required_if", "parse", "in_set", "expression", "code_catalogue",
          "principal_dx_prefix", "sex_dx", "duplicate", "registry", "cost_percentile")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,50}$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_TEXT_COLS = ("case_id", "hospital_id", "region_code", "insurance_type", "patient_id", "dept_code")
_INT_COLS = ("sex", "age_years", "age_days", "birth_weight_g", "los_days", "discharge_way", "ventilator_hours")
_DATE_COLS = ("admit_date", "discharge_date", "settle_date")
_MONEY_COLS = ("total_cost", "fund_paid", *contract.FEE_COLUMNS)


@dataclass(frozen=True)
class Rule:
    """One catalogue entry."""
    id: str
    severity: str
    message_zh: str
    message_en: str
    check: str
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    reason: str = ""     # why this severity: what a failing case loses (grouping, payment) or why it only warns

    def message(self) -> str:
        """'中文 / English' with the params filled in."""
        return f"{fill(self.message_zh, self.params)} / {fill(self.message_en, self.params)}"


@dataclass
class Catalogue:
    name: str
    version: str
    rules: list[Rule]
    path: Path


def fill(text: str, params: dict[str, Any]) -> str:
    """Replace {name} placeholders that name a param (SQL braces such as {17} are left alone)."""
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text)


def catalogue_path() -> Path:
    """The catalogue in force: DRGFLOW_RULES (a bureau's own copy) or expectations/rules/case_rules.yml."""
    return Path(config.env("DRGFLOW_RULES") or CATALOGUE)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check the rule catalogue; a problem raises UserError naming the file and the rule."""
    path = Path(path or catalogue_path())
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the rule catalogue ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise UserError(f"{path}: expected a mapping with a 'rules' list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, entry in enumerate(doc["rules"], 1):
        where = f"{path.name}: rule #{n}"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: expected a mapping")
        rid = str(entry.get("id", ""))
        if not _RULE_ID.match(rid):
            raise UserError(f"{where}: id {rid!r} must be lower-case letters, digits and _ (max 51)")
        where = f"{path.name}: rule {rid}"
        if rid in seen:
            raise UserError(f"{where}: id used twice")
        seen.add(rid)
        for key in ("severity", "reason", "message_zh", "message_en", "check"):
            if not entry.get(key):
                raise UserError(f"{where}: '{key}' is missing")
        if entry["severity"] not in SEVERITIES:
            raise UserError(f"{where}: severity must be reject or warn, not {entry['severity']!r}")
        if entry["check"] not in CHECKS:
            raise UserError(f"{where}: unknown check {entry['check']!r} (one of {', '.join(CHECKS)})")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise UserError(f"{where}: params must be a mapping")
        rule = Rule(rid, entry["severity"], str(entry["message_zh"]), str(entry["message_en"]), entry["check"],
                    params, bool(entry.get("enabled", True)), str(entry["reason"]))
        _check_params(rule, where)
        rules.append(rule)
    return Catalogue(str(doc.get("catalogue", path.stem)), str(doc.get("version", "0")), rules, path)


_REQUIRED_PARAMS = {
    "required": ("columns",), "required_if": ("column", "when"), "parse": ("type", "columns"),
    "in_set": ("column", "values"), "expression": ("fails_when", "detail"), "code_catalogue": ("list",),
    "principal_dx_prefix": (), "sex_dx": (), "duplicate": ("keys",), "registry": ("column", "table", "table_column"),
    "cost_percentile": ("value", "group", "percentile", "min_history"),
}


def _check_params(rule: Rule, where: str) -> None:
    for key in _REQUIRED_PARAMS[rule.check]:
        if key not in rule.params:
            raise UserError(f"{where}: check {rule.check} needs params.{key}")
    for key in ("columns", "keys"):
        for col in rule.params.get(key, []) if rule.check in ("required", "parse", "duplicate") else []:
            if col not in contract.CASE_COLUMNS:
                raise UserError(f"{where}: {col!r} is not a case column")
    if rule.check in ("required_if", "in_set", "registry") and rule.params["column"] not in contract.CASE_COLUMNS:
        raise UserError(f"{where}: {rule.params['column']!r} is not a case column")
    if rule.check == "parse" and rule.params["type"] not in ("int", "date", "money"):
        raise UserError(f"{where}: parse type must be int, date or money")
    if rule.check == "code_catalogue" and rule.params["list"] not in ("dx", "px"):
        raise UserError(f"{where}: list must be dx or px")
    if rule.check == "registry" and not re.match(r"^[a-z_]+\.[a-z_]+$", str(rule.params["table"])):
        raise UserError(f"{where}: table must be schema.table")
    for rng in rule.params.get("ranges", []) if rule.check == "principal_dx_prefix" else []:
        if not re.match(r"^[A-Z][0-9]{2}-[A-Z][0-9]{2}$", str(rng)):
            raise UserError(f"{where}: range {rng!r} must look like B95-B98")
    if rule.check == "cost_percentile":
        if not 0 < float(rule.params["percentile"]) < 1:
            raise UserError(f"{where}: percentile must be between 0 and 1")
        if rule.params["value"] not in _MONEY_COLS:
            raise UserError(f"{where}: value must be a money column ({', '.join(_MONEY_COLS)})")


# ---------------------------------------------------------------------------------------------- SQL

def _typed(col: str, kind: str, decimals: int) -> str:
    """SQL of a typed value from raw text (audit.parse_* in sql/30_validation.sql): NULL when empty or bad."""
    if kind == "int":
        return f"audit.parse_int(c.{col})"
    if kind == "date":
        return f"audit.parse_date(c.{col})"
    return f"audit.parse_money(c.{col}, {int(decimals)})"


def _q(value: Any) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _rule_sql(rule: Rule, ctx: dict[str, Any]) -> str | None:
    """SQL text expression over the prepared row `x`: NULL when the row passes. None = rule skipped."""
    p = rule.params
    if rule.check == "required":
        cols = p["columns"]
        # a list field of separators only ("|") holds no code: empty as well
        empty_list = {"dx_codes": " or cardinality(x.dx_list) = 0", "px_codes": " or cardinality(x.px_list) = 0"}
        parts = ", ".join(f"case when x.t_{c} is null{empty_list.get(c, '')} then {_q(c)} end" for c in cols)
        return f"nullif(concat_ws(', ', {parts}), '')"
    if rule.check == "required_if":
        return (f"case when ({fill(str(p['when']), p)}) and x.t_{p['column']} is null"
                f" then {_q(p['column'] + ' empty')} end")
    if rule.check == "parse":
        bad = []
        for c in p["columns"]:
            typed_ok = f"x.{c} is null" if c not in ("dx_codes", "px_codes") else "false"
            bad.append(f"case when x.t_{c} is not null and {typed_ok} then {_q(c + '=')} || x.t_{c} end")
        failed = f"nullif(concat_ws(', ', {', '.join(bad)}), '')"
        # params.when: the value matters only for some cases (age in days under one year, …)
        return f"case when ({fill(str(p['when']), p)}) then {failed} end" if "when" in p else failed
    if rule.check == "in_set":
        col = p["column"]
        values = ", ".join(_q(v) for v in p["values"])
        return f"case when x.t_{col} is not null and x.t_{col} not in ({values}) then {_q(col + '=')} || x.t_{col} end"
    if rule.check == "expression":
        return f"case when ({fill(str(p['fails_when']), p)}) then ({fill(str(p['detail']), p)})::text end"
    if rule.check == "code_catalogue":
        if not ctx["terminology"][p["list"]]:
            return None
        return f"x.unknown_{p['list']}"
    if rule.check == "principal_dx_prefix":
        conds = [f"left(x.principal_dx, 3) between {_q(r[:3])} and {_q(r[4:])}" for r in p.get("ranges", [])]
        conds += [f"x.principal_dx like {_q(str(pre).replace('%', '') + '%')}" for pre in p.get("prefixes", [])]
        if not conds:
            return None
        return f"case when {' or '.join(conds)} then x.principal_dx end"
    if rule.check == "sex_dx":
        prefix_conds = []
        for sex, prefixes in (p.get("prefixes") or {}).items():
            for pre in prefixes:
                prefix_conds.append(f"(x.principal_dx like {_q(str(pre) + '%')} and x.sex <> {int(sex)})")
        conds = ["(x.dx_sex is not null and x.sex in (1, 2) and x.sex <> x.dx_sex)", *prefix_conds]
        return (f"case when {' or '.join(conds)} then x.principal_dx || ' with sex ' || x.sex end")
    if rule.check == "duplicate":
        return "case when x.dup_first is not null then 'first at row ' || x.dup_first end"
    if rule.check == "registry":
        if not ctx["registry"]:
            return None
        return f"case when x.t_{p['column']} is not null and not x.in_registry then x.t_{p['column']} end"
    if rule.check == "cost_percentile":
        if not ctx["cost_ref"]:
            return None
        return (f"case when x.{p['value']} > x.cost_limit then "
                f"x.{p['value']}::text || ' > ' || round(x.cost_limit, 2) || ' (' || x.cost_group || ')' end")
    raise AssertionError(rule.check)


def _flags_sql(cat: Catalogue, batch_id: int, active: list[tuple[Rule, str]], ctx: dict[str, Any]) -> list[str]:
    """Statements building audit.rule_flags for the batch.

    Two steps so that every raw value is parsed once and all the work runs in parallel workers:
    audit.case_typed holds the typed row (parsing is most of the cost), then the rule expressions
    read its columns. Lookups are regular (unlogged) tables: temp tables would keep the joins out of
    the parallel workers.
    """
    decimals = _money_decimals(cat)
    b = int(batch_id)
    typed = [f"nullif(btrim(c.{col}), '') as t_{col}" for col in contract.CASE_COLUMNS]
    typed += [f"{_typed(col, 'int', decimals)} as {col}" for col in _INT_COLS]
    typed += [f"{_typed(col, 'date', decimals)} as {col}" for col in _DATE_COLS]
    typed += [f"{_typed(col, 'money', decimals)} as {col}" for col in _MONEY_COLS]
    # the same parser as the staging macro code_list()
    typed += ["audit.parse_code_list(c.dx_codes) as dx_list", "audit.parse_code_list(c.px_codes) as px_list"]
    typed_sql = ("create unlogged table audit.case_typed as\nselect c.source_row,\n       "
                 + ",\n       ".join(typed) + f"\nfrom raw.cases c where c.batch_id = {b}")
    # text columns under their own names for rule expressions (same values as t_*)
    text_alias = ", ".join(f"t.t_{col} as {col}" for col in _TEXT_COLS)

    dx_map = "ref.dx_variant_map" if ctx["variant_map"]["dx"] else "(select null::text as variant, null::text as code)"
    px_map = "ref.px_variant_map" if ctx["variant_map"]["px"] else "(select null::text as variant, null::text as code)"
    dx_cat = "ref.dx_catalogue" if ctx["terminology"]["dx"] else "(select null::text as code)"
    px_cat = "ref.px_catalogue" if ctx["terminology"]["px"] else "(select null::text as code)"
    dup_keys = next((r.params["keys"] for r, _ in active if r.check == "duplicate"), ["hospital_id", "case_id"])
    dup_cols = ", ".join(f"t_{k} as {k}" for k in dup_keys)
    dup_group = ", ".join(str(i) for i in range(1, len(dup_keys) + 1))
    dup_notnull = " and ".join(f"t_{k} is not null" for k in dup_keys)
    dup_join = " and ".join(f"d.{k} = t.t_{k}" for k in dup_keys)
    reg = next((r.params for r, _ in active if r.check == "registry"), None)
    reg_join = (f"left join (select distinct btrim({reg['table_column']}) as rid from {reg['table']}) reg "
                f"on reg.rid = t.t_{reg['column']}") if reg and ctx["registry"] else ""
    reg_col = "reg.rid is not null" if reg_join else "true"
    principal = "coalesce(pm.code, t.dx_list[1])"
    cost = next((r.params for r, _ in active if r.check == "cost_percentile"), None)
    cost_join, cost_cols = "", "null::numeric as cost_limit, null::text as cost_group"
    if cost and ctx["cost_ref"]:
        group = fill(str(cost["group"]), cost).replace("principal_dx", principal)
        cost_join = (f"left join audit.rule_cost_ref cr on cr.year = extract(year from t.settle_date)::integer - 1 "
                     f"and cr.grp = ({group})")
        cost_cols = "cr.p as cost_limit, cr.grp as cost_group"
    rule_cols = ",\n        ".join(f"{expr} as {rule.id}" for rule, expr in active)
    reject = [r.id for r, _ in active if r.severity == "reject"]
    warn = [r.id for r, _ in active if r.severity == "warn"]
    nn = lambda ids: f"num_nonnulls({', '.join(ids)}) > 0" if ids else "false"  # noqa: E731
    # codes known after the variant map: one hash join per code instead of map + catalogue
    known = f"""
        select 'dx'::text as kind, code from {dx_cat} k where code is not null
        union select 'dx', m.variant from {dx_map} m join {dx_cat} k on k.code = m.code
        union select 'px', code from {px_cat} k where code is not null
        union select 'px', m.variant from {px_map} m join {px_cat} k on k.code = m.code"""
    known_sql = f"create unlogged table audit.rule_known_codes as {known}"
    unknown_sql = """
create unlogged table audit.rule_unknown_codes as
select u.source_row,
       string_agg(u.code, '|') filter (where u.kind = 'dx') as unknown_dx,
       string_agg(u.code, '|') filter (where u.kind = 'px') as unknown_px
from (
    select t.source_row, 'dx' as kind, x.code from audit.case_typed t, unnest(t.dx_list) as x(code)
    union all
    select t.source_row, 'px', x.code from audit.case_typed t, unnest(t.px_list) as x(code)
) u
where not exists (select 1 from audit.rule_known_codes k where k.kind = u.kind and k.code = u.code)
group by u.source_row"""
    dup_sql = f"""
create unlogged table audit.rule_dup_keys as
select {dup_cols}, min(source_row) as first_row
from audit.case_typed where {dup_notnull}
group by {dup_group} having count(*) > 1"""
    flags_sql = f"""
create unlogged table audit.rule_flags with (autovacuum_enabled = false) as
select {b}::bigint as batch_id, z.*,
       {nn(reject)} as rejected,
       {nn(warn)} as warned
from (
    select x.source_row, x.hospital_id, x.case_id,
        {rule_cols}
    from (
        select t.*, {text_alias}, {principal} as principal_dx, k.unknown_dx, k.unknown_px,
               case when t.source_row > d.first_row then d.first_row end as dup_first, sx.sex as dx_sex,
               {reg_col} as in_registry, {cost_cols},
               {' + '.join(f't.{f}' for f in contract.FEE_COLUMNS)} as fee_sum
        from audit.case_typed t
        left join audit.rule_unknown_codes k on k.source_row = t.source_row
        left join (select distinct on (variant) variant, code from {dx_map} m order by variant, code) pm
               on pm.variant = t.dx_list[1]
        left join audit.rule_dup_keys d on {dup_join}
        left join audit.rule_sex_dx sx on sx.code = {principal}
        {reg_join}
        {cost_join}
    ) x
    offset 0
) z
"""
    # the typed rows as staging reads them (audit.cases_typed), with their reject flag: dbt then needs no second
    # parse of the batch, and no join to the quarantine. Blank text is null, as in the staging view's own parse
    # of a batch that was not validated.
    text = ("hospital_id", "case_id", "region_code", "insurance_type", "patient_id", "dept_code")
    same = ("sex", "age_years", "age_days", "birth_weight_g", "admit_date", "discharge_date", "los_days",
            "discharge_way", "ventilator_hours", "total_cost", "fund_paid", *contract.FEE_COLUMNS, "settle_date")
    staged = {**{c: f"t.t_{c}" for c in text}, **{c: f"t.{c}" for c in same},
              "batch_id": f"{b}::bigint", "source_row": "t.source_row",
              "dx_codes": "coalesce(t.dx_list, '{}')", "px_codes": "coalesce(t.px_list, '{}')",
              "personal_paid": "t.total_cost - t.fund_paid",
              "settle_year": "extract(year from t.settle_date)::integer",
              "settle_period": "to_char(t.settle_date, 'YYYY-MM')", "rejected": "f.rejected"}
    typed_copy = [f"delete from audit.cases_typed where batch_id = {b}",
                  f"delete from audit.cases_typed_batches where batch_id = {b}",
                  f"insert into audit.cases_typed ({', '.join(staged)}) select {', '.join(staged.values())}"
                  " from audit.case_typed t join audit.rule_flags f on f.source_row = t.source_row",
                  f"insert into audit.cases_typed_batches (batch_id, rows) select {b}, count(*) from audit.case_typed"]
    scratch = ("audit.case_typed", "audit.rule_known_codes", "audit.rule_unknown_codes", "audit.rule_dup_keys")
    # each step its own statement: a plan has one Gather, so a CTE with its own parallel part would
    # leave the main join serial
    # analyze only what the joins need: a full analyze of ~100 columns costs seconds per million rows
    analyze_typed = f"analyze audit.case_typed (source_row, {', '.join('t_' + k for k in dup_keys)}, dx_list)"
    return [*(f"drop table if exists {t}" for t in scratch), typed_sql, analyze_typed,
            known_sql, "analyze audit.rule_known_codes", unknown_sql, "analyze audit.rule_unknown_codes",
            dup_sql, "analyze audit.rule_dup_keys",
            "drop view if exists audit.rule_flags_docs", "drop table if exists audit.rule_flags", flags_sql,
            _docs_view_sql(active), *typed_copy, *(f"drop table {t}" for t in scratch)]


def _html_escaped(column: str) -> str:
    """SQL of `column` with the five characters HTML gives a meaning (& < > " ') as character references."""
    expr = column
    for char, ref in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        expr = f"replace({expr}, {_q(char)}, {_q(ref)})"
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


def _money_decimals(cat: Catalogue) -> int:
    for r in cat.rules:
        if r.enabled and r.check == "parse" and r.params.get("type") == "money":
            return int(r.params.get("max_decimals", 2))
    return 2


# ------------------------------------------------------------------------------------- preparation

def _table_has_rows(conn: psycopg.Connection, table: str) -> bool:
    if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
        return False
    return bool(conn.execute(sql.SQL("select exists (select 1 from {})").format(
        sql.SQL(".").join(map(sql.Identifier, table.split("."))))).fetchone()[0])


def ensure_terminology(url: str) -> None:
    """Import the ICD catalogues (grouper's importer) when ref.dx_catalogue is absent or empty."""
    with db.connect(url) as conn:
        present = _table_has_rows(conn, "ref.dx_catalogue") and _table_has_rows(conn, "ref.px_catalogue")
        as_role = not present and config.service_roles() and not db.may_init(conn)
    if present:
        return
    if as_role:     # ref is the admin's: a service role imports nothing
        raise UserError("the terminology is not imported (ref.dx_catalogue / ref.px_catalogue empty), and "
                        "DRGFLOW_SERVICE_ROLES is on: the services do not import reference data. Run "
                        "`drgflow terminology import` as the warehouse admin (deploy/airflow-init.sh does it)")
    terminology.import_terminology(url)


@functools.lru_cache(maxsize=4)
def _scheme_mdc_lists(folder: str, version: str) -> dict[str, tuple[str, ...]]:
    pack = load_pack(Path(folder), version)
    return {code: tuple(m.principal_dx) for code, m in pack.mdcs.items()}


def _prepare_sex_list(conn: psycopg.Connection, cat: Catalogue, ctx: dict[str, Any]) -> list[str]:
    """audit.rule_sex_dx(code, sex): principal diagnoses specific to one sex (scheme MDC lists)."""
    notes: list[str] = []
    conn.execute("create temp table v_sex_src (code text, sex integer) on commit drop")
    conn.execute("truncate audit.rule_sex_dx")
    rule = next((r for r in cat.rules if r.enabled and r.check == "sex_dx"), None)
    if rule is None or not rule.params.get("scheme_mdc"):
        return notes
    version, folder = config.default_scheme()
    try:
        lists = _scheme_mdc_lists(str(folder), version)
    except Exception as exc:  # noqa: BLE001 - a broken pack must not stop validation; say so
        notes.append(f"rule {rule.id}: scheme {version} MDC lists unreadable ({exc}); prefixes only")
        return notes
    # as the grouper does: a case of the other sex whose principal diagnosis another (not sex-specific) MDC
    # also lists groups there, so only codes held by the sex-specific lists alone are a conflict
    sex_mdcs = {str(m) for m in rule.params["scheme_mdc"]}
    elsewhere: set[str] = set()
    if rule.params.get("unless_in_other_mdc", True):
        elsewhere = {c for m, codes in lists.items() if m not in sex_mdcs and m not in "APYZ" for c in codes}
    with conn.cursor().copy("copy v_sex_src (code, sex) from stdin") as copy:
        for mdc, sex in rule.params["scheme_mdc"].items():
            for code in lists.get(str(mdc), ()):
                if code not in elsewhere:
                    copy.write_row((code, int(sex)))
    if ctx["variant_map"]["dx"]:
        conn.execute("insert into v_sex_src select m.code, s.sex from v_sex_src s join ref.dx_variant_map m"
                     " on m.variant = s.code")
    # a code listed for both sexes (e.g. Q56 indeterminate sex) is specific to neither
    conn.execute("insert into audit.rule_sex_dx select code, min(sex) from v_sex_src group by code"
                 " having count(distinct sex) = 1")
    conn.execute("analyze audit.rule_sex_dx")
    return notes


def _prepare_cost_ref(conn: psycopg.Connection, cat: Catalogue, batch_id: int, ctx: dict[str, Any]) -> bool:
    """audit.rule_cost_ref(year, grp, p): percentile of last year's accepted cases per group."""
    conn.execute("truncate audit.rule_cost_ref")
    rule = next((r for r in cat.rules if r.enabled and r.check == "cost_percentile"), None)
    if rule is None:
        return False
    p = rule.params
    decimals = _money_decimals(cat)
    years = [r[0] for r in conn.execute(
        "select distinct left(btrim(settle_date), 4)::integer - 1 from raw.cases"
        " where batch_id = %s and btrim(settle_date) ~ '^[0-9]{4}-'", (batch_id,)).fetchall()]
    if not years:
        return False
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
                       {_typed(str(p['value']), 'money', decimals)} as {p['value']}
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
    return bool(conn.execute("select exists (select 1 from audit.rule_cost_ref)").fetchone()[0])


# ------------------------------------------------------------------------------------ Great Expectations

def gx_output_dir(url: str) -> Path:
    """Where GX writes for this warehouse database: DRGFLOW_HOME/gx/<database>."""
    path = config.home() / "gx" / db.conn_params(url)["dbname"]
    path.mkdir(parents=True, exist_ok=True)
    return path


def sqlalchemy_url(url: str) -> str:
    """The warehouse URL in SQLAlchemy form (psycopg 3 driver), socket directories included."""
    from sqlalchemy.engine import URL  # noqa: PLC0415 - for GX only

    p = conninfo_to_dict(url)
    host = str(p.get("host") or "localhost")
    query = {}
    if host.startswith("/"):
        query["host"] = host
        if p.get("port"):
            query["port"] = str(p["port"])
        host_arg, port_arg = None, None
    else:
        host_arg, port_arg = host, int(p["port"]) if p.get("port") else None
    u = URL.create("postgresql+psycopg", username=p.get("user") or None, password=p.get("password") or None,
                   host=host_arg, port=port_arg, database=p.get("dbname"), query=query)
    return u.render_as_string(hide_password=False)


def _gx_context(url: str):
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only

    return gx.get_context(mode="file", context_root_dir=str(GX_DIR))


def build_suite(cat: Catalogue, active: list[tuple[Rule, str]], fingerprint: str = ""):
    """The GX suite of the catalogue: row count (a run parameter) plus one expect_column_values_to_be_null
    per active rule, severity critical (reject) or warning (warn)."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only
    from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: PLC0415 - GX imports slowly; validation only

    suite = gx.ExpectationSuite(name=SUITE_NAME, meta={"catalogue": cat.name, "catalogue_version": cat.version,
                                                       "fingerprint": fingerprint})
    suite.add_expectation(gx.expectations.ExpectTableRowCountToEqual(
        value={"$PARAMETER": "rows_read"},
        description="every row read from the file has its rule flags (nothing lost)"))
    for rule, _ in active:
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeNull(
            column=rule.id,
            severity=FailureSeverity.CRITICAL if rule.severity == "reject" else FailureSeverity.WARNING,
            description=f"[{rule.severity}] {rule.id}: {rule.message()}",
            meta={"rule": rule.id, "severity": rule.severity, "check": rule.check,
                  "catalogue_version": cat.version},
        ))
    return suite


def _checkpoint(context, cat: Catalogue, active: list[tuple[Rule, str]]):
    """The checkpoint validate_case_batch, rebuilt (suite, validation definition, checkpoint) only when
    the active rules changed: rewriting them for every batch cost more than validating a small one."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only
    from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: PLC0415 - GX imports slowly; validation only

    fingerprint = hashlib.sha256(json.dumps(
        [cat.version, [(r.id, r.severity, r.message(), r.check) for r, _ in active]],
        ensure_ascii=False).encode()).hexdigest()[:16]
    try:
        checkpoint = context.checkpoints.get("validate_case_batch")
        suite = context.suites.get(SUITE_NAME)
        if suite.meta.get("fingerprint") == fingerprint:
            return checkpoint
    except Exception:  # noqa: BLE001 - absent or unreadable: rebuilt below
        pass
    for store, name in ((context.checkpoints, "validate_case_batch"),
                        (context.validation_definitions, "case_rules_current_batch"),
                        (context.suites, SUITE_NAME)):
        with contextlib.suppress(Exception):
            store.delete(name)
    suite = context.suites.add(build_suite(cat, active, fingerprint))
    batch_def = (context.data_sources.get("drgflow_warehouse").get_asset("case_rule_flags")
                 .get_batch_definition("current_batch"))
    vd = context.validation_definitions.add(
        gx.ValidationDefinition(name="case_rules_current_batch", data=batch_def, suite=suite))
    return context.checkpoints.add(gx.Checkpoint(
        name="validate_case_batch", validation_definitions=[vd],
        actions=[UpdateDataDocsAction(name="update_data_docs", site_names=["local_site"])],
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["source_row"],
                       "partial_unexpected_count": 20},
    ))


def run_gx(url: str, cat: Catalogue, active: list[tuple[Rule, str]], batch_id: int, file_name: str,
           rows: int) -> tuple[bool, Path, dict[str, int]]:
    """Validate audit.rule_flags with GX and update Data Docs: (success, page path, unexpected count per rule)."""
    from great_expectations.core.run_identifier import RunIdentifier  # noqa: PLC0415 - GX imports slowly; validation only

    out = gx_output_dir(url)
    env = {"DRGFLOW_GX_OUTPUT": str(out), "DRGFLOW_GX_CONNECTION": sqlalchemy_url(url)}
    with config.environ(env):
        context = _gx_context(url)
        checkpoint = _checkpoint(context, cat, active)
        result = checkpoint.run(expectation_parameters={"rows_read": rows},
                                run_id=RunIdentifier(run_name=f"batch_{batch_id}_{_slug(file_name)}"))
        key, vres = next(iter(result.run_results.items()))
        urls = context.get_docs_sites_urls(resource_identifier=key, site_name="local_site")
    page = Path(urls[0]["site_url"].removeprefix("file://")) if urls else out / "data_docs" / "index.html"
    counts = {}
    for r in vres.results:
        column = r.expectation_config.kwargs.get("column")
        if column:
            counts[column] = int(r.result.get("unexpected_count") or 0)
        elif not r.success:
            raise UserError(f"batch {batch_id}: Great Expectations counted {r.result.get('observed_value')} "
                            f"flagged rows for {rows} read")
    return bool(result.success), page, counts


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


# ------------------------------------------------------------------------------------------ the gate

def validate_batch(result, url: str | None = None) -> None:
    """Validate one loaded cases batch; updates `result` (counts, a note with the Data Docs page)."""
    url = url or db.database_url()
    started = time.monotonic()
    cat = load_catalogue()
    ensure_terminology(url)     # a reference import: the admin's (a service role only checks)
    url = roles.service_url("loader", url)   # DRGFLOW_SERVICE_ROLES on: the rest runs as drgflow_loader
    batch_id = int(result.batch_id)
    with db.connect(url, autocommit=True) as lock_conn:
        # one validation at a time per warehouse: audit.rule_flags holds the batch being validated
        lock_conn.execute("select pg_advisory_lock(hashtext(%s))", (VALIDATE_LOCK,))
        try:
            summary = _validate_locked(url, cat, batch_id, started)
        finally:
            lock_conn.execute("select pg_advisory_unlock(hashtext(%s))", (VALIDATE_LOCK,))
    _vacuum_batch_tables(url, batch_id)
    result.rows_read = summary["rows_read"]
    result.rows_accepted = summary["rows_accepted"]
    result.rows_quarantined = summary["rows_quarantined"]
    result.rows_warned = summary["rows_warned"]
    result.notes.extend(summary["notes"])
    result.notes.append(f"Data Docs: {summary['data_docs']}")


def _vacuum_batch_tables(url: str, batch_id: int) -> None:
    """VACUUM ANALYZE audit.cases_typed and raw.cases when the batch is over a tenth of them (autovacuum's own
    threshold), now rather than when autovacuum comes round (up to a minute later): the grouping run that
    follows then plans with statistics (without them its latest-version join became a merge join, +30% on the
    bench) and does not share the cores with an autovacuum of a million rows. The loader owns audit.cases_typed
    so that it may; with DRGFLOW_SERVICE_ROLES on, raw.cases stays the admin's, and the loader's VACUUM of it is
    skipped with a warning (autovacuum then does it)."""
    with db.connect(url, autocommit=True) as conn:
        batch_rows = conn.execute("select rows from audit.cases_typed_batches where batch_id = %s",
                                  (batch_id,)).fetchone()
        for table in ("audit.cases_typed", "raw.cases"):
            table_rows = conn.execute("select greatest(reltuples, 0) from pg_class where oid = %s::regclass",
                                      (table,)).fetchone()[0]
            if batch_rows and batch_rows[0] > 0.1 * table_rows:
                conn.execute(f"vacuum (analyze) {table}")


def _validate_locked(url: str, cat: Catalogue, batch_id: int, started: float) -> dict[str, Any]:
    notes: list[str] = []
    with db.connect(url) as conn:
        batch = conn.execute("select file_name, file_kind from audit.batches where batch_id = %s",
                             (batch_id,)).fetchone()
        if batch is None:
            raise UserError(f"batch {batch_id}: no such batch in audit.batches")
        file_name, kind = batch
        if kind != "cases":
            raise UserError(f"batch {batch_id} ({file_name}) is a {kind} file; only case files are validated")
        ctx: dict[str, Any] = {
            "terminology": {k: _table_has_rows(conn, f"ref.{k}_catalogue") for k in ("dx", "px")},
            "variant_map": {k: _table_has_rows(conn, f"ref.{k}_variant_map") for k in ("dx", "px")},
        }
        with conn.transaction():
            # sorts and hashes over a million rows: keep them in memory rather than temp files
            conn.execute("set local work_mem = '256MB'")
            notes += _prepare_sex_list(conn, cat, ctx)
            ctx["cost_ref"] = _prepare_cost_ref(conn, cat, batch_id, ctx)
            reg = next((r for r in cat.rules if r.enabled and r.check == "registry"), None)
            ctx["registry"] = bool(reg) and _table_has_rows(conn, str(reg.params["table"]))
            active: list[tuple[Rule, str]] = []
            skipped: list[tuple[Rule, str]] = []
            for rule in cat.rules:
                if not rule.enabled:
                    continue
                expr = _rule_sql(rule, ctx)
                if expr is None:
                    skipped.append((rule, _skip_reason(rule)))
                else:
                    active.append((rule, expr))
            for rule, why in skipped:
                notes.append(f"rule {rule.id} skipped: {why}")
            for statement in _flags_sql(cat, batch_id, active, ctx):
                try:
                    with conn.transaction():      # a savepoint, so a failing rule can be looked for
                        conn.execute(statement)
                except psycopg.Error as exc:
                    problem = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)
                    culprit = _failing_rule(conn, cat, batch_id, active, ctx)
                    raise UserError(f"{cat.path.name}: rule {culprit or '?'}: its SQL failed on batch {batch_id}: "
                                    f"{problem.strip()} (check its fails_when / when / detail / group params)"
                                    ) from None
            rows_read = conn.execute("select count(*) from raw.cases where batch_id = %s", (batch_id,)).fetchone()[0]

    t_sql = time.monotonic()
    gx_success, page, gx_counts = run_gx(url, cat, active, batch_id, file_name, rows_read)
    t_gx = time.monotonic()

    with db.connect(url) as conn, conn.transaction():
        counts_sql = ", ".join(f"count({r.id})" for r, _ in active) or "0"
        row = conn.execute(f"select count(*), count(*) filter (where rejected), "
                           f"count(*) filter (where warned and not rejected), {counts_sql} from audit.rule_flags"
                           ).fetchone()
        flagged, quarantined, warned = row[0], row[1], row[2]
        per_rule = dict(zip([r.id for r, _ in active], row[3:])) if active else {}
        if flagged != rows_read:
            raise UserError(f"batch {batch_id} ({file_name}): {flagged} flagged rows for {rows_read} read")
        for rid, n in per_rule.items():
            if gx_counts.get(rid, n) != n:
                raise UserError(f"batch {batch_id}: rule {rid}: GX counted {gx_counts[rid]} failures, SQL {n}")
        # re-validating a batch replaces what an earlier validation of it wrote
        conn.execute("update audit.quarantine set resolved_at = null, resolved_by_batch = null"
                     " where resolved_by_batch = %s", (batch_id,))
        conn.execute("delete from audit.quarantine where batch_id = %s", (batch_id,))
        conn.execute("delete from audit.rule_results where batch_id = %s", (batch_id,))
        if active:
            values = ",\n".join(
                f"({_q(r.id)}, {_q(r.severity)}, {_q(r.message())}, f.{r.id})" for r, _ in active)
            conn.execute(f"""
                insert into audit.quarantine (batch_id, source_row, rule, hospital_id, case_id, severity,
                                              message, raw_record)
                select f.batch_id, f.source_row, v.rule, f.hospital_id, f.case_id, v.severity,
                       v.message || ': ' || v.detail, to_jsonb(c) - 'batch_id' - 'source_row'
                from audit.rule_flags f
                cross join lateral (values {values}) as v(rule, severity, message, detail)
                join raw.cases c on c.batch_id = f.batch_id and c.source_row = f.source_row
                where (f.rejected or f.warned) and v.detail is not null
            """)
        # a corrected resubmission (same hospital and case, later batch, accepted) resolves earlier entries
        conn.execute("""
            update audit.quarantine q set resolved_at = now(), resolved_by_batch = %(b)s
            from (select distinct hospital_id, case_id from audit.rule_flags
                  where not rejected and hospital_id is not null and case_id is not null) a
            where q.hospital_id = a.hospital_id and q.case_id = a.case_id
              and q.batch_id < %(b)s and q.resolved_at is null
        """, {"b": batch_id})
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.rule_results (batch_id, rule, severity, status, rows_checked, rows_failed,"
                " note, catalogue_version) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(batch_id, r.id, r.severity, "checked", rows_read, per_rule[r.id], None, cat.version)
                 for r, _ in active]
                + [(batch_id, r.id, r.severity, "skipped", 0, 0, why, cat.version) for r, why in skipped],
            )
        accepted = rows_read - quarantined
        conn.execute(
            "update audit.batches set rows_read = %s, rows_accepted = %s, rows_quarantined = %s, rows_warned = %s,"
            " status = 'validated', validated_at = now() where batch_id = %s",
            (rows_read, accepted, quarantined, warned, batch_id))
        seconds = round(time.monotonic() - started, 2)
        notes.append(f"validated {rows_read} rows in {seconds:.1f}s (rule SQL {t_sql - started:.1f}s, "
                     f"Great Expectations {t_gx - t_sql:.1f}s, quarantine {time.monotonic() - t_gx:.1f}s)")
        conn.execute(
            "insert into audit.validation_runs (batch_id, catalogue_version, gx_success, data_docs, seconds)"
            " values (%s, %s, %s, %s, %s) on conflict (batch_id) do update set catalogue_version ="
            " excluded.catalogue_version, gx_success = excluded.gx_success, data_docs = excluded.data_docs,"
            " seconds = excluded.seconds, validated_at = now()",
            (batch_id, cat.version, gx_success, str(page), seconds))
    return {"rows_read": rows_read, "rows_accepted": accepted, "rows_quarantined": quarantined,
            "rows_warned": warned, "notes": notes, "data_docs": page, "gx_success": gx_success}


def _failing_rule(conn: psycopg.Connection, cat: Catalogue, batch_id: int, active: list[tuple[Rule, str]],
                  ctx: dict[str, Any]) -> str | None:
    """The first rule whose flag statement alone does not plan (syntax, unknown column, type errors)."""
    for rule, expr in active:
        flags = next(st for st in _flags_sql(cat, batch_id, [(rule, expr)], ctx)
                     if st.startswith("\ncreate unlogged table audit.rule_flags"))
        try:
            with conn.transaction():
                conn.execute("explain " + flags)
        except psycopg.Error:
            return rule.id
    return None


def _skip_reason(rule: Rule) -> str:
    if rule.check == "code_catalogue":
        return f"ref.{rule.params['list']}_catalogue is empty (terminology not imported)"
    if rule.check == "registry":
        return f"{rule.params['table']} is empty (no hospital registry loaded)"
    if rule.check == "cost_percentile":
        return (f"no group with at least {rule.params['min_history']} accepted cases in the year before")
    return "nothing to check"


def validate_pending(url: str | None = None, batch_id: int | None = None, revalidate: bool = False) -> list:
    """Validate loaded case batches not validated yet (or one batch; revalidate=True redoes validated ones)."""
    url = url or db.database_url()
    db.init_warehouse(url)
    with db.connect(url) as conn:
        if batch_id is not None:
            rows = conn.execute("select batch_id, file_path, rows_read, status from audit.batches"
                                " where batch_id = %s and file_kind = 'cases'", (batch_id,)).fetchall()
            if not rows:
                raise UserError(f"batch {batch_id}: no cases batch with that id in audit.batches")
        else:
            rows = conn.execute("select batch_id, file_path, rows_read, status from audit.batches"
                                " where file_kind = 'cases' and (status <> 'validated' or %s)"
                                " order by batch_id", (revalidate,)).fetchall()
    results = []
    for bid, path, rows_read, _status in rows:
        res = LoadResult(path=path or "", kind="cases", batch_id=bid, rows_read=rows_read)
        validate_batch(res, url)
        results.append(res)
    return results
