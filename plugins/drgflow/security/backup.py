"""Backup and restore of the warehouse database (pg_dump / pg_restore, custom format)."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from psycopg import sql

from drgflow import audit, db
from drgflow.errors import UserError


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
    """pg_restore `path` into database `into` (created, must not exist) or the warehouse (must be empty).

    All or nothing: one transaction, and a database created for it is dropped again when the restore fails,
    so a retry starts clean. Privileges are not restored (the roles they name may not exist on this server):
    the admin applies the roles and grants afresh with `drgflow db init-roles` on the restored database."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such backup file")
    created = None
    if into:
        with db.connect(db.server_url("postgres"), autocommit=True) as conn:
            if conn.execute("select 1 from pg_database where datname = %s", (into,)).fetchone():
                raise UserError(f"database {into} already exists; restore needs a new database")
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(into)))
        created, target = into, db.server_url(into)
    else:
        target = url or db.database_url()
        with db.connect(target) as conn:
            n = conn.execute("select count(*) from information_schema.tables where table_schema in"
                             " ('raw', 'audit', 'marts')").fetchone()[0]
        if n:
            raise UserError("the warehouse is not empty; restore into a new database with --into NAME")
    proc = subprocess.run([db.pg_binary("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
                           "--exit-on-error", "--dbname", target, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        if created:
            with db.connect(db.server_url("postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(created)))
        raise UserError(f"restore failed, nothing was kept: {proc.stderr.strip()}")
    return target
