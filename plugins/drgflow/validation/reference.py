"""Reference data validation reads: whether a table has rows, and the ICD catalogues (imported when absent)."""
from __future__ import annotations

import psycopg
from psycopg import sql

from drgflow import config, db
from drgflow.errors import UserError
from drgflow.schemes import terminology


def table_has_rows(conn: psycopg.Connection, table: str) -> bool:
    """Whether schema.table exists and holds a row."""
    if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
        return False
    return bool(conn.execute(sql.SQL("select exists (select 1 from {})").format(
        sql.SQL(".").join(map(sql.Identifier, table.split("."))))).fetchone()[0])


def ensure_terminology(url: str) -> None:
    """Import the ICD catalogues (grouper's importer) when ref.dx_catalogue is absent or empty."""
    with db.connect(url) as conn:
        present = table_has_rows(conn, "ref.dx_catalogue") and table_has_rows(conn, "ref.px_catalogue")
        as_role = not present and config.service_roles() and not db.may_init(conn)
    if present:
        return
    if as_role:     # ref is the admin's: a service role imports nothing
        raise UserError("the terminology is not imported (ref.dx_catalogue / ref.px_catalogue empty), and "
                        "DRGFLOW_SERVICE_ROLES is on: the services do not import reference data. Run "
                        "`drgflow terminology import` as the warehouse admin (deploy/airflow-init.sh does it)")
    terminology.import_terminology(url)
