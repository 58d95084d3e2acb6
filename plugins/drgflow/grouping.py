"""Grouping entry point: make sure the scheme and terminology are in ref, then run the dbt models
(intermediate/grouping → marts.case_grouping) for one scheme version."""
from __future__ import annotations

from drgflow import config, db, runs
from drgflow.errors import UserError
from drgflow.schemes.importer import import_scheme, scheme_imported, scheme_path
from drgflow.schemes.terminology import import_terminology
from drgflow.transform import run_dbt


def ensure_reference(url: str, scheme_version: str) -> None:
    """Import the terminology when ref is empty and the scheme version when it is not imported yet.

    With DRGFLOW_SERVICE_ROLES on, a service role imports nothing (ref is the admin's): missing reference
    data is a UserError naming the admin's command."""
    db.init_warehouse(url)
    with db.connect(url) as conn:
        empty = conn.execute("select not exists (select 1 from ref.dx_variant_map)").fetchone()[0]
        as_role = config.service_roles() and not db.may_init(conn)
    imported = scheme_imported(scheme_version, url)
    if as_role and (empty or not imported):
        missing = ["the terminology (ref.dx_variant_map is empty)"] if empty else []
        commands = ["`drgflow terminology import`"] if empty else []
        if not imported:
            missing.append(f"scheme {scheme_version}")
            folder = config.sample_scheme_dir() if scheme_version == "SAMPLE-DRG" else \
                config.official_scheme_dir(scheme_version)
            commands.append(f"`drgflow scheme import {folder or 'PATH'} --version {scheme_version}`")
        raise UserError(f"{' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} not imported into ref, "
                        "and DRGFLOW_SERVICE_ROLES is on: the services import no reference data. Run "
                        f"{' and '.join(commands)} as the warehouse admin (deploy/airflow-init.sh imports the "
                        "terminology and the configured schemes)")
    if empty:
        import_terminology(url)
    if not imported:
        import_scheme(scheme_path(scheme_version), scheme_version, url)


def group_cases(url: str | None, scheme_version: str) -> dict[str, int]:
    """Group every accepted case (staging.stg_raw__cases) with `scheme_version` into marts.case_grouping,
    replacing that version's rows only. Returns counts by group_status (grouped / qy / ungroupable)."""
    if not scheme_version:
        raise UserError("no scheme version given")
    url = url or db.database_url()
    ensure_reference(url, scheme_version)
    run_dbt(["run", "--selector", runs.GROUPING], url=url, vars={"scheme_version": scheme_version})
    with db.connect(url) as conn:
        rows = conn.execute("select group_status, count(*) from marts.case_grouping where scheme_version = %s "
                            "group by 1", (scheme_version,)).fetchall()
    counts = {"grouped": 0, "qy": 0, "ungroupable": 0}
    counts.update({status: n for status, n in rows})
    return counts
