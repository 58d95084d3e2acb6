"""Scheme import: a pack (the published text layout of 1.x, the JSON layout of 2.0) -> versioned ref.scheme_* tables.

The import checks the pack and refuses an inconsistent one (counts, every ADRG has a rule, every
DRG belongs to an ADRG, exclusion tables partition the principal diagnoses, MCC/CC tables exist)
with a message naming the file and the item. Codes not in the terminology catalogues are reported,
not refused (a pack may use codes a catalogue edition dropped).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from drgflow import config, db
from drgflow.errors import UserError
from drgflow.schemes.pack import Pack, is_dx
from drgflow.schemes.pack_json import is_json_pack, read_pack
from drgflow.schemes.rules import compile_pack, supplementary

TABLES = {  # ref table -> columns after scheme_version, in compile_pack's row order
    "scheme_mdc": ("mdc", "name", "mdc_order", "principal_px_or", "age_years_max", "sex", "min_regions", "any_dx",
                   "without_list"),
    "scheme_mdc_dx": ("mdc", "code", "region"),
    "scheme_adrg": ("adrg", "mdc", "name", "kind", "rule_text", "age_days_min", "age_days_max",
                    "weight_min", "weight_max"),
    "scheme_adrg_cond": ("adrg", "alt_no", "cond_no", "cond_kind", "list_no"),
    "scheme_adrg_code": ("adrg", "list_no", "code"),
    "scheme_drg": ("drg", "adrg", "name", "split_digit", "cc_rule", "drg_order"),
    "scheme_cc": ("code", "cc_level", "excl_table"),
    "scheme_cce": ("excl_table", "code"),
    "scheme_ss_valid": ("code",),
    "scheme_dx_invalid": ("code",),
    "scheme_px_non_or": ("code",),
}
ROW_KEYS = {"scheme_mdc": "mdc", "scheme_mdc_dx": "mdc_dx", "scheme_adrg": "adrg",
            "scheme_adrg_cond": "adrg_cond", "scheme_adrg_code": "adrg_code", "scheme_drg": "drg",
            "scheme_cc": "cc", "scheme_cce": "cce", "scheme_ss_valid": "ss_valid",
            "scheme_dx_invalid": "dx_invalid", "scheme_px_non_or": "px_non_or"}
#: where each item comes from, per layout, for the import's messages
TEXT_FILES = {"mdc": "1_MDC.txt", "adrg": "2_ADRG.txt / 4_ADRG_DETAIL.txt", "drg": "3_DRG.txt", "mdc_list": "MDC/MDC{}",
              "mcc": "5_MCC.txt", "cc": "6_CC.txt", "cce": "7_CCE.txt", "or": "SS_VALID.txt"}
JSON_FILES = {"mdc": "generated/mdc_rules.json", "adrg": "generated/adrg_rules.json", "drg": "versions/DRG.dat",
              "mdc_list": "generated/mdc_rules.json MDC{}", "mcc": "generated/mcc_codes.json",
              "cc": "generated/cc_codes.json", "cce": "generated/cce_codes.json", "or": "generated/ss_invalid.json"}


def pack_sha256(path: Path) -> str:
    """sha256 over the pack folder's files (relative paths and contents, in path order)."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def check_pack(pack: Pack, rules: dict) -> list[str]:
    """Consistency problems of a pack (empty = consistent). Each names the file and the item."""
    problems = []
    f = JSON_FILES if is_json_pack(pack.path) else TEXT_FILES
    expect = rules.get("expect", {})
    got = {"mdc": len(pack.mdcs), "adrg": len(pack.adrgs), "drg": len(pack.drgs)}
    for k, n in expect.items():
        if got.get(k) != n:
            problems.append(f"{f[k]}: {got.get(k)} {k.upper()} parsed, the scheme has {n}")
    dup = [c for c, n in Counter(c for c, _ in pack.drgs).items() if n > 1]
    if dup:
        problems.append(f"{f['drg']}: DRG listed twice: {', '.join(dup[:10])}")
    for drg, _ in pack.drgs:
        if drg[:3] not in pack.adrgs:
            problems.append(f"{f['drg']}: DRG {drg} has no ADRG {drg[:3]} in {f['adrg']}")
    with_drg = {d[:3] for d, _ in pack.drgs}
    for code, adrg in sorted(pack.adrgs.items()):
        if code not in with_drg:
            problems.append(f"{f['drg']}: ADRG {code} ({adrg.name}) has no DRG")
        if adrg.mdc not in pack.mdcs:
            problems.append(f"{f['adrg']}: ADRG {code} belongs to MDC{adrg.mdc}, which {f['mdc']} lacks")
    for code, mdc in sorted(pack.mdcs.items()):
        entry = rules["mdc_entry"].get(code, {})
        # an MDC without a list is entered by its operating-room procedure (MDCA) or by its conditions (2.0 MDCP)
        if not mdc.principal_dx and not (entry.get("principal_px_or") or entry.get("age_years_max") is not None
                                         or entry.get("sex")):
            problems.append(f"{f['mdc_list'].format(code)}: no principal-diagnosis list and no supplementary "
                            f"entry rule")
    owner: dict[str, int] = {}
    for table, codes in sorted(pack.cce.items()):
        for c in codes:
            if c in owner and owner[c] != table:
                problems.append(f"{f['cce']}: {c} is in 表 7-{owner[c]} and 表 7-{table} "
                                f"(exclusion tables must partition the principal diagnoses)")
            owner.setdefault(c, table)
    for kind, table in (("mcc", pack.mcc), ("cc", pack.cc)):
        if not table:
            problems.append(f"{f[kind]}: no codes parsed")
        missing = sorted({t for t in table.values() if t is not None and t not in pack.cce})
        if missing:
            problems.append(f"{f[kind]}: refers to exclusion table(s) {', '.join(map(str, missing[:10]))} "
                            f"missing from {f['cce']}")
    both = sorted(set(pack.mcc) & set(pack.cc))
    if both and f is JSON_FILES:
        problems.append(f"{f['mcc']} and {f['cc']}: {len(both)} code(s) are both MCC and CC, e.g. {both[0]}")
    if not pack.ss_valid and not pack.px_non_or:
        problems.append(f"{f['or']}: no operating-room procedures parsed")
    return problems


def exclusion_partition(pack: Pack) -> dict:
    """Whether the exclusion tables partition the principal diagnoses (reported, not assumed): the principal
    diagnoses of the MDC lists that no table holds, and those that two tables hold."""
    owner: Counter = Counter(c for codes in pack.cce.values() for c in dict.fromkeys(codes))
    principals = {c for m in pack.mdcs.values() for c in m.principal_dx}
    return {"principal_dx": len(principals), "in_no_table": len(principals - set(owner)),
            "in_two_tables": sum(1 for n in owner.values() if n > 1),
            "examples_in_no_table": sorted(principals - set(owner))[:10]}


def _adrg_codes(adrg) -> list[str]:
    """Every code an ADRG's rule lists (text sections, or the JSON rule's sections and procedure groups)."""
    codes = [c for s in adrg.sections for c in s.codes]
    rule = adrg.rule or {}
    codes += [c for listed in (rule.get("sections") or {}).values() for c in listed]
    codes += [c for group in (rule.get("requiredProcedureGroups") or []) for c in group]
    return codes


def unknown_codes(pack: Pack, url: str) -> dict:
    """Codes of the pack that are not in ref.dx_catalogue / ref.px_catalogue (if loaded)."""
    dx, px = set(), set()
    for m in pack.mdcs.values():
        dx.update(m.principal_dx)
    for a in pack.adrgs.values():
        for c in _adrg_codes(a):
            (dx if is_dx(c) else px).add(c)
    dx.update(pack.mcc, pack.cc, *pack.cce.values(), pack.dx_invalid)
    px.update(pack.ss_valid, pack.px_non_or)
    out = {}
    with db.connect(url) as conn:
        for kind, codes in (("dx", dx), ("px", px)):
            n = conn.execute(f"select count(*) from ref.{kind}_catalogue").fetchone()[0]
            if n == 0:
                out[kind] = {"checked": False}
                continue
            known = {r[0] for r in conn.execute(f"select code from ref.{kind}_catalogue where code = any(%s)",
                                                 (list(codes),))}
            missing = sorted(codes - known)
            out[kind] = {"checked": True, "codes": len(codes), "not_in_catalogue": len(missing),
                         "examples": missing[:20]}
    return out


def import_scheme(path: Path | str, version: str, url: str | None = None, force: bool = False) -> dict:
    """Parse, check and load a pack as scheme `version` (replaces that version only).

    Skips the load when the same files are already imported as that version (unless force).
    Returns a report dict (counts, unknown codes, skipped).
    """
    path = Path(path).resolve()
    if not is_json_pack(path) and not (path / "4_ADRG_DETAIL.txt").is_file():
        raise UserError(f"{path} is not a grouping pack (neither 4_ADRG_DETAIL.txt nor generated/adrg_rules.json); "
                        f"see ../shared/schemes/README.md")
    url = url or db.database_url()
    db.init_warehouse(url)
    rules = supplementary(version)
    # the fingerprint covers the pack files and the reviewed rules, so editing either re-imports
    sha = hashlib.sha256((pack_sha256(path) + json.dumps(rules, sort_keys=True, default=str)).encode()).hexdigest()
    with db.connect(url) as conn:
        row = conn.execute("select source_sha256 from ref.scheme_version where scheme_version = %s",
                           (version,)).fetchone()
    if row and row[0] == sha and not force:
        return {"scheme_version": version, "skipped": True, "source": str(path)}
    pack = read_pack(path, version)
    problems = check_pack(pack, rules)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise UserError(f"refusing scheme pack {path} as {version}: {len(problems)} problem(s):\n  {shown}{more}")
    rows = compile_pack(pack, rules)
    report = {"scheme_version": version, "source": str(path), "skipped": False,
              "mdc": len(pack.mdcs), "adrg": len(pack.adrgs), "drg": len(pack.drgs),
              "mcc": len(pack.mcc), "cc": len(pack.cc), "exclusion_tables": len(pack.cce),
              "ss_valid": len(pack.ss_valid), "px_non_or": len(pack.px_non_or), "dx_invalid": len(pack.dx_invalid),
              "qy_enabled": bool(rules.get("qy_enabled")),
              "exclusion_partition": exclusion_partition(pack),
              # warned, not refused: 1.0P prints some tables without members (nothing is excluded there)
              "empty_exclusion_tables": sorted(t for t, codes in pack.cce.items() if not codes),
              "unknown_codes": unknown_codes(pack, url)}
    with db.transaction(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.scheme'))")
        conn.execute("delete from ref.scheme_version where scheme_version = %s", (version,))  # cascades
        conn.execute(
            "insert into ref.scheme_version (scheme_version, source_path, qy_enabled, n_mdc, n_adrg, n_drg,"
            " source_sha256, report, non_or_listed) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (version, str(path), bool(rules.get("qy_enabled")), len(pack.mdcs), len(pack.adrgs),
             len(pack.drgs), sha, json.dumps(report, ensure_ascii=False), bool(pack.px_non_or)))
        for table, cols in TABLES.items():
            with conn.cursor().copy(f"copy ref.{table} (scheme_version, {', '.join(cols)}) from stdin") as copy:
                for r in rows[ROW_KEYS[table]]:
                    copy.write_row((version, *r))
        for table in TABLES:
            conn.execute(f"analyze ref.{table}")
        conn.execute("select ref.refresh_grouping_code_maps(%s)", (version,))
    return report


def scheme_imported(version: str, url: str | None = None) -> bool:
    """Is scheme `version` in ref.scheme_version?"""
    url = url or db.database_url()
    db.init_warehouse(url)
    with db.connect(url) as conn:
        return conn.execute("select 1 from ref.scheme_version where scheme_version = %s",
                            (version,)).fetchone() is not None


def scheme_path(version: str) -> Path:
    """Folder of a known scheme version: SAMPLE-DRG or DRGFLOW_SHARED/schemes/<version>."""
    if version == "SAMPLE-DRG":
        return config.sample_scheme_dir()
    folder = config.official_scheme_dir(version)
    if folder is None:
        raise UserError(f"scheme {version} is not imported and not found under DRGFLOW_SHARED/schemes; "
                        f"import it with `drgflow scheme import PATH --version {version}`")
    return folder
