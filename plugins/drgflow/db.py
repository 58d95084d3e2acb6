"""The warehouse connection: DRGFLOW_DATABASE_URL, or an embedded PostgreSQL (pgserver) under DRGFLOW_HOME."""
from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import warnings
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from drgflow import config, contract, pseudonym, rawschema
from drgflow.errors import UserError

DEFAULT_DBNAME = "drgflow"
SCHEMAS = ("raw", "audit", "ref", "staging", "intermediate", "marts")


def pgdata_dir() -> Path:
    """Data folder of the embedded PostgreSQL (DRGFLOW_HOME/pgdata)."""
    return config.home() / "pgdata"


def _embedded_server():
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver  # noqa: PLC0415 - optional: the embedded server

    pgdata = pgdata_dir()
    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process until `drgflow db stop`.
    return pgserver.get_server(pgdata, cleanup_mode=None)


def _embedded_running() -> bool:
    pid_file = pgdata_dir() / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split()[0])
    except (ValueError, IndexError):
        return False
    return Path(f"/proc/{pid}").exists()


def server_url(dbname: str = "postgres") -> str:
    """URL of the server (any database on it); starts the embedded server if needed."""
    explicit = config.env("DRGFLOW_DATABASE_URL")
    if explicit:
        params = conninfo_to_dict(explicit)
        params["dbname"] = dbname
        return make_conninfo(**params)
    server = _embedded_server()
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql://postgres@/{quote(dbname)}?host={quote(str(socket_dir))}"


def database_url() -> str:
    """URL of the warehouse database, created on first use."""
    explicit = config.env("DRGFLOW_DATABASE_URL")
    if explicit:
        return explicit
    url = server_url(DEFAULT_DBNAME)
    ensure_database(DEFAULT_DBNAME)
    return url


def ensure_database(dbname: str) -> None:
    """Create database `dbname` on the server unless it exists."""
    with connect(server_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(dbname)))


#: the oldest server drgflow runs on: validation parses with pg_input_is_valid (PostgreSQL 16)
MIN_SERVER_VERSION = 16
_checked_servers: set[tuple[str, str]] = set()


def require_server_version(conn: psycopg.Connection) -> None:
    """Refuse a server older than MIN_SERVER_VERSION with one sentence (checked once per server)."""
    key = (str(conn.info.host), str(conn.info.port))
    if key in _checked_servers:
        return
    found = conn.info.server_version  # e.g. 150018 for 15.18
    if found // 10000 < MIN_SERVER_VERSION:
        conn.close()
        where = "the server at DRGFLOW_DATABASE_URL" if config.env("DRGFLOW_DATABASE_URL") else "the server"
        raise UserError(
            f"drgflow needs PostgreSQL {MIN_SERVER_VERSION} or newer, but {where} ({key[0]}:{key[1]}) is "
            f"PostgreSQL {found // 10000}.{found % 100}: point DRGFLOW_DATABASE_URL at a PostgreSQL "
            f"{MIN_SERVER_VERSION}+ server, or unset it to use the embedded PostgreSQL {MIN_SERVER_VERSION}.")
    _checked_servers.add(key)


#: every drgflow session asks the server to check, while a query runs, that the client is still there:
#: a killed command's statement is cancelled within seconds (and its locks released) instead of running on
SESSION_OPTIONS = "-c client_connection_check_interval=5000"


def session_options(existing: str | None = None) -> str:
    """libpq `options` (also PGOPTIONS for dbt's connections): the caller's plus SESSION_OPTIONS."""
    if existing and "client_connection_check_interval" in existing:
        return existing
    return f"{existing} {SESSION_OPTIONS}".strip() if existing else SESSION_OPTIONS


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A connection to the warehouse (or `url`), after checking the server's version."""
    url = url or database_url()
    kwargs["options"] = session_options(kwargs.get("options") or conninfo_to_dict(url).get("options"))
    conn = psycopg.connect(url, **kwargs)
    require_server_version(conn)
    return conn


@contextlib.contextmanager
def transaction(url: str | None = None) -> Iterator[psycopg.Connection]:
    """A connection to the warehouse (or `url`) inside one transaction, committed when the block ends without error."""
    with connect(url) as conn:
        with conn.transaction():
            yield conn


def relation_exists(conn: psycopg.Connection, name: str) -> bool:
    """Whether the table or view `name` (schema.name) exists."""
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def conn_params(url: str | None = None) -> dict[str, str]:
    """host/port/user/password/dbname of a URL, for dbt profiles and Airflow connections."""
    params = conninfo_to_dict(url or database_url())
    return {
        "host": str(params.get("host") or "localhost"),
        "port": str(params.get("port") or "5432"),
        "user": str(params.get("user") or "postgres"),
        "password": str(params.get("password") or ""),
        "dbname": str(params.get("dbname") or DEFAULT_DBNAME),
    }


def init_warehouse(url: str | None = None) -> None:
    """Create schemas and the package's own tables (idempotent): every sql/NN_*.sql file in order.

    With DRGFLOW_SERVICE_ROLES on, a least-privilege role (drgflow_loader, drgflow_transformer ...) runs no
    DDL: it only checks that the admin initialised the warehouse for this drgflow (require_initialised) and
    raises UserError naming the admin's commands when not. The admin (and anyone with the setting off)
    runs the DDL as before."""
    with connect(url) as conn:
        if config.service_roles() and not may_init(conn):
            require_initialised(conn)
            return
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.init'))")
            for f in _schema_files():
                conn.execute(f.read_text(encoding="utf-8"))
            rawschema.ensure_raw_tables(conn)
            # upgrade of a warehouse from before: no key index on raw.cases (it only slowed loads; staging
            # finds a case's versions in the typed rows)
            conn.execute("drop index if exists raw.cases_case_key")
            # what require_initialised compares: the schema's definition this drgflow created
            marker = _MARKER + schema_fingerprint()
            if conn.execute("select obj_description('audit'::regnamespace, 'pg_namespace')").fetchone()[0] != marker:
                conn.execute(sql.SQL("comment on schema audit is {}").format(sql.Literal(marker)))


#: drgflow's least-privilege roles (drgflow.security.ROLES): never the warehouse DDL or reference imports
SERVICE_ROLES = ("drgflow_loader", "drgflow_transformer", "drgflow_analyst", "drgflow_hospital")
_MARKER = "drgflow warehouse schema "
ADMIN_STEP = ("run `drgflow db init` and `drgflow db init-roles` as the warehouse admin "
              "(deploy/airflow-init.sh does both; docs/security.md)")


def _schema_files() -> list[Path]:
    return sorted((config.PACKAGE_DIR / "sql").glob("[0-9][0-9]_*.sql"))


def schema_fingerprint() -> str:
    """sha256 of the DDL init_warehouse runs (sql/NN_*.sql, the raw tables, the pseudonym trigger)."""
    digest = hashlib.sha256()
    for f in _schema_files():
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    for kind in contract.FILE_KINDS:
        digest.update(rawschema.raw_table_ddl(kind).encode())
    digest.update(pseudonym.TRIGGER_SQL.encode())
    return digest.hexdigest()[:16]


def may_init(conn: psycopg.Connection) -> bool:
    """May this connection's user run the warehouse DDL and reference imports: CREATE on the database and not
    one of drgflow's least-privilege roles (nor a member of one, e.g. a hospital login)."""
    return bool(conn.execute(
        "select has_database_privilege(current_database(), 'CREATE') and current_user <> all(%(roles)s)"
        " and not exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid"
        "                 join pg_roles u on u.oid = m.member"
        "                 where u.rolname = current_user and g.rolname = any(%(roles)s))",
        {"roles": list(SERVICE_ROLES)}).fetchone()[0])


def require_initialised(conn: psycopg.Connection) -> None:
    """Raise UserError unless the warehouse was initialised by this drgflow: catalog lookups only, no DDL."""
    user, marker, schemas, tables = conn.execute(
        "select current_user, obj_description(to_regnamespace('audit'), 'pg_namespace'),"
        " array(select s from unnest(%s::text[]) s where to_regnamespace(s) is null),"
        " array(select t from unnest(%s::text[]) t where not exists (select 1 from pg_class c"
        "       join pg_namespace n on n.oid = c.relnamespace where n.nspname || '.' || c.relname = t))",
        ([*SCHEMAS, "hospital"], [f"raw.{k}" for k in contract.FILE_KINDS])).fetchone()
    if schemas or tables:
        raise UserError(f"the warehouse is not initialised (missing {', '.join(schemas or tables)}) and "
                        f"{user} may not create it (DRGFLOW_SERVICE_ROLES is on): {ADMIN_STEP}")
    if marker != _MARKER + schema_fingerprint():
        raise UserError(f"the warehouse schema was not initialised by this version of drgflow (found "
                        f"{marker or 'no marker'!r}, expected {_MARKER + schema_fingerprint()!r}) and {user} "
                        f"may not upgrade it (DRGFLOW_SERVICE_ROLES is on): {ADMIN_STEP}")


def status() -> str:
    """One line on the database: the external server reachable or not, or the embedded one running or stopped."""
    explicit = config.env("DRGFLOW_DATABASE_URL")
    if explicit:
        try:
            with psycopg.connect(explicit, connect_timeout=5) as conn:
                version = conn.execute("show server_version").fetchone()[0]
            return f"external database reachable (PostgreSQL {version})"
        except psycopg.Error as exc:
            return f"external database NOT reachable: {str(exc).strip()}"
    if _embedded_running():
        return f"embedded PostgreSQL running, data in {pgdata_dir()}"
    return f"embedded PostgreSQL stopped (data folder {pgdata_dir()})"


def stop() -> str:
    """Stop the embedded PostgreSQL (never an external server); returns what happened."""
    if config.env("DRGFLOW_DATABASE_URL"):
        return "DRGFLOW_DATABASE_URL is set: the external server is not ours to stop"
    if not _embedded_running():
        return "embedded PostgreSQL is not running"
    import pgserver._commands as commands  # noqa: PLC0415 - optional: the embedded server

    user = "pgserver" if _is_root() else None
    commands.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata_dir(), user=user)
    return "embedded PostgreSQL stopped"


def _is_root() -> bool:
    return os.geteuid() == 0


def pg_binary(name: str) -> str:
    """Path of a PostgreSQL client program (pg_dump, psql …) matching the server."""
    try:
        import pgserver._commands as commands  # noqa: PLC0415 - optional: the embedded server

        candidate = Path(commands.POSTGRES_BIN_PATH) / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return name


def run_psql(sql: str, url: str | None = None) -> str:
    """Run `sql` with psql (stop on the first error) and return its unaligned output."""
    return subprocess.run(
        [pg_binary("psql"), url or database_url(), "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        check=True, capture_output=True, text=True,
    ).stdout
