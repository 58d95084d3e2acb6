"""Per-hospital logins: one login per registry hospital, which sees only its own rows (schema hospital)."""
from __future__ import annotations

import hashlib
import re

import psycopg
from psycopg import sql

from drgflow.errors import UserError


def role_exists(conn: psycopg.Connection, name: str) -> bool:
    """Whether a role of that name exists on the server."""
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


def ensure_hospital_logins(conn: psycopg.Connection, created: list[str]) -> tuple[list[str], list[str]]:
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
        if not role_exists(conn, login):
            conn.execute(sql.SQL("create role {} login in role drgflow_hospital").format(sql.Identifier(login)))
            created.append(login)
        conn.execute("insert into audit.hospital_logins (login, hospital_id) values (%s, %s)"
                     " on conflict (login) do nothing", (login, hid))
    return list(wanted.values()), sorted(retired)
