"""Grouping entry point: make sure the scheme and terminology are in ref, then run the dbt models
(intermediate/grouping → marts.case_grouping) for one scheme version."""
from __future__ import annotations

from drgflow import db
from drgflow.errors import UserError

MODELS = "+case_grouping"


def ensure_reference(url: str, scheme_version: str) -> None:
    """Import the terminology when ref is empty and the scheme version when it is not imported yet."""
    from drgflow.schemes.importer import import_scheme, scheme_imported, scheme_path
    from drgflow.schemes.terminology import import_terminology

    db.init_warehouse(url)
    with db.connect(url) as conn:
        empty = conn.execute("select not exists (select 1 from ref.dx_variant_map)").fetchone()[0]
    if empty:
        import_terminology(url)
    if not scheme_imported(scheme_version, url):
        import_scheme(scheme_path(scheme_version), scheme_version, url)


def group_cases(url: str | None, scheme_version: str) -> dict[str, int]:
    """Group every accepted case (staging.stg_raw__cases) with `scheme_version` into marts.case_grouping,
    replacing that version's rows only. Returns counts by group_status (grouped / qy / ungroupable)."""
    from drgflow.transform import run_dbt

    if not scheme_version:
        raise UserError("no scheme version given")
    url = url or db.database_url()
    ensure_reference(url, scheme_version)
    run_dbt(["run", "--select", MODELS], url=url, vars={"scheme_version": scheme_version})
    with db.connect(url) as conn:
        rows = conn.execute("select group_status, count(*) from marts.case_grouping where scheme_version = %s "
                            "group by 1", (scheme_version,)).fetchall()
    counts = {"grouped": 0, "qy": 0, "ungroupable": 0}
    counts.update({status: n for status, n in rows})
    return counts
