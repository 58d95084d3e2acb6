"""The admin's reference import: terminology and the configured scheme versions (services import nothing)."""
from __future__ import annotations

import csv

from drgflow import config, db
from drgflow.schemes.importer import import_scheme, scheme_path
from drgflow.schemes.terminology import import_terminology


def configured_schemes() -> list[str]:
    """Scheme versions the services group with: the environment's (DRGFLOW_SCHEME / default_scheme) and every
    version a per-year row of the policy seed names (seeds/policy_parameters.csv)."""
    versions = [config.default_scheme()[0]]
    seed = config.dbt_project_dir() / "seeds" / "policy_parameters.csv"
    if seed.is_file():
        with seed.open(encoding="utf-8", newline="") as handle:
            versions += [v.strip() for row in csv.DictReader(handle) if (v := row.get("scheme_version") or "").strip()]
    return list(dict.fromkeys(versions))


def import_reference(url: str | None = None, schemes: list[str] | None = None) -> dict:
    """The admin's reference step (with DRGFLOW_SERVICE_ROLES on the services import nothing): the terminology
    when ref has none, and each scheme version (`schemes`, default configured_schemes) unless the same pack
    files are imported already. Run as the warehouse admin after `drgflow db init`."""
    url = url or db.database_url()
    db.init_warehouse(url)
    with db.connect(url) as conn:
        empty = conn.execute("select not exists (select 1 from ref.dx_variant_map)"   # grouping's check
                             " or not exists (select 1 from ref.dx_catalogue)"          # and validation's
                             " or not exists (select 1 from ref.px_catalogue)").fetchone()[0]
    out: dict = {"terminology": "imported" if empty else "present", "schemes": {}}
    if empty:
        import_terminology(url)
    for version in configured_schemes() if schemes is None else schemes:
        report = import_scheme(scheme_path(version), version, url)
        out["schemes"][version] = "present" if report.get("skipped") else "imported"
    return out
