"""The settlement lock: one calibrate, settle, close or reopen at a time per warehouse."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

import psycopg

from drgflow import db

#: the advisory lock's key (hashed): the name of the module that first took it, kept so that an older drgflow
#: and this one still wait for each other
LOCK = "drgflow.settlement"
#: the commands that run under the settlement lock (locked): one at a time per warehouse
LOCKED_COMMANDS = ("calibrate", "settle", "close", "reopen")


@contextmanager
def locked(url: str) -> Iterator[psycopg.Connection]:
    """One calibrate/settle/close at a time per warehouse (session advisory lock, held for the whole run)."""
    with db.connect(url, autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (LOCK,)).fetchone()[0]:
            holder = conn.execute(
                """select r.command || ' ' || coalesce(r.period, '') || ' (run ' || r.run_id || ', since '
                          || to_char(r.started_at, 'HH24:MI:SS') || ')'
                   from audit.runs r where r.status = 'running' order by r.run_id desc limit 1""").fetchone()
            print(f"drgflow: waiting for the settlement lock, held by "
                  f"{holder[0] if holder else 'another drgflow session'}", file=sys.stderr, flush=True)
            conn.execute("select pg_advisory_lock(hashtext(%s))", (LOCK,))
        try:
            yield conn
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (LOCK,))
