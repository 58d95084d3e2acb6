"""`make bench`: stage timings and peak memory for 100k and 1M generated cases, against a baseline
measured in the same run (a bare COPY of the same file into an unindexed text table).

Each stage runs in its own child process so that its peak resident memory is its own.
Writes docs/benchmarks.md (and prints the table).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from drgflow import config, db

BENCH_DB = "drgflow_bench"


def _child(code: str, env: dict[str, str]) -> tuple[float, int, str]:
    """Run python code in a child; (seconds, the child's own peak RSS in MB, its stdout)."""
    code += "\nimport resource\nprint('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark stage failed:\n{proc.stderr[-3000:]}")
    lines = proc.stdout.strip().splitlines()
    rss_kb = int(lines[-1].split()[1])
    return seconds, rss_kb // 1024, "\n".join(lines[:-1])


def _reset_db() -> str:
    with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(BENCH_DB)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(BENCH_DB)))
    url = db.server_url(BENCH_DB)
    db.init_warehouse(url)
    return url


STAGES = {
    "baseline COPY (unindexed text table)": """
import psycopg
from drgflow import contract
cols = ", ".join(f"{{c}} text" for c in contract.CASE_COLUMNS)
with psycopg.connect("{url}") as conn:
    conn.execute(f"drop table if exists public.bench_copy; create table public.bench_copy ({{cols}})")
    with conn.cursor() as cur, cur.copy("copy public.bench_copy from stdin (format csv, header true)") as copy, \\
            open("{file}", "rb") as f:
        while chunk := f.read(8 << 20):
            copy.write(chunk)
    conn.execute("drop table public.bench_copy")
""",
    "load (drgflow load, no validation)": """
from drgflow import loader
r = loader.load_file("{file}", "{url}", progress=False)
print(r.batch_id)
""",
    "validate (rule catalogue + GX)": """
from drgflow import loader, validation
r = loader.LoadResult(path="{file}", kind="cases", batch_id={batch_id})
validation.validate_batch(r, "{url}")
print(r.rows_accepted, r.rows_quarantined)
""",
    "group (dbt grouping models)": """
from drgflow import grouping, transform
transform.run_dbt(["run", "--select", "staging"], url="{url}")
print(grouping.group_cases("{url}", "{scheme}"))
""",
}


def run(sizes: list[int], keep: bool = False) -> str:
    version, scheme_dir = config.default_scheme()
    work = Path(tempfile.mkdtemp(prefix="drgflow-bench-"))
    env = {**os.environ, "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False", "DO_NOT_TRACK": "1"}
    rows: list[dict] = []
    for n in sizes:
        url = _reset_db()
        env["DRGFLOW_DATABASE_URL"] = url
        folder = work / f"n{n}"
        gen_code = (f"from drgflow import generate\n"
                    f"s = generate.generate_city({str(folder)!r}, years=[2024], cases_per_year={n}, hospitals=60,"
                    f" regions=3, seed=11, defect_rate=0.01, split='year')\nprint(s['cases'])")
        secs, rss, out = _child(gen_code, env)
        file = folder / "cases_2024.csv"
        n_rows = int(out.splitlines()[-1])
        size_mb = file.stat().st_size / 1e6
        rows.append({"cases": n_rows, "stage": "generate", "seconds": secs, "rss_mb": rss,
                     "rate": n_rows / secs})
        print(f"[{n_rows}] generate: {secs:.1f}s", flush=True)
        # reference files first, so later stages find hospitals and budgets
        subprocess.run([sys.executable, "-m", "drgflow.cli", "load", "--no-validate",
                        *(str(folder / f) for f in ("hospitals.csv", "budgets.csv"))],
                       env=env, check=True, capture_output=True)
        baseline = None
        batch_id = None
        for stage, template in STAGES.items():
            if stage.startswith("validate") and not _has("drgflow.validation", "rule_catalogue"):
                continue
            if stage.startswith("group") and not _has("drgflow.grouping", "group_cases"):
                continue
            code = template.format(url=url, file=str(file), batch_id=batch_id, scheme=version)
            secs, rss, out = _child(code, env)
            if stage.startswith("load"):
                batch_id = int(out.splitlines()[-1])
            if baseline is None:
                baseline = secs
            rows.append({"cases": n_rows, "stage": stage, "seconds": secs, "rss_mb": rss,
                         "rate": n_rows / secs, "ratio": secs / baseline})
            print(f"[{n_rows}] {stage}: {secs:.1f}s ({secs / baseline:.2f}x baseline)", flush=True)
        rows.append({"cases": n_rows, "stage": f"(file size {size_mb:.0f} MB)", "seconds": 0, "rss_mb": 0,
                     "rate": 0})
    report = _report(rows, version)
    (config.REPO_ROOT / "docs" / "benchmarks.md").write_text(report, encoding="utf-8")
    if not keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return report


def _has(module: str, attr: str) -> bool:
    try:
        mod = __import__(module, fromlist=[attr])
    except ImportError:
        return False
    return hasattr(mod, attr)


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with psycopg.connect(db.server_url("postgres")) as conn:
        pg = conn.execute("show server_version").fetchone()[0]
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PostgreSQL {pg}")


def _report(rows: list[dict], scheme: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {_machine()}.",
        f"Scheme used for the case mix: {scheme}. Each stage runs in its own child process; peak RSS is that",
        "process's own maximum resident size (the PostgreSQL server's memory is not included).",
        "The ratio compares a stage with the **baseline**: a bare `COPY` of the same file into an unindexed",
        "text table, measured in the same run on the same database.",
        "",
        "| cases | stage | seconds | × baseline | cases/s | peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["seconds"] == 0:
            lines.append(f"| {r['cases']:,} | {r['stage']} | | | | |")
            continue
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        lines.append(f"| {r['cases']:,} | {r['stage']} | {r['seconds']:.1f} | {ratio} | {r['rate']:,.0f} "
                     f"| {r['rss_mb']:,} |")
    lines += ["", "Targets (issues): load ≤ 3× baseline and < 2 GB; validation of 1M ≤ 120 s; grouping ≥ 50,000 "
              "cases/s; calibration ≤ 60 s; monthly settlement of 100k ≤ 60 s; annual of 1M ≤ 5 min.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drgflow.bench", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated case counts")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)
    print(run([int(s) for s in args.sizes.split(",")], keep=args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
