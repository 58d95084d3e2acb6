"""sex_dx: the principal diagnosis is specific to one sex: the scheme's MDC lists (params.scheme_mdc: {MDC: sex};
a code listed for both sexes is specific to neither; with unless_in_other_mdc a code another MDC also lists is
no conflict) plus params.prefixes {sex: [code prefixes]}."""
from __future__ import annotations

import functools
from pathlib import Path

from drgflow import config
from drgflow.schemes.pack import load_pack
from drgflow.validation import checks
from drgflow.validation.sqltext import literal

PARAMS = ()


def check_params(params: dict, where: str) -> None:
    """Nothing beyond PARAMS."""


@functools.lru_cache(maxsize=4)
def _scheme_mdc_lists(folder: str, version: str) -> dict[str, tuple[str, ...]]:
    pack = load_pack(Path(folder), version)
    return {code: tuple(m.principal_dx) for code, m in pack.mdcs.items()}


def prepare(conn, rule, cat, batch_id: int, ctx: dict) -> list[str]:
    """audit.rule_sex_dx(code, sex): principal diagnoses specific to one sex (scheme MDC lists)."""
    notes: list[str] = []
    conn.execute("create temp table v_sex_src (code text, sex integer) on commit drop")
    conn.execute("truncate audit.rule_sex_dx")
    if not rule.params.get("scheme_mdc"):
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


def flag_sql(rule, ctx: dict) -> str:
    """'<principal> with sex <n>' where they conflict."""
    prefix_conds = []
    for sex, prefixes in (rule.params.get("prefixes") or {}).items():
        for pre in prefixes:
            prefix_conds.append(f"(x.principal_dx like {literal(str(pre) + '%')} and x.sex <> {int(sex)})")
    conds = ["(x.dx_sex is not null and x.sex in (1, 2) and x.sex <> x.dx_sex)", *prefix_conds]
    return f"case when {' or '.join(conds)} then x.principal_dx || ' with sex ' || x.sex end"


def row_part(rules: list, ctx: dict) -> checks.RowPart:
    """dx_sex: the sex the principal diagnosis is specific to (audit.rule_sex_dx)."""
    return checks.RowPart(join="left join audit.rule_sex_dx sx on sx.code = {principal}",
                          columns=["sx.sex as dx_sex"])
