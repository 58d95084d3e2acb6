"""The warehouse connection: DRGFLOW_DATABASE_URL, or an embedded PostgreSQL (pgserver) under DRGFLOW_HOME."""
from __future__ import annotations

import contextlib
import subprocess
import warnings
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from drgflow import config

DEFAULT_DBNAME = "drgflow"
SCHEMAS = ("raw", "audit", "ref", "staging", "intermediate", "marts")


def pgdata_dir() -> Path:
    return config.home() / "pgdata"


def _embedded_server():
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver  # imported lazily: it is only needed without DRGFLOW_DATABASE_URL

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
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(dbname)))


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url or database_url(), **kwargs)


@contextlib.contextmanager
def transaction(url: str | None = None) -> Iterator[psycopg.Connection]:
    with connect(url) as conn:
        with conn.transaction():
            yield conn


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
    """Create schemas and the package's own tables (idempotent): every sql/NN_*.sql file in order."""
    files = sorted((config.PACKAGE_DIR / "sql").glob("[0-9][0-9]_*.sql"))
    with transaction(url) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('drgflow.init'))")
        for f in files:
            conn.execute(f.read_text(encoding="utf-8"))
        from drgflow.loader import ensure_raw_tables

        ensure_raw_tables(conn)


def status() -> str:
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
    if config.env("DRGFLOW_DATABASE_URL"):
        return "DRGFLOW_DATABASE_URL is set: the external server is not ours to stop"
    if not _embedded_running():
        return "embedded PostgreSQL is not running"
    import pgserver._commands as commands

    user = "pgserver" if _is_root() else None
    commands.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata_dir(), user=user)
    return "embedded PostgreSQL stopped"


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def pg_binary(name: str) -> str:
    """Path of a PostgreSQL client program (pg_dump, psql …) matching the server."""
    try:
        import pgserver._commands as commands

        candidate = Path(commands.POSTGRES_BIN_PATH) / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return name


def run_psql(sql: str, url: str | None = None) -> str:
    return subprocess.run(
        [pg_binary("psql"), url or database_url(), "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        check=True, capture_output=True, text=True,
    ).stdout
