"""Scheme import: a pack in the published text layout -> versioned ref.scheme_* tables.

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
from drgflow.schemes.pack import Pack, is_dx, load_pack
from drgflow.schemes.rules import compile_pack, supplementary

TABLES = {  # ref table -> columns after scheme_version, in compile_pack's row order
    "scheme_mdc": ("mdc", "name", "mdc_order", "principal_px_or", "age_years_max", "sex", "min_regions"),
    "scheme_mdc_dx": ("mdc", "code", "region"),
    "scheme_adrg": ("adrg", "mdc", "name", "kind", "rule_text", "age_days_min", "age_days_max",
                    "weight_min", "weight_max"),
    "scheme_adrg_cond": ("adrg", "alt_no", "cond_no", "cond_kind", "list_no"),
    "scheme_adrg_code": ("adrg", "list_no", "code"),
    "scheme_drg": ("drg", "adrg", "name", "split_digit", "cc_rule", "drg_order"),
    "scheme_cc": ("code", "cc_level", "excl_table"),
    "scheme_cce": ("excl_table", "code"),
    "scheme_ss_valid": ("code",),
}
ROW_KEYS = {"scheme_mdc": "mdc", "scheme_mdc_dx": "mdc_dx", "scheme_adrg": "adrg",
            "scheme_adrg_cond": "adrg_cond", "scheme_adrg_code": "adrg_code", "scheme_drg": "drg",
            "scheme_cc": "cc", "scheme_cce": "cce", "scheme_ss_valid": "ss_valid"}


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
    expect = rules.get("expect", {})
    got = {"mdc": len(pack.mdcs), "adrg": len(pack.adrgs), "drg": len(pack.drgs)}
    where = {"mdc": "1_MDC.txt", "adrg": "2_ADRG.txt / 4_ADRG_DETAIL.txt", "drg": "3_DRG.txt"}
    for k, n in expect.items():
        if got.get(k) != n:
            problems.append(f"{where[k]}: {got.get(k)} {k.upper()} parsed, the scheme has {n}")
    dup = [c for c, n in Counter(c for c, _ in pack.drgs).items() if n > 1]
    if dup:
        problems.append(f"3_DRG.txt: DRG listed twice: {', '.join(dup[:10])}")
    for drg, _ in pack.drgs:
        if drg[:3] not in pack.adrgs:
            problems.append(f"3_DRG.txt: DRG {drg} has no ADRG {drg[:3]} in 4_ADRG_DETAIL.txt")
    with_drg = {d[:3] for d, _ in pack.drgs}
    for code, adrg in sorted(pack.adrgs.items()):
        if code not in with_drg:
            problems.append(f"3_DRG.txt: ADRG {code} ({adrg.name}) has no DRG")
        if adrg.mdc not in pack.mdcs:
            problems.append(f"4_ADRG_DETAIL.txt: ADRG {code} belongs to MDC{adrg.mdc}, which 1_MDC.txt lacks")
    for code, mdc in sorted(pack.mdcs.items()):
        if not mdc.principal_dx and not rules["mdc_entry"].get(code, {}).get("principal_px_or"):
            problems.append(f"MDC/MDC{code}: no principal-diagnosis list and no supplementary entry rule")
    owner: dict[str, int] = {}
    for table, codes in sorted(pack.cce.items()):
        for c in codes:
            if c in owner and owner[c] != table:
                problems.append(f"7_CCE.txt: {c} is in 表 7-{owner[c]} and 表 7-{table} "
                                f"(exclusion tables must partition the principal diagnoses)")
            owner.setdefault(c, table)
    for name, table in (("5_MCC.txt", pack.mcc), ("6_CC.txt", pack.cc)):
        if not table:
            problems.append(f"{name}: no codes parsed")
        missing = sorted({t for t in table.values() if t is not None and t not in pack.cce})
        if missing:
            problems.append(f"{name}: refers to 表 7-{', 7-'.join(map(str, missing[:10]))} missing from 7_CCE.txt")
    if not pack.ss_valid:
        problems.append("SS_VALID.txt: no operating-room procedures parsed")
    return problems


def unknown_codes(pack: Pack, url: str) -> dict:
    """Codes of the pack that are not in ref.dx_catalogue / ref.px_catalogue (if loaded)."""
    dx, px = set(), set()
    for m in pack.mdcs.values():
        dx.update(m.principal_dx)
    for a in pack.adrgs.values():
        for s in a.sections:
            for c in s.codes:
                (dx if is_dx(c) else px).add(c)
    dx.update(pack.mcc, pack.cc, *pack.cce.values())
    px.update(pack.ss_valid)
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
    if not (path / "4_ADRG_DETAIL.txt").is_file():
        raise UserError(f"{path} is not a grouping pack (no 4_ADRG_DETAIL.txt); see ../shared/schemes/README.md")
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
    pack = load_pack(path, version)
    problems = check_pack(pack, rules)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise UserError(f"refusing scheme pack {path} as {version}: {len(problems)} problem(s):\n  {shown}{more}")
    rows = compile_pack(pack, rules)
    report = {"scheme_version": version, "source": str(path), "skipped": False,
              "mdc": len(pack.mdcs), "adrg": len(pack.adrgs), "drg": len(pack.drgs),
              "mcc": len(pack.mcc), "cc": len(pack.cc), "exclusion_tables": len(pack.cce),
              "ss_valid": len(pack.ss_valid), "qy_enabled": bool(rules.get("qy_enabled")),
              # warned, not refused: 1.0P prints some tables without members (nothing is excluded there)
              "empty_exclusion_tables": sorted(t for t, codes in pack.cce.items() if not codes),
              "unknown_codes": unknown_codes(pack, url)}
    with db.transaction(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.scheme'))")
        conn.execute("delete from ref.scheme_version where scheme_version = %s", (version,))  # cascades
        conn.execute(
            "insert into ref.scheme_version (scheme_version, source_path, qy_enabled, n_mdc, n_adrg, n_drg,"
            " source_sha256, report) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (version, str(path), bool(rules.get("qy_enabled")), len(pack.mdcs), len(pack.adrgs),
             len(pack.drgs), sha, json.dumps(report, ensure_ascii=False)))
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
