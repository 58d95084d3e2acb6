"""code_catalogue: every code of params.list (dx | px) must be in ref.<list>_catalogue after
ref.<list>_variant_map (ICD-10 / ICD-9-CM-3 医保版 2.0). Skipped while the catalogue is not imported."""
from __future__ import annotations

from drgflow.errors import UserError
from drgflow.validation import checks

PARAMS = ("list",)


def check_params(params: dict, where: str) -> None:
    """The list is dx or px."""
    if params["list"] not in ("dx", "px"):
        raise UserError(f"{where}: list must be dx or px")


def flag_sql(rule, ctx: dict) -> str | None:
    """The unknown codes of the list, '|'-separated; None while the catalogue is empty."""
    kind = rule.params["list"]
    return f"x.unknown_{kind}" if ctx["terminology"][kind] else None


def skip_reason(rule) -> str:
    """The catalogue the rule needs is empty."""
    return f"ref.{rule.params['list']}_catalogue is empty (terminology not imported)"


def row_part(rules: list, ctx: dict) -> checks.RowPart:
    """The codes known after the variant map (one hash join per code instead of map + catalogue), and per row
    the codes not among them."""
    def source(kind: str, table: str, empty: str) -> str:
        return f"ref.{kind}_{table}" if ctx["terminology" if table == "catalogue" else "variant_map"][kind] else empty

    no_map = "(select null::text as variant, null::text as code)"
    no_cat = "(select null::text as code)"
    dx_map, px_map = source("dx", "variant_map", no_map), source("px", "variant_map", no_map)
    dx_cat, px_cat = source("dx", "catalogue", no_cat), source("px", "catalogue", no_cat)
    known = f"""create unlogged table audit.rule_known_codes as
        select 'dx'::text as kind, code from {dx_cat} k where code is not null
        union select 'dx', m.variant from {dx_map} m join {dx_cat} k on k.code = m.code
        union select 'px', code from {px_cat} k where code is not null
        union select 'px', m.variant from {px_map} m join {px_cat} k on k.code = m.code"""
    unknown = """
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
    return checks.RowPart(
        statements=[known, "analyze audit.rule_known_codes", unknown, "analyze audit.rule_unknown_codes"],
        scratch=["audit.rule_known_codes", "audit.rule_unknown_codes"],
        join="left join audit.rule_unknown_codes k on k.source_row = t.source_row",
        columns=["k.unknown_dx", "k.unknown_px"], analyze=["dx_list"])
