"""Terminology import: the diagnosis / procedure catalogues and variant maps into ref.

Reads DRGFLOW_SHARED/terminology (ICD-10 医保版 2.0, ICD-9-CM-3 医保版 2.0) when present, else the
small sample terminology shipped with SAMPLE-DRG. Each file is "code name" (catalogue) or
"variant code" (map), one per line.
"""
from __future__ import annotations

from pathlib import Path

from drgflow import config, db
from drgflow.errors import UserError

SAMPLE_DIR = config.PACKAGE_DIR / "sample_scheme" / "terminology"
# table -> (file in the shared folder, file in the sample folder)
FILES = {
    "dx_catalogue": ("icd10_yb2.0.txt", "icd10_sample.txt"),
    "px_catalogue": ("icd9cm3_yb2.0.txt", "icd9cm3_sample.txt"),
    "dx_variant_map": ("icd10_yb2.0_variant_map.txt", "icd10_sample_variant_map.txt"),
    "px_variant_map": ("icd9cm3_yb2.0_variant_map.txt", "icd9cm3_sample_variant_map.txt"),
}


def terminology_dir() -> tuple[Path, bool]:
    """(folder, is_sample): the shared terminology when present, else the sample's."""
    shared = config.shared_dir()
    if shared is not None and (shared / "terminology").is_dir():
        return shared / "terminology", False
    return SAMPLE_DIR, True


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(first field, rest) per non-empty line; later duplicates of a key are dropped."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        key, _, value = text.partition(" ")
        if not value.strip():
            raise UserError(f"{path}: line {n} has a code but no second field: {text!r}")
        out.setdefault(key, value.strip())
    return list(out.items())


def import_terminology(url: str | None = None, folder: Path | None = None) -> dict:
    """Load the catalogues and variant maps into ref.* (replaces their content; idempotent).

    Returns {"source": folder, "sample": bool, table: rows, ...}.
    """
    url = url or db.database_url()
    db.init_warehouse(url)
    if folder is None:
        folder, sample = terminology_dir()
    else:
        sample = folder.resolve() == SAMPLE_DIR.resolve()
    result: dict = {"source": str(folder), "sample": sample}
    rows: dict[str, list[tuple[str, str]]] = {}
    for table, (shared_name, sample_name) in FILES.items():
        path = folder / (sample_name if sample else shared_name)
        if not path.is_file():
            raise UserError(f"terminology file missing: {path}")
        rows[table] = read_pairs(path)
    # Every catalogue code maps to itself, so lookups need no fallback. A catalogue code is never
    # remapped: the shared maps send ~245 catalogue codes elsewhere (e.g. I65.200x013 -> I67.200x003,
    # which moves the case from MDCB to MDCF); the reference grouper groups catalogue codes as coded.
    # The map as the file writes it is kept beside (listed_code): DIP applies the file's map as it is, once, by
    # exact match (dip-spec §12), so there a listed catalogue code does move.
    for kind in ("dx", "px"):
        listed = dict(rows[f"{kind}_variant_map"])
        mapped = dict(listed)
        for code, _ in rows[f"{kind}_catalogue"]:
            mapped[code] = code
        rows[f"{kind}_variant_map"] = [(variant, code, listed.get(variant)) for variant, code in mapped.items()]
    with db.transaction(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.terminology'))")
        for table, data in rows.items():
            conn.execute(f"truncate ref.{table}")
            cols = "(code, name)" if table.endswith("catalogue") else "(variant, code, listed_code)"
            with conn.cursor().copy(f"copy ref.{table} {cols} from stdin") as copy:
                for pair in data:
                    copy.write_row(pair)
            conn.execute(f"analyze ref.{table}")
            result[table] = len(data)
        conn.execute("select ref.refresh_grouping_code_maps()")   # the maps of every scheme version
    return result
