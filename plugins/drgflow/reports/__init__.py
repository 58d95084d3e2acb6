"""Reports people read (issue 8): hospital statements (Excel + HTML), the regional settlement report (HTML with
charts), dbt docs, and an index page linking them with the GX Data Docs.

    build_reports("2024-03")  # monthly; "2024" for the annual settlement
"""
from __future__ import annotations

import time
from pathlib import Path

from drgflow import config, db
from drgflow.errors import UserError
from drgflow.reports.common import parse_period
from drgflow.reports.docs import build_dbt_docs
from drgflow.reports.index import build_index
from drgflow.reports.regional import build_regional
from drgflow.reports.statements import build_statements
from drgflow.validation import gx_output_dir

__all__ = ["build_reports", "write_period_reports"]


def data_docs_page(url: str) -> Path | None:
    """The GX Data Docs index that drgflow.validation writes for this warehouse, if it exists."""
    page = gx_output_dir(url) / "data_docs" / "index.html"
    return page if page.exists() else None


def build_reports(period: str, url: str | None = None, *, out_dir: Path | None = None,
                  docs: bool = True) -> dict:
    """(Re)build every report of a settled period ('YYYY-MM' or 'YYYY') and the index page.

    Writes under out_dir (default drgflow.config.reports_dir()):
      <period>/regional_<period>.html, <period>/statement_<hospital>_<period>.xlsx|.html,
      dbt_docs/index.html (+ manifest.json, catalog.json), index.html.
    Returns the paths as strings (JSON-serialisable for Airflow XCom): index, period, regional,
    statements {hospital: {xlsx, html}}, dbt_docs, data_docs (None before any validation), seconds.
    """
    started = time.monotonic()
    year, month = parse_period(period)
    period = f"{year:04d}-{month:02d}" if month else f"{year:04d}"
    url = url or db.database_url()
    root = Path(out_dir) if out_dir else config.reports_dir()
    with db.connect(url) as conn:
        table = "marts.settlement_monthly" if month else "marts.settlement_annual"
        if not conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]:
            raise UserError(f"no settlement yet ({table} does not exist): run drgflow settle first")
        where = ("period = %s", (period,)) if month else ("settlement_year = %s", (year,))
        if not conn.execute(f"select exists (select 1 from {table} where {where[0]})", where[1]).fetchone()[0]:
            raise UserError(f"period {period} is not settled: run drgflow settle --year {year}"
                            + (f" --month {month}" if month else ""))
        folder = root / period
        statements = build_statements(conn, period, folder)
        regional = build_regional(conn, period, folder)
    dbt_docs = build_dbt_docs(url, root / "dbt_docs") if docs else root / "dbt_docs" / "index.html"
    gx = data_docs_page(url)
    index = build_index(root, data_docs=gx, dbt_docs=dbt_docs)
    return {
        "index": str(index), "period": period, "regional": str(regional),
        "statements": {h: {k: str(p) for k, p in files.items()} for h, files in statements.items()},
        "dbt_docs": str(dbt_docs) if dbt_docs.exists() else None, "data_docs": str(gx) if gx else None,
        "seconds": round(time.monotonic() - started, 2),
    }


def write_period_reports(period: str, url: str | None = None, docs: bool = True) -> list[str]:
    """build_reports as a flat list of the files written, index page first (the form
    drgflow.airflow.tasks.write_reports looks for)."""
    r = build_reports(period, url, docs=docs)
    files = [r["index"], r["regional"], *(p for f in r["statements"].values() for p in f.values())]
    return files + [p for p in (r["dbt_docs"], r["data_docs"]) if p]
