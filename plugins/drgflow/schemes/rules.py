"""Compile a parsed pack plus its reviewed supplementary rules into normalised rule rows.

An ADRG rule becomes a disjunction of alternatives (alt_no); each alternative is a conjunction of
conditions (cond_no). A condition is one of

  pdx      the principal diagnosis is in code list list_no
  ppx      the principal procedure (first procedure) is in code list list_no
  any_dx   some diagnosis is in code list list_no
  sdx      some secondary (other) diagnosis is in code list list_no            (其他诊断, 2.0)
  any_px   some procedure is in code list list_no
  ppx_or   the principal procedure is an operating-room procedure (SS_VALID)   (全部手术)
  no_ppx_or  it is not (no surgery)                                            (且无手术)

plus the per-ADRG age/weight bounds of the supplementary rules. The section titles of the
published text layout map onto these forms as in drg-dip-reference.md §2.4.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drgflow.errors import UserError
from drgflow.schemes.pack import Adrg, Pack

RULES_FILE = Path(__file__).with_name("entry_rules.yml")
LIST_CONDS = ("pdx", "ppx", "any_dx", "sdx", "any_px")
#: JSON-layout section names (without their number) -> condition kind (drg-dip-reference §2.4: "主要" the first
#: code only, "其他" the secondary codes only, otherwise any code)
JSON_SECTION_KINDS = {"主要诊断": "pdx", "其他诊断": "sdx", "诊断": "any_dx",
                      "主要手术或操作": "ppx", "手术或操作": "any_px"}
_DX_KINDS = ("pdx", "sdx", "any_dx")
_TABLE_LIST = re.compile(r"^手术(?:表)?\s*(\d+)：?$")


@dataclass
class Compiled:
    """The rule rows of one ADRG: conds[(alt_no, cond_no, kind, list_no)], lists{list_no: codes}."""
    conds: list[tuple[int, int, str, int | None]] = field(default_factory=list)
    lists: dict[int, list[str]] = field(default_factory=dict)
    text: str = ""


def supplementary(version: str) -> dict[str, Any]:
    """The reviewed supplementary rules of a scheme version (entry_rules.yml)."""
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    if version not in data:
        known = ", ".join(sorted(data))
        raise UserError(f"no reviewed supplementary rules for scheme version {version!r} in "
                        f"{RULES_FILE} (known: {known}); add a section for it before importing")
    rules = dict(data[version])
    for key in ("mdc_entry", "adrg_extra", "drg_split"):
        rules[key] = rules.get(key) or {}
    return rules


def _is_title(title: str, *words: str) -> bool:
    return any(w in title for w in words)


def compile_adrg(adrg: Adrg) -> Compiled:
    """Turn an ADRG's sections into conditions; raises UserError on a title it cannot read."""
    out = Compiled()
    next_list = 1
    header_alts: list[list[int]] = []       # "主要诊断+手术表 1+手术表 2" alternatives (table numbers)
    table_lists: dict[int, int] = {}         # table number -> list_no
    pdx_list: int | None = None
    simple: list[tuple[int, str, int | None]] = []   # (alternative, kind, list_no)
    alt = 1
    alt_markers = 0
    texts: list[str] = []
    seen_table_codes: set[str] = set()
    pair_first = False
    for s in adrg.sections:
        title = s.title.strip()
        if title.replace(" ", "").startswith(("包含以下主要诊断+", "或包含以下主要诊断+")):
            header_alts.append([int(n) for n in re.findall(r"手术表\s*(\d+)", title)])
            texts.append(title)
            continue
        if title == "主要诊断：" and header_alts:
            pdx_list = next_list
            out.lists[next_list] = list(s.codes)
            next_list += 1
            continue
        tm = _TABLE_LIST.match(title.replace(" ", ""))
        if tm and header_alts:
            # a code listed in two tables counts for the first one only (as the reference grouper)
            codes = [c for c in s.codes if c not in seen_table_codes]
            seen_table_codes.update(codes)
            table_lists[int(tm.group(1))] = next_list
            out.lists[next_list] = codes
            next_list += 1
            continue
        if not s.codes and re.match(r"^入组条件.{1,3}：?$", title):
            # "入组条件一：… 入组条件二：…" (1.0P AH1): alternatives
            alt_markers += 1
            alt = alt_markers
            texts.append(title)
            continue
        if not s.codes and _is_title(title, "且无手术"):
            simple.append((alt, "no_ppx_or", None))
            texts.append(title)
            continue
        if not s.codes and _is_title(title, "全部手术"):
            simple.append((alt, "ppx_or", None))
            texts.append(title)
            continue
        if not s.codes:
            raise UserError(f"ADRG {adrg.code}: section {title!r} has no codes and is not a known rule form")
        if title.startswith(("同时包含", "手术同时包含")):
            kind = "any_px"
            pair_first = True
        elif title == "和" and pair_first:
            kind = "any_px"
        elif _is_title(title, "主要诊断或其他诊断", "包含以下诊断"):
            kind = "any_dx"
        elif _is_title(title, "主要诊断"):
            kind = "pdx"
        elif _is_title(title, "主要手术", "手术或操作"):
            kind = "ppx"
        elif title.startswith("手术包含"):
            kind = "any_px"
        else:
            raise UserError(f"ADRG {adrg.code}: cannot read section title {title!r} "
                            f"(first code {s.codes[0]}); extend drgflow.schemes.rules")
        out.lists[next_list] = list(s.codes)
        simple.append((alt, kind, next_list))
        texts.append(f"{title}({len(s.codes)})")
        next_list += 1
    if header_alts:
        if pdx_list is None:
            raise UserError(f"ADRG {adrg.code}: procedure-table rule without a 主要诊断 list")
        for alt_no, tables in enumerate(header_alts, start=1):
            conds = [("pdx", pdx_list)]
            for t in tables:
                if t not in table_lists:
                    raise UserError(f"ADRG {adrg.code}: rule names 手术表 {t} but the pack has no such table")
                conds.append(("any_px", table_lists[t]))
            out.conds += [(alt_no, len(out.conds) + i, k, n) for i, (k, n) in enumerate(conds, start=1)]
        out.text = " / ".join(texts)
        return out
    if adrg.kind == "surgical" and not any(k in ("ppx", "any_px", "ppx_or") for _, k, _ in simple):
        # a surgical ADRG defined by diagnoses only (1.1 YC1) also needs an operating-room procedure
        simple.append((1, "ppx_or", None))
        texts.append("存在手术室手术")
    out.conds = [(a, i, k, n) for i, (a, k, n) in enumerate(simple, start=1)]
    out.text = " 且 ".join(texts)
    return out


def _section_kind(adrg: str, name: str) -> str:
    base = re.sub(r"\s*\d+$", "", name.strip())
    if base not in JSON_SECTION_KINDS:
        raise UserError(f"ADRG {adrg}: cannot read section name {name!r}; extend drgflow.schemes.rules")
    return JSON_SECTION_KINDS[base]


def _dnf(adrg: str, rpn: list) -> list[list[str]]:
    """The postfix formula as alternatives (OR) of section names (AND): "&&" multiplies out, "||" joins."""
    stack: list[list[list[str]]] = []
    for item in rpn:
        if isinstance(item, dict) and item.get("type") == "SECTION":
            stack.append([[item["name"]]])
            continue
        if item not in ("&&", "||") or len(stack) < 2:
            raise UserError(f"ADRG {adrg}: cannot read the formula's postfix item {item!r}")
        right, left = stack.pop(), stack.pop()
        stack.append(left + right if item == "||" else [a + b for a in left for b in right])
    if len(stack) != 1:
        raise UserError(f"ADRG {adrg}: the formula's postfix form does not reduce to one expression")
    return [list(dict.fromkeys(alt)) for alt in stack[0]]


def _procedure_codes(adrg: Adrg) -> list[str]:
    """Every code of the ADRG's procedure sections (for a rule that refers to another ADRG's procedures)."""
    rule = adrg.rule or {}
    return [c for name, codes in (rule.get("sections") or {}).items()
            if _section_kind(adrg.code, name) in ("ppx", "any_px") for c in codes]


def compile_json_rule(adrg: Adrg, adrgs: dict[str, Adrg]) -> Compiled:
    """Turn a JSON-layout rule (../shared/schemes/CHS-DRG-2.0/README.md) into conditions.

    - a formula (`_logicRPN`): its alternatives, each a conjunction of its sections;
    - requiredProcedureGroups: a procedure (any position) from every group;
    - referencedADRGs: a procedure from each referenced ADRG's procedure lists when requiredReferencedADRGs
      names them all ("同时包含 CB4 和 CB5 的手术或操作"), else a procedure from any of them (WJ1);
    - anyProcedureRequired: an operating-room procedure (全部手术); zeroProceduresRequired: none (且无手术);
    - sections without a formula: OR inside a category (diagnoses, procedures), AND between the categories
      (drg-dip-reference §2.4).
    """
    rule = adrg.rule or {}
    sections: dict[str, list[str]] = rule.get("sections") or {}
    out = Compiled()
    list_of: dict[str, int] = {}

    def list_no(key: str, codes: list[str]) -> int:
        if key not in list_of:
            list_of[key] = len(out.lists) + 1
            out.lists[list_of[key]] = list(dict.fromkeys(codes))
        return list_of[key]

    alternatives: list[list[tuple[str, int | None]]] = []
    if rule.get("_logicRPN"):
        for alt in _dnf(adrg.code, rule["_logicRPN"]):
            missing = [n for n in alt if n not in sections]
            if missing:
                raise UserError(f"ADRG {adrg.code}: the formula names section(s) {missing} the rule does not have")
            alternatives.append([(_section_kind(adrg.code, n), list_no(n, sections[n])) for n in alt])
        out.text = str(rule.get("logic") or "").strip()
    elif rule.get("requiredProcedureGroups"):
        groups = rule["requiredProcedureGroups"]
        alternatives.append([("any_px", list_no(f"group {i}", g)) for i, g in enumerate(groups, start=1)])
        out.text = "同时包含以下手术或操作: " + " 和 ".join(f"表{i}" for i in range(1, len(groups) + 1))
    elif rule.get("referencedADRGs"):
        refs = list(rule["referencedADRGs"])
        unknown = [r for r in refs if r not in adrgs]
        if unknown:
            raise UserError(f"ADRG {adrg.code}: refers to ADRG(s) {unknown} that the pack does not have")
        if set(rule.get("requiredReferencedADRGs") or []) >= set(refs):
            alternatives.append([("any_px", list_no(r, _procedure_codes(adrgs[r]))) for r in refs])
            out.text = "同时包含 " + " 和 ".join(refs) + " 的手术或操作"
        else:
            codes = [c for r in refs for c in _procedure_codes(adrgs[r])]
            alternatives.append([("any_px", list_no("+".join(refs), codes))])
            out.text = "包含 " + " 或 ".join(refs) + " 的手术或操作"
    elif rule.get("anyProcedureRequired"):
        alternatives.append([("ppx_or", None)])
        out.text = "全部手术"
    elif rule.get("zeroProceduresRequired"):
        alternatives.append([("no_ppx_or", None)])
        out.text = "无手术"
    elif sections:
        by_category: dict[str, list[tuple[str, int]]] = {}
        names: dict[str, list[str]] = {}
        for name, codes in sections.items():
            kind = _section_kind(adrg.code, name)
            category = "dx" if kind in _DX_KINDS else "px"
            by_category.setdefault(category, []).append((kind, list_no(name, codes)))
            names.setdefault(category, []).append(name)
        alternatives = [[]]
        for options in by_category.values():
            alternatives = [alt + [opt] for alt in alternatives for opt in options]
        out.text = " + ".join(" 或 ".join(category_names) for category_names in names.values())
    else:
        raise UserError(f"ADRG {adrg.code} ({adrg.name}) has no rule: no sections, formula or structured key")
    if adrg.kind == "surgical" and not any(k in ("ppx", "any_px", "ppx_or") for alt in alternatives for k, _ in alt):
        # as in the text layout: a surgical ADRG defined by diagnoses only also needs an operating-room procedure
        alternatives = [alt + [("ppx_or", None)] for alt in alternatives]
        out.text += " 且存在手术室手术"
    cond_no = 0
    for alt_no, alt in enumerate(alternatives, start=1):
        for kind, n in alt:
            cond_no += 1
            out.conds.append((alt_no, cond_no, kind, n))
    return out


def compile_rule(adrg: Adrg, adrgs: dict[str, Adrg]) -> Compiled:
    """An ADRG's conditions, from its JSON-layout rule when the pack has one, else from its text sections."""
    return compile_json_rule(adrg, adrgs) if adrg.rule is not None else compile_adrg(adrg)


def split_rule(drg: str, overrides: dict[str, str]) -> str:
    """CC condition of a DRG in its ADRG's split: mcc | mcc_or_cc | any (drg-dip-reference §2.5, binding).

    …1 (伴严重并发症或合并症) needs a non-excluded MCC in every split (1/3/5 and 1/5: in 1/5 a CC alone
    goes to …5); …3 takes an MCC or a CC; …5 and …9 take anything. `overrides` (entry_rules.yml
    drg_split) replaces the rule for named DRGs of a local scheme.
    """
    if drg in overrides:
        return overrides[drg]
    d = drg[3]
    if d == "1":
        return "mcc"
    if d == "3":
        return "mcc_or_cc"
    return "any"


def compile_pack(pack: Pack, rules: dict[str, Any]) -> dict[str, list[tuple]]:
    """All rows for the ref.scheme_* tables of one version (without the version column)."""
    order = {m: i for i, m in enumerate(rules["mdc_order"], start=1)}
    missing = sorted(set(pack.mdcs) - set(order))
    if missing:
        raise UserError(f"MDC {', '.join(missing)} of the pack is not in mdc_order of the supplementary rules")
    mdc_rows, mdc_dx_rows = [], []
    for code, mdc in sorted(pack.mdcs.items()):
        entry = rules["mdc_entry"].get(code, {})
        mdc_rows.append((code, mdc.name, order[code], bool(entry.get("principal_px_or")),
                         entry.get("age_years_max"), entry.get("sex"), entry.get("min_regions"),
                         bool(entry.get("any_dx")), not mdc.principal_dx and not entry.get("principal_px_or")))
        seen: dict[str, str | None] = {}
        for s in mdc.sections:
            region = s.title.split("|")[0] if "|" in s.title else None
            for c in s.codes:
                # a code listed under two body regions counts for the last one (reference grouper)
                seen[c] = region
        mdc_dx_rows += [(code, c, r) for c, r in seen.items()]
    adrg_rows, cond_rows, list_rows = [], [], []
    for code, adrg in sorted(pack.adrgs.items()):
        comp = compile_rule(adrg, pack.adrgs)
        if not comp.conds:
            raise UserError(f"ADRG {code} ({adrg.name}) has no rule in 4_ADRG_DETAIL.txt or ADRG/")
        extra = rules["adrg_extra"].get(code, {})
        adrg_rows.append((code, adrg.mdc, adrg.name, adrg.kind, comp.text, extra.get("age_days_min"),
                          extra.get("age_days_max"), extra.get("weight_min"), extra.get("weight_max")))
        cond_rows += [(code, a, c, k, n) for a, c, k, n in comp.conds]
        list_rows += [(code, n, c) for n, codes in comp.lists.items() for c in dict.fromkeys(codes)]
    drg_rows = [(drg, drg[:3], name, drg[3], split_rule(drg, rules["drg_split"]), i)
                for i, (drg, name) in enumerate(pack.drgs, start=1)]
    cc_rows = ([(c, "mcc", t) for c, t in pack.mcc.items()]
               + [(c, "cc", t) for c, t in pack.cc.items() if c not in pack.mcc])
    cce_rows = [(t, c) for t, codes in pack.cce.items() for c in codes]
    return {"mdc": mdc_rows, "mdc_dx": mdc_dx_rows, "adrg": adrg_rows, "adrg_cond": cond_rows,
            "adrg_code": list_rows, "drg": drg_rows, "cc": cc_rows, "cce": cce_rows,
            "ss_valid": [(c,) for c in sorted(pack.ss_valid)],
            "dx_invalid": [(c,) for c in sorted(pack.dx_invalid)],
            "px_non_or": [(c,) for c in sorted(pack.px_non_or)]}
