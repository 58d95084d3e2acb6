"""Least-privilege roles (最小授权) and their grants: `drgflow db init-roles`."""
from __future__ import annotations

from psycopg import sql

from drgflow import audit, config, db
from drgflow.errors import UserError
from drgflow.loader import QUIET_LOG
from drgflow.security.logins import ensure_hospital_logins, role_exists
from drgflow.security.passwords import set_passwords

ROLES = {
    "drgflow_loader": "loads and validates files: writes raw and the load/validation tables of audit",
    "drgflow_transformer": "dbt and settlement: reads raw, ref, audit; builds staging, intermediate, marts, "
                           "seeds in ref; writes the settlement bookkeeping in audit",
    "drgflow_analyst": "reads marts only (nothing in raw)",
    "drgflow_hospital": "group of the per-hospital logins: reads its own rows through schema hospital",
}

_GRANTS = """
revoke all on schema raw, audit, ref, staging, intermediate, marts, hospital from public;
revoke create on schema public from public;

-- loader (drgflow load / validate): appends raw rows, keeps the batch registry, quarantine and rule tallies;
-- validation builds its work tables (unlogged audit.case_typed, audit.rule_flags ...) in audit. No DDL in raw.
grant usage on schema raw to drgflow_loader;
revoke create on schema raw from drgflow_loader;
grant usage, create on schema audit to drgflow_loader;
grant select, insert on all tables in schema raw to drgflow_loader;
revoke update, delete, truncate on all tables in schema raw from drgflow_loader;
alter default privileges in schema raw grant select, insert on tables to drgflow_loader;
grant select, insert, update on audit.batches, audit.runs, audit.validation_runs to drgflow_loader;
grant select, insert on audit.pseudonym_key to drgflow_loader;
grant select, insert, update, delete on audit.quarantine, audit.rule_results to drgflow_loader;
-- validation writes the typed rows and analyzes them (the next dbt run plans with their statistics): only an
-- owner may analyze, so the loader owns these two tables
alter table audit.cases_typed owner to drgflow_loader;
alter table audit.cases_typed_batches owner to drgflow_loader;
grant select, insert on audit.log to drgflow_loader, drgflow_transformer;
grant usage, select, update on all sequences in schema raw, audit to drgflow_loader;
grant select on all tables in schema ref to drgflow_loader;
grant usage on schema ref, staging to drgflow_loader;
grant select on all tables in schema staging to drgflow_loader;

-- transformer (dbt, calibrate/settle/close/reopen): reads raw, ref and the audit tables the models use,
-- builds staging/intermediate/marts and the policy seeds (ref), keeps the settlement bookkeeping
grant usage on schema raw, audit to drgflow_transformer;
grant select on all tables in schema raw to drgflow_transformer;
alter default privileges in schema raw grant select on tables to drgflow_transformer;
grant select on audit.batches, audit.quarantine, audit.hospital_logins to drgflow_transformer;
grant select on audit.cases_typed, audit.cases_typed_batches to drgflow_transformer;
grant select, insert, update on audit.runs, audit.calibrations, audit.periods to drgflow_transformer;
grant select, insert on audit.period_events, audit.run_inputs to drgflow_transformer;
grant select, insert, delete on audit.closed_period_cases to drgflow_transformer;
grant usage on all sequences in schema audit to drgflow_transformer;
grant usage, create on schema ref, staging, intermediate, marts to drgflow_transformer;
grant select on all tables in schema ref to drgflow_transformer;
-- dbt's on-run-end hook recreates the hospital views (a security-definer function, the transformer's only
-- right in schema hospital)
grant usage on schema hospital to drgflow_transformer;
revoke execute on function hospital.refresh_views() from public;
grant execute on function hospital.refresh_views() to drgflow_transformer;

grant usage on schema marts to drgflow_analyst;
grant select on all tables in schema marts to drgflow_analyst;
alter default privileges in schema marts grant select on tables to drgflow_analyst;
alter default privileges for role drgflow_transformer in schema marts grant select on tables to drgflow_analyst;
alter default privileges in schema ref grant select on tables to drgflow_transformer, drgflow_loader;

grant usage on schema hospital to drgflow_hospital;
"""


def _quiet_loader_log(conn) -> None:
    """The loader's sessions keep case data and pseudonym pads out of the server log (loader.QUIET_LOG); only a
    superuser may set these on a role (the loader refuses to load without them)."""
    if not conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]:
        return
    for name, value in QUIET_LOG.items():
        conn.execute(sql.SQL("alter role drgflow_loader set {} = {}").format(sql.Identifier(name), sql.Literal(value)))


def init_roles(url: str | None = None, hospital_logins: bool = True) -> dict:
    """Create the roles and grants (idempotent); one login per registry hospital. Needs CREATEROLE."""
    url = url or db.database_url()
    db.init_warehouse(url)
    created: list[str] = []
    hospitals: list[str] = []
    retired: list[str] = []
    with db.transaction(url) as conn:
        me = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()
        if not me or not me[0]:
            raise UserError("drgflow db init-roles needs a role with CREATEROLE (run it as the warehouse admin)")
        conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.roles'))")
        for role in ROLES:
            if not role_exists(conn, role):
                login = sql.SQL("nologin") if role == "drgflow_hospital" else sql.SQL("login")
                conn.execute(sql.SQL("create role {} {}").format(sql.Identifier(role), login))
                created.append(role)
            conn.execute(sql.SQL("comment on role {} is {}").format(sql.Identifier(role), sql.Literal(ROLES[role])))
        conn.execute(_GRANTS)
        _quiet_loader_log(conn)
        set_passwords(conn, ROLES)
        # objects a service replaces must belong to its role: dbt-built relations and the policy seeds (ref)
        # to the transformer, validation's unlogged work tables (audit) to the loader
        seeds = sorted(p.stem for p in (config.dbt_project_dir() / "seeds").glob("*.csv"))
        for role, schema, where, args in (
                ("drgflow_transformer", "staging", "", ()),
                ("drgflow_transformer", "intermediate", "", ()),
                ("drgflow_transformer", "marts", "", ()),
                ("drgflow_transformer", "ref", " and c.relname = any(%s)", (seeds,)),
                ("drgflow_loader", "audit", " and (c.relpersistence = 'u' or c.relname = 'rule_flags_docs')", ())):
            for (name, kind) in conn.execute(
                "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p')" + where + " order by 1",
                    (schema, *args)).fetchall():
                stmt = {"v": "alter view {}.{} owner to {}",
                        "m": "alter materialized view {}.{} owner to {}"}.get(kind, "alter table {}.{} owner to {}")
                conn.execute(sql.SQL(stmt).format(sql.Identifier(schema), sql.Identifier(name), sql.Identifier(role)))
        if hospital_logins:
            hospitals, retired = ensure_hospital_logins(conn, created)
        views = conn.execute("select hospital.refresh_views()").fetchone()[0]
        audit.record(conn, "roles", "init-roles", {"roles_created": len(created), "hospital_logins": len(hospitals),
                                                   "hospital_views": views}, details={"retired_logins": retired})
    return {"created": created, "hospital_logins": len(hospitals), "hospital_views": views, "retired": retired}
