"""The DIP catalogue of a settlement year in the warehouse: import a published file (dip-spec §3.3) into
ref.dip_catalogue_published, or list what is there. The local build (§3.4) and marts.dip_catalogue are dbt models
(drgflow.dip.runs)."""
from __future__ import annotations

from pathlib import Path

from drgflow import audit, db
from drgflow.dip.catalogue_file import LAYOUT, CatalogueFile, normalise, read_catalogue
from drgflow.errors import UserError

GROUP_COLUMNS = ("settlement_year", "code", "published_code", "group_type", "dx_key", "main_px", "related_px",
                 "class", "score", "mean_cost", "n", "cv", "mean_los", "discuss_flag", "upper_limit_reduction",
                 "data_year", "source_row")
EXTRA_COLUMNS = ("settlement_year", "published_code", "score", "mean_cost", "n", "remark", "source_row")


def terminology_codes(url: str) -> tuple[set[str], set[str]]:
    """The 医保版 diagnosis and procedure codes of ref.dx_catalogue / ref.px_catalogue, normalised (§2.1)."""
    with db.connect(url) as conn:
        dx = {normalise(r[0]) for r in conn.execute("select code from ref.dx_catalogue")}
        px = {normalise(r[0]) for r in conn.execute("select code from ref.px_catalogue")}
    if not dx or not px:
        raise UserError("the ICD-10 / ICD-9-CM-3 医保版 catalogues are not loaded: run `drgflow terminology import` "
                        "first (the catalogue's codes are checked against them)")
    return dx, px


def import_catalogue(path: Path, year: int, url: str | None = None, layout: str = LAYOUT) -> dict:
    """Check `path` and make it the catalogue of settlement year `year` (replacing an earlier import of that
    year). Returns counts by group type, the reference mean and the file's warnings."""
    if layout != LAYOUT:
        raise UserError(f"catalogue layout {layout!r} is not supported (version 1 reads {LAYOUT!r}, dip-spec §3.3)")
    url = url or db.database_url()
    db.init_warehouse(url)
    dx, px = terminology_codes(url)
    found: CatalogueFile = read_catalogue(Path(path), dx, px)
    with db.transaction(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.dip_catalogue'))")
        conn.execute("delete from ref.dip_catalogue_imports where settlement_year = %s", (year,))
        conn.execute("insert into ref.dip_catalogue_imports (settlement_year, layout, source_file, file_sha256,"
                     " reference_mean, groups) values (%s, %s, %s, %s, %s, %s)",
                     (year, layout, str(Path(path).resolve()), found.sha256, found.reference_mean, len(found.groups)))
        with conn.cursor().copy(f"copy ref.dip_catalogue_published ({', '.join(GROUP_COLUMNS)}) from stdin") as cp:
            for g in found.groups:
                cp.write_row([year, *(g[c] for c in GROUP_COLUMNS[1:])])
        with conn.cursor().copy(f"copy ref.dip_catalogue_extra ({', '.join(EXTRA_COLUMNS)}) from stdin") as cp:
            for e in found.extra:
                cp.write_row([year, *(e[c] for c in EXTRA_COLUMNS[1:])])
        counts = {"core": sum(g["group_type"] == "core" for g in found.groups),
                  "comprehensive": sum(g["group_type"] == "comprehensive" for g in found.groups)}
        audit.record(conn, "dip_catalogue_import", Path(path).name,
                     {"groups": len(found.groups), **counts, "extra": len(found.extra)},
                     details={"settlement_year": year, "sha256": found.sha256, "layout": layout,
                              "reference_mean": str(found.reference_mean), "warnings": len(found.warnings)})
    return {"settlement_year": year, "groups": len(found.groups), **counts, "extra": len(found.extra),
            "reference_mean": found.reference_mean, "warnings": found.warnings, "sha256": found.sha256}
