"""Grouping entry point: make sure the scheme and terminology are in ref, then run the dbt models
(intermediate/grouping → marts.case_grouping) for one scheme version."""
from __future__ import annotations

from drgflow import config, db, runs
from drgflow.errors import UserError
from drgflow.schemes.importer import import_scheme, scheme_imported, scheme_path
from drgflow.schemes.terminology import import_terminology
from drgflow.schemes.years import assigned_scheme
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


def scheme_for_year(year: int, url: str) -> str:
    """The scheme version settlement year `year` groups with: the bureau's assignment (ref.scheme_years), else
    the policy seed's scheme_version in force, else the environment's scheme (as int_parameters_resolved)."""
    assigned = assigned_scheme(year, url)
    if assigned:
        return assigned
    run_dbt(["seed", "--select", "policy_parameters"], url=url)
    with db.connect(url) as conn:
        row = conn.execute("select nullif(btrim(scheme_version), '') from ref.policy_parameters"
                           " where effective_from_year <= %s order by effective_from_year desc limit 1",
                           (year,)).fetchone()
    return row[0] if row and row[0] else config.default_scheme_version()


def transition(year: int, from_version: str | None = None, to_version: str | None = None,
               url: str | None = None) -> dict:
    """The transition report of settlement year `year` (双轨): group every case under both versions (default:
    the versions of year-1 and of year), then build the transition marts. Returns the year's summary: cases
    paired, cases whose DRG changed, and 入组率 and CMI under each version."""
    url = url or db.database_url()
    from_version = from_version or scheme_for_year(year - 1, url)
    to_version = to_version or scheme_for_year(year, url)
    if from_version == to_version:
        raise UserError(f"year {year - 1} and {year} group with the same scheme ({to_version}); name the versions to "
                        f"compare with --from and --to")
    counts = {v: group_cases(url, v) for v in (from_version, to_version)}
    run_dbt(["build", "--selector", runs.TRANSITION], url=url)
    low, high = sorted((from_version, to_version))
    with db.connect(url) as conn:
        paired, changed = conn.execute(
            "select coalesce(sum(cases), 0), coalesce(sum(cases) filter (where drg_changed), 0)"
            " from marts.grouping_transition where year = %s and from_version = %s and to_version = %s",
            (year, low, high)).fetchone()
        per_version = conn.execute(
            "select scheme_version, sum(cases), sum(grouped), round(sum(grouped)::numeric / nullif(sum(cases), 0), 4)"
            " from marts.grouping_transition_hospitals where year = %s and from_version = %s and to_version = %s"
            " group by 1 order by 1", (year, low, high)).fetchall()
        drgs = dict(conn.execute(
            "select v.version, count(distinct v.drg) from marts.grouping_transition as t"
            " cross join lateral (values (t.from_version, t.from_drg), (t.to_version, t.to_drg)) as v (version, drg)"
            " where t.year = %s and t.from_version = %s and t.to_version = %s and v.drg <> '0000' group by 1",
            (year, low, high)).fetchall())
    # (the city-wide CMI of the transition marts is 1 by construction: each version's weights are relative to
    # its own mean; per hospital it differs, in marts.grouping_transition_hospitals)
    return {"year": year, "from_version": low, "to_version": high, "cases": int(paired), "drg_changed": int(changed),
            "grouping": counts,
            "versions": {v: {"cases": int(n), "grouped": int(g), "grouping_rate": float(r or 0),
                             "drgs_used": int(drgs.get(v, 0))} for v, n, g, r in per_version}}
