"""`make bench`: stage timings and peak memory for 100k and 1M generated cases, against a baseline
measured in the same run (a bare COPY of the same file into an unindexed text table).

Each stage runs in its own child process so that its peak resident memory is its own.
Writes docs/benchmarks.md (and prints the table).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
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


LOAD_STAGES = {
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
    "validate (rule catalogue in SQL + GX)": """
from drgflow import validation
from drgflow.batch import LoadResult
r = LoadResult(path="{file}", kind="cases", batch_id={batch_id})
validation.validate_batch(r, "{url}")
print(r.rows_accepted, r.rows_quarantined)
""",
    "group (dbt grouping models)": """
from drgflow import grouping
print(grouping.group_cases("{url}", "{scheme}"))
""",
}

#: grouped too, when its pack is on this machine
SCHEME_2 = "CHS-DRG-2.0"

#: DIP: the 平顶山 catalogue as 2025's, every region of the city paid by DIP (not timed)
DIP_SETUP = """
import csv
from pathlib import Path
from drgflow import loader
from drgflow.dip import catalogue
regions = sorted({{r["region_code"] for r in csv.DictReader(open("{folder}/hospitals.csv", encoding="utf-8"))}})
path = Path("{folder}") / "dip" / "dip_parameters.csv"
path.parent.mkdir(exist_ok=True)
path.write_text("settlement_year,parameter,value\\n2025,dip_regions," + "|".join(regions)
                + "\\n2025,catalogue_source,import\\n", encoding="utf-8")
loader.load_paths([path], "{url}", progress=False)
catalogue.import_catalogue(Path("{catalogue}"), 2025, "{url}")
"""
DIP_STAGE = """
from drgflow.dip import runs
print(runs.group(2025, "{url}", grouping_only={only}))
"""

SETTLEMENT_STAGES = {
    "load + validate 4 years": """
from drgflow import loader
rs = loader.load_paths(["{folder}"], "{url}", progress=False)
print(sum(r.rows_read for r in rs if r.kind == "cases"))
""",
    "group all years": """
from drgflow import grouping
print(grouping.group_cases("{url}", "{scheme}"))
""",
    "calibrate {year} (base period {base_cases:,} cases)": """
from drgflow import settlement
print(settlement.calibrate({year}, "{url}"))
""",
    "monthly settlement {year}-06": """
from drgflow import settlement
print(settlement.settle({year}, 6, "{url}"))
""",
    "annual settlement {year}": """
from drgflow import settlement
print(settlement.settle({year}, None, "{url}"))
""",
}


def _import_reference(url: str, version: str, env: dict[str, str]) -> None:
    """The scheme and terminology import (`drgflow scheme import`, once per scheme version) is not part of
    grouping's time: it runs before the timed stage."""
    _child(f"from drgflow import grouping\ngrouping.ensure_reference({url!r}, {version!r})", env)


def _load_scenario(n: int, work: Path, env: dict[str, str], version: str) -> list[dict]:
    rows: list[dict] = []
    url = _reset_db()
    env["DRGFLOW_DATABASE_URL"] = url
    folder = work / f"n{n}"
    secs, rss, out = _child(
        f"from drgflow import generate\n"
        f"s = generate.generate_city({str(folder)!r}, years=[2024], cases_per_year={n}, hospitals=60,"
        f" regions=3, seed=11, defect_rate=0.01, split='year')\nprint(s['cases'])", env)
    file = folder / "cases_2024.csv"
    n_rows = int(out.splitlines()[-1])
    rows.append({"cases": n_rows, "stage": "generate", "seconds": secs, "rss_mb": rss, "rate": n_rows / secs})
    print(f"[{n_rows}] generate: {secs:.1f}s", flush=True)
    # reference files first, so later stages find hospitals and budgets
    subprocess.run([sys.executable, "-m", "drgflow.cli", "load", "--no-validate",
                    *(str(folder / f) for f in ("hospitals.csv", "budgets.csv"))],
                   env=env, check=True, capture_output=True)
    baseline = None
    batch_id = None
    for stage, template in LOAD_STAGES.items():
        if stage.startswith("group"):
            _import_reference(url, version, env)
        secs, rss, out = _child(template.format(url=url, file=str(file), batch_id=batch_id, scheme=version), env)
        if stage.startswith("load"):
            batch_id = int(out.splitlines()[-1])
        baseline = baseline or secs
        rows.append({"cases": n_rows, "stage": stage, "seconds": secs, "rss_mb": rss, "rate": n_rows / secs,
                     "ratio": secs / baseline})
        print(f"[{n_rows}] {stage}: {secs:.1f}s ({secs / baseline:.2f}x baseline)", flush=True)
    if version != SCHEME_2 and config.official_scheme_dir(SCHEME_2):
        # the national scheme in force since 2025, on the same cases (issue 19: ≥ 50,000 cases/s)
        _import_reference(url, SCHEME_2, env)
        secs, rss, out = _child(LOAD_STAGES["group (dbt grouping models)"].format(url=url, scheme=SCHEME_2), env)
        rows.append({"cases": n_rows, "stage": f"group with {SCHEME_2}", "seconds": secs, "rss_mb": rss,
                     "rate": n_rows / secs, "ratio": secs / baseline})
        print(f"[{n_rows}] group with {SCHEME_2}: {secs:.1f}s ({secs / baseline:.2f}x baseline)", flush=True)
    shared = config.shared_dir()
    catalogues = sorted((shared / "dip" / "pingdingshan-2025").glob("*.xlsx")) if shared is not None and \
        (shared / "dip" / "pingdingshan-2025").is_dir() else []
    if catalogues:
        # DIP (issue 20): every region paid by DIP in 2025 against the imported 平顶山 catalogue, the cases of 2024
        # grouped with it (≥ 50,000 cases/s); then the whole `drgflow dip group` (scores, coefficients, statistics)
        _child(DIP_SETUP.format(url=url, folder=str(folder), catalogue=str(catalogues[0])), env)
        for stage, only in (("DIP grouping (平顶山 catalogue)", True), ("DIP group, whole (with statistics)", False)):
            secs, rss, out = _child(DIP_STAGE.format(url=url, only=only), env)
            rows.append({"cases": n_rows, "stage": stage, "seconds": secs, "rss_mb": rss, "rate": n_rows / secs,
                         "ratio": secs / baseline})
            print(f"[{n_rows}] {stage}: {secs:.1f}s ({secs / baseline:.2f}x baseline)", flush=True)
    rows.append({"cases": n_rows, "stage": f"(file size {file.stat().st_size / 1e6:.0f} MB)", "seconds": 0,
                 "rss_mb": 0, "rate": 0})
    return rows


def _settlement_scenario(base_cases: int, year_cases: int, work: Path, env: dict[str, str],
                         version: str) -> list[dict]:
    """Three base years holding `base_cases` in all, and a settlement year of `year_cases`."""
    rows: list[dict] = []
    url = _reset_db()
    env["DRGFLOW_DATABASE_URL"] = url
    year = 2024
    folder = work / "settlement"
    per_base = base_cases // 3
    secs, rss, out = _child(
        f"from drgflow import generate\n"
        f"a = generate.generate_city({str(folder / 'base')!r}, years=[2021, 2022, 2023], cases_per_year={per_base},"
        f" hospitals=60, regions=3, seed=21, defect_rate=0.005, split='year')\n"
        f"b = generate.generate_city({str(folder / 'year')!r}, years=[{year}], cases_per_year={year_cases},"
        f" hospitals=60, regions=3, seed=21, defect_rate=0.005, split='month')\n"
        f"print(a['cases'] + b['cases'])", env)
    total = int(out.splitlines()[-1])
    rows.append({"cases": total, "stage": "generate 4 years", "seconds": secs, "rss_mb": rss, "rate": total / secs})
    print(f"[settlement] generate: {secs:.1f}s", flush=True)
    for stage, template in SETTLEMENT_STAGES.items():
        label = stage.format(year=year, base_cases=per_base * 3)
        if "load" in stage:
            # the base years' reference files are those of the settlement year's city (same seed, same hospitals)
            code = "\n".join(template.format(folder=str(folder / sub), url=url) for sub in ("year", "base"))
        else:
            code = template.format(url=url, scheme=version, year=year)
        if stage.startswith("group"):
            _import_reference(url, version, env)
        secs, rss, out = _child(code, env)
        n = {"calibrate": per_base * 3, "monthly": year_cases // 12, "annual": year_cases}.get(
            label.split()[0], total)
        rows.append({"cases": n, "stage": label, "seconds": secs, "rss_mb": rss, "rate": n / secs})
        print(f"[settlement] {label}: {secs:.1f}s", flush=True)
    return rows


def run(sizes: list[int], base_cases: int = 0, year_cases: int = 0, keep: bool = False) -> str:
    """Run the load (and, with base_cases, settlement) scenarios; write docs/benchmarks.md and return it."""
    version, _ = config.default_scheme()
    work = Path(tempfile.mkdtemp(prefix="drgflow-bench-"))
    env = {**os.environ, "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False", "DO_NOT_TRACK": "1"}
    rows: list[dict] = []
    try:
        for n in sizes:
            rows += _load_scenario(n, work, env, version)
        if base_cases:
            rows += _settlement_scenario(base_cases, year_cases, work, env, version)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    report = _report(rows, version)
    (config.REPO_ROOT / "docs" / "benchmarks.md").write_text(report, encoding="utf-8")
    return report


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
              "cases/s (DRG 1.1 and 2.0; DIP against the 平顶山 catalogue); calibration with 1M base-period "
              "cases ≤ 60 s; monthly settlement of a 100k-case month "
              "≤ 60 s; annual settlement of 1M cases ≤ 5 min.", "",
              "Reproduce: `make bench` (both scenarios, about 15 minutes on 2 cores) or "
              "`make bench BENCH_ARGS=\"--sizes 100000 --base-cases 0\"` for a quick run.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line of `python -m drgflow.bench`: run the scenarios and print the table."""
    parser = argparse.ArgumentParser(prog="python -m drgflow.bench", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="case counts of the load scenario")
    parser.add_argument("--base-cases", type=int, default=1_000_000,
                        help="cases in the three base years of the settlement scenario (0 = skip it)")
    parser.add_argument("--year-cases", type=int, default=1_200_000,
                        help="cases of the settlement year (1.2M = 100k per month)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(run(sizes, base_cases=args.base_cases, year_cases=args.year_cases, keep=args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
