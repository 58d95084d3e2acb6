"""What the report modules share: periods, labels (bilingual terms), and queries returning dict rows."""
from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from drgflow.settlement import (  # noqa: F401 - one definition of a period and of the case types
    CASE_TYPES,
    parse_period,
)

CASE_TYPE_ZH = {
    "normal": "正常倍率 normal", "high": "高倍率 high", "low": "低倍率 low", "unstable": "非稳定病组 unstable",
    "qy": "歧义组 QY", "ungroupable": "无法入组 0000", "bed_day": "床日 bed-day",
    "special_review": "特病单议 special review",
}
CASE_TYPE_SHORT = {"normal": "正常", "high": "高倍率", "low": "低倍率", "unstable": "非稳定", "qy": "歧义组",
                   "ungroupable": "无法入组", "bed_day": "床日", "special_review": "特病单议"}
GROUP_STATUS_ZH = {"grouped": "入组 grouped", "qy": "歧义 qy", "ungroupable": "无法入组 ungroupable"}


def rows(conn: psycopg.Connection, sql: str, args: Any = None) -> list[dict]:
    """All rows of the query as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, args).fetchall()


def one(conn: psycopg.Connection, sql: str, args: Any = None) -> dict | None:
    """The first row of the query as a dict, or None."""
    found = rows(conn, sql, args)
    return found[0] if found else None


def relation_exists(conn: psycopg.Connection, name: str) -> bool:
    """Does the table or view `name` (schema.name) exist?"""
    return bool(conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0])

