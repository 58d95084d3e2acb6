"""The raw tables: every input file kind's columns as text, exactly as received (contract.FILE_KINDS), plus the
pseudonymisation triggers on raw.cases. Created by db.init_warehouse; written by the loader."""
from __future__ import annotations

import psycopg

from drgflow import contract, pseudonym


def raw_table_ddl(kind: str) -> str:
    """create table if not exists for raw.<kind>: the kind's columns as text, keyed by batch and row."""
    cols = ",\n    ".join(f"{c} text" for c in contract.FILE_KINDS[kind])
    return f"""
create table if not exists raw.{kind} (
    batch_id   bigint not null default current_setting('drgflow.batch_id')::bigint,
    source_row bigint not null default nextval('raw.source_row_seq'),
    {cols},
    primary key (batch_id, source_row)
);"""


def ensure_raw_tables(conn: psycopg.Connection) -> None:
    """Create every raw table (if missing) and the pseudonymisation trigger on raw.cases."""
    db_ddl = "\n".join(raw_table_ddl(kind) for kind in contract.FILE_KINDS)
    conn.execute(db_ddl)
    conn.execute(pseudonym.TRIGGER_SQL)
