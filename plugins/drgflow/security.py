"""Least-privilege roles (最小授权), per-hospital logins and backup/restore of the warehouse."""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import os
import re
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from drgflow import audit, config, db
from drgflow.errors import UserError
from drgflow.schemes.importer import import_scheme, scheme_path
from drgflow.schemes.terminology import import_terminology

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

def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone() is not None


def hospital_login(hospital_id: str) -> str:
    """Login name of a hospital: `hosp_`, its id made readable (lower case, runs of other characters as one
    `_`, at most 40 characters), `_` and the first 12 hex digits of the sha256 of the exact id.

    The hash makes the name differ for every id: ids the readable part merges (`HX-1`, `HX_1`, `hx.1`) or
    cuts (long ids equal in their first 40 characters) get different logins, and the name stays within
    PostgreSQL's 63 bytes (at most 58 characters), so the server never truncates two into one."""
    readable = re.sub(r"[^a-z0-9]+", "_", hospital_id.lower()).strip("_")[:40].rstrip("_")
    digest = hashlib.sha256(hospital_id.encode("utf-8")).hexdigest()[:12]
    return f"hosp_{readable}_{digest}" if readable else f"hosp_{digest}"


def _hospital_logins(conn: psycopg.Connection, created: list[str]) -> tuple[list[str], list[str]]:
    """One login per registry hospital (created when missing) mapped in audit.hospital_logins; mappings of
    logins that are no longer a registry hospital's login (the names before logins carried a hash) are
    removed, so such a login sees no rows. Returns (logins, retired logins)."""
    ids = [r[0] for r in conn.execute(
        "select distinct btrim(hospital_id) from raw.hospitals where nullif(btrim(hospital_id), '') is not null"
        " order by 1").fetchall()]
    wanted = {hid: hospital_login(hid) for hid in ids}
    if len(set(wanted.values())) != len(wanted):      # 48 bits of sha256: refuse rather than share a login
        raise UserError("two hospital ids of raw.hospitals have the same login name; report this as a bug")
    retired = [r[0] for r in conn.execute(
        "delete from audit.hospital_logins m where not exists (select 1 from unnest(%s::text[], %s::text[])"
        " as w(login, hospital_id) where w.login = m.login and w.hospital_id = m.hospital_id) returning m.login",
        (list(wanted.values()), ids)).fetchall()]
    for hid, login in wanted.items():
        if not _role_exists(conn, login):
            conn.execute(sql.SQL("create role {} login in role drgflow_hospital").format(sql.Identifier(login)))
            created.append(login)
        conn.execute("insert into audit.hospital_logins (login, hospital_id) values (%s, %s)"
                     " on conflict (login) do nothing", (login, hid))
    return list(wanted.values()), sorted(retired)


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
            if not _role_exists(conn, role):
                login = sql.SQL("nologin") if role == "drgflow_hospital" else sql.SQL("login")
                conn.execute(sql.SQL("create role {} {}").format(sql.Identifier(role), login))
                created.append(role)
            conn.execute(sql.SQL("comment on role {} is {}").format(sql.Identifier(role), sql.Literal(ROLES[role])))
        conn.execute(_GRANTS)
        _set_passwords(conn)
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
            hospitals, retired = _hospital_logins(conn, created)
        views = conn.execute("select hospital.refresh_views()").fetchone()[0]
        audit.record(conn, "roles", "init-roles", {"roles_created": len(created), "hospital_logins": len(hospitals),
                                                   "hospital_views": views}, details={"retired_logins": retired})
    return {"created": created, "hospital_logins": len(hospitals), "hospital_views": views, "retired": retired}


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


def _scram_verifier(password: str, iterations: int = 4096) -> str:
    """SCRAM-SHA-256 verifier of a password (RFC 7677), so the clear text never reaches the server or its log."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


def _set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role),
                                                              sql.Literal(_scram_verifier(password))))


def _set_passwords(conn: psycopg.Connection) -> None:
    """Give each login role the password its service is configured with (DRGFLOW_<ROLE>_PASSWORD), if any."""
    for role in ROLES:
        password = config.env(f"{role.upper()}_PASSWORD")
        if password and role != "drgflow_hospital":
            _set_password(conn, role, password)


def backup(path: Path, url: str | None = None) -> Path:
    """pg_dump (custom format) of the warehouse database to `path`, readable by its owner only (0600).

    pg_dump writes a temporary file beside `path` that mkstemp created with mode 0600 (and runs under
    umask 077), which replaces `path` only once complete: no world-readable moment, whatever the umask,
    and a failed backup leaves an older file at `path` as it was."""
    url = url or db.database_url()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        proc = subprocess.run([db.pg_binary("pg_dump"), "--format=custom", "--no-owner", "--file", partial, url],
                              capture_output=True, text=True, umask=0o077)
        if proc.returncode != 0:
            raise UserError(f"backup failed: {proc.stderr.strip()}")
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    with db.transaction(url) as conn:
        audit.record(conn, "backup", str(path), details={"bytes": path.stat().st_size})
    return path


def restore(path: Path, url: str | None = None, into: str | None = None) -> str:
    """pg_restore `path` into database `into` (created, must not exist) or the warehouse (must be empty)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such backup file")
    if into:
        with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
            if conn.execute("select 1 from pg_database where datname = %s", (into,)).fetchone():
                raise UserError(f"database {into} already exists; restore needs a new database")
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(into)))
        target = db.server_url(into)
    else:
        target = url or db.database_url()
        with db.connect(target) as conn:
            n = conn.execute("select count(*) from information_schema.tables where table_schema in"
                             " ('raw', 'audit', 'marts')").fetchone()[0]
        if n:
            raise UserError("the warehouse is not empty; restore into a new database with --into NAME")
    proc = subprocess.run([db.pg_binary("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", target,
                           str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"restore failed: {proc.stderr.strip()}")
    return target
