"""Structural parser for a grouping pack in the JSON layout of CHS-DRG 2.0 (../shared/schemes/CHS-DRG-2.0/README.md).

The JSON layout states each ADRG's rule as named sections plus, where the scheme writes one, an explicit
formula (`logic`, compiled to postfix in `_logicRPN`) or one of a few structured keys; the MDC lists, the
MCC/CC lists with their exclusion table, the exclusion tables inverted (principal diagnosis -> table), the
diagnoses that may not be principal (zd_invalid) and the procedures that do not count as surgery (ss_invalid).
This module reads the files into a `Pack` and keeps each ADRG's rule as written; drgflow.schemes.rules turns
the rules into conditions. A missing or malformed file is a UserError naming the file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drgflow.errors import UserError
from drgflow.schemes.pack import Adrg, Mdc, Pack, Section, load_pack

#: files of the layout, relative to the pack folder
ADRG_RULES = "generated/adrg_rules.json"
MDC_RULES = "generated/mdc_rules.json"
FILES = (ADRG_RULES, MDC_RULES, "generated/mcc_codes.json", "generated/cc_codes.json",
         "generated/cce_codes.json", "generated/zd_invalid.json", "generated/ss_invalid.json",
         "versions/DRG.dat")


def is_json_pack(path: Path) -> bool:
    """Is the folder a pack in the JSON layout?"""
    return (Path(path) / ADRG_RULES).is_file()


def _json(path: Path, name: str) -> Any:
    f = path / name
    if not f.is_file():
        raise UserError(f"{f}: missing (a JSON-layout pack has {', '.join(FILES)})")
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{f}: not valid UTF-8 JSON ({e})") from None


def _table_map(path: Path, name: str) -> dict[str, int]:
    """code -> exclusion table number, from an object of code -> number as text."""
    data = _json(path, name)
    if not isinstance(data, dict):
        raise UserError(f"{path / name}: expected an object of code -> exclusion table number")
    out = {}
    for code, table in data.items():
        try:
            out[code] = int(table)
        except (TypeError, ValueError):
            raise UserError(f"{path / name}: code {code}: exclusion table {table!r} is not a number") from None
    return out


def _code_set(path: Path, name: str) -> set[str]:
    data = _json(path, name)
    if not isinstance(data, dict):
        raise UserError(f"{path / name}: expected an object of code -> true")
    return {code for code, flag in data.items() if flag is True}


def _tab_list(path: Path, name: str) -> list[tuple[str, str]]:
    """(code, name) of each line `CODE<TAB or space>NAME` (DRG.dat, ADRG.dat)."""
    f = path / name
    if not f.is_file():
        raise UserError(f"{f}: missing")
    out = []
    for n, line in enumerate(f.read_text(encoding="utf-8").replace("\ufeff", "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        if len(parts) != 2:
            raise UserError(f"{f}, line {n}: expected CODE and NAME, got {line!r}")
        out.append((parts[0], parts[1].strip()))
    return out


def load_json_pack(path: Path, version: str | None = None) -> Pack:
    """Parse the JSON-layout pack folder at `path` (version: the folder name unless given)."""
    path = Path(path)
    mdcs: dict[str, Mdc] = {}
    for n, entry in enumerate(_json(path, MDC_RULES), start=1):
        code = str(entry.get("code", ""))
        if not code.startswith("MDC") or len(code) != 4:
            raise UserError(f"{path / MDC_RULES}, entry {n}: code {code!r} is not MDC<letter>")
        letter = code[3]
        sections = []
        if entry.get("identifyingDiagnoses"):
            sections.append(Section("主诊表", list(entry["identifyingDiagnoses"])))
        # MDCZ: one list per body region; compile_pack reads the region from the title before "|"
        for region, codes in (entry.get("mdczCategories") or {}).items():
            sections.append(Section(f"{region}|包含以下主要诊断", list(codes)))
        mdcs[letter] = Mdc(letter, str(entry.get("name", "")), sections)
    adrgs: dict[str, Adrg] = {}
    for n, entry in enumerate(_json(path, ADRG_RULES), start=1):
        code = str(entry.get("code", ""))
        rule = entry.get("rule")
        if len(code) != 3 or not isinstance(rule, dict):
            raise UserError(f"{path / ADRG_RULES}, entry {n}: an ADRG needs a 3-character code and a rule object")
        if rule.get("_logicCompileError"):
            raise UserError(f"{path / ADRG_RULES}: ADRG {code}: the pack's formula did not compile "
                            f"({rule['_logicCompileError']})")
        adrgs[code] = Adrg(code, str(entry.get("name", "")), code[0], rule=rule)
    drgs = _tab_list(path, "versions/DRG.dat")
    return Pack(
        version=version or path.name, path=path, mdcs=mdcs, adrgs=adrgs, drgs=drgs,
        mcc=_table_map(path, "generated/mcc_codes.json"), cc=_table_map(path, "generated/cc_codes.json"),
        cce=_invert(_table_map(path, "generated/cce_codes.json")), ss_valid=set(), names={},
        dx_invalid=_code_set(path, "generated/zd_invalid.json"),
        px_non_or=_code_set(path, "generated/ss_invalid.json"),
        strategy=(_json(path, "config.json").get("strategy") or {}) if (path / "config.json").is_file() else {},
    )


def read_pack(path: Path, version: str | None = None) -> Pack:
    """The pack at `path` in whichever layout it is: the 2.0 JSON layout, else the 1.x text layout."""
    return load_json_pack(path, version) if is_json_pack(path) else load_pack(path, version)


def _invert(principal_to_table: dict[str, int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for code, table in principal_to_table.items():
        out.setdefault(table, []).append(code)
    return out
