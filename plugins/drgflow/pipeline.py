"""The whole pipeline in order, for one period (`drgflow run`) or for the demo city (`drgflow demo`)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from drgflow import config, db, generate, loader, transform

DEMO_YEARS = [2021, 2022, 2023, 2024]


def _step(name: str) -> float:
    print(f"== {name}", file=sys.stderr, flush=True)
    return time.monotonic()


def run_demo(cases_per_year: int = 15000, hospitals: int = 20, seed: int = 2024, url: str | None = None) -> dict:
    """Generate a demo city, load and validate it, and run every stage that exists; returns a summary."""
    url = url or db.database_url()
    db.init_warehouse(url)
    version, scheme_dir = config.default_scheme()
    data = config.home() / "demo-data"
    t = _step(f"generate demo city ({len(DEMO_YEARS)} years × {cases_per_year} cases, scheme {version})")
    if not (data / "hospitals.csv").exists():
        summary = generate.generate_city(data, years=DEMO_YEARS, cases_per_year=cases_per_year,
                                         hospitals=hospitals, regions=2, seed=seed, defect_rate=0.01,
                                         scheme_dir=scheme_dir)
        print("   " + generate.format_summary(summary), file=sys.stderr)
    else:
        print(f"   reusing {data}", file=sys.stderr)
    t = _step("load and validate")
    results = loader.load_paths([data], url, progress=False)
    cases = [r for r in results if r.kind == "cases"]
    notes = sorted({n for r in cases for n in r.notes})
    t = _step("build staging (dbt)")
    transform.run_dbt(["run", "--select", "staging"], url=url)
    out = {
        "database": _redact(url),
        "scheme": version,
        "demo_data": str(data),
        "files": len(results),
        "cases_read": sum(r.rows_read for r in cases),
        "cases_accepted": sum(r.rows_accepted for r in cases),
        "cases_quarantined": sum(r.rows_quarantined for r in cases),
        "cases_warned": sum(r.rows_warned for r in cases),
        "notes": notes,
    }
    with db.connect(url) as conn:
        out["cases_in_staging"] = conn.execute("select count(*) from staging.stg_raw__cases").fetchone()[0]
    return out


def _redact(url: str) -> str:
    params = db.conn_params(url)
    return f"{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"


def format_demo(s: dict) -> str:
    lines = [
        "drgflow demo finished",
        f"  database:            {s['database']}",
        f"  grouping scheme:     {s['scheme']}",
        f"  demo data:           {s['demo_data']}",
        f"  cases read:          {s['cases_read']:,}",
        f"  accepted:            {s['cases_accepted']:,}",
        f"  quarantined:         {s['cases_quarantined']:,}",
        f"  with warnings:       {s['cases_warned']:,}",
        f"  cases in staging:    {s['cases_in_staging']:,} (latest accepted version of each case)",
    ]
    for key, label in (("grouping", "grouping"), ("settlement", "settlement"), ("reports", "reports")):
        if key in s:
            lines.append(f"  {label + ':':<20} {s[key]}")
    lines += [f"  {n}" for n in s.get("notes", [])]
    return "\n".join(lines)
