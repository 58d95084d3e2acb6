"""The operation log (audit.log): who did what, when, with which row counts and parameter hash."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def parameter_hash(parameters: Any) -> str:
    """Stable sha256 of a parameter set (keys sorted), so two runs can be compared by hash."""
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()


def record(conn: psycopg.Connection, event: str, subject: str | None = None, row_counts: dict | None = None,
           parameters: Any = None, details: dict | None = None) -> int:
    """Append one entry (inside the caller's transaction, so it commits or rolls back with the work)."""
    return conn.execute(
        "insert into audit.log (event, subject, row_counts, parameter_hash, details)"
        " values (%s, %s, %s, %s, %s) returning log_id",
        (event, subject, Jsonb(row_counts or {}), parameter_hash(parameters) if parameters is not None else None,
         Jsonb(details or {})),
    ).fetchone()[0]
