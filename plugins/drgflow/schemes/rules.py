"""Compile a parsed pack plus its reviewed supplementary rules into normalised rule rows.

An ADRG rule becomes a disjunction of alternatives (alt_no); each alternative is a conjunction of
conditions (cond_no). A condition is one of

  pdx      the principal diagnosis is in code list list_no
  ppx      the principal procedure (first procedure) is in code list list_no
  any_dx   some diagnosis is in code list list_no
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
LIST_CONDS = ("pdx", "ppx", "any_dx", "any_px")
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
                         entry.get("age_years_max"), entry.get("sex"), entry.get("min_regions")))
        seen: dict[str, str | None] = {}
        for s in mdc.sections:
            region = s.title.split("|")[0] if "|" in s.title else None
            for c in s.codes:
                # a code listed under two body regions counts for the last one (reference grouper)
                seen[c] = region
        mdc_dx_rows += [(code, c, r) for c, r in seen.items()]
    adrg_rows, cond_rows, list_rows = [], [], []
    for code, adrg in sorted(pack.adrgs.items()):
        comp = compile_adrg(adrg)
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
            "ss_valid": [(c,) for c in sorted(pack.ss_valid)]}
