"""The whole pipeline in order, for one period (`drgflow run`) or for the demo city (`drgflow demo`)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

from drgflow import config, db, generate, grouping, loader, runs, settlement, transform
from drgflow.dip import catalogue as dip_catalogue
from drgflow.dip import runs as dip_runs
from drgflow.reports import build_reports
from drgflow.schemes.years import assign_scheme, assigned_scheme

DEMO_YEARS = [2021, 2022, 2023, 2024]


def _step(name: str) -> None:
    print(f"== {name}", file=sys.stderr, flush=True)


def run_demo(cases_per_year: int = 15000, hospitals: int = 20, seed: int = 2024, url: str | None = None) -> dict:
    """Generate a demo city, load and validate it, and run every stage that exists; returns a summary."""
    url = url or db.database_url()
    db.init_warehouse(url)
    version, scheme_dir = config.default_scheme()
    data = config.home() / "demo-data"
    _step(f"generate demo city ({len(DEMO_YEARS)} years × {cases_per_year} cases, scheme {version})")
    if not (data / "hospitals.csv").exists():
        summary = generate.generate_city(data, years=DEMO_YEARS, cases_per_year=cases_per_year,
                                         hospitals=hospitals, regions=2, seed=seed, defect_rate=0.01,
                                         scheme_dir=scheme_dir)
        print("   " + generate.format_summary(summary), file=sys.stderr)
    else:
        print(f"   reusing {data}", file=sys.stderr)
    year = DEMO_YEARS[-1]
    dip = _demo_dip_parameters(data, year, version)
    _step("load and validate")
    results = loader.load_paths([data], url, progress=False)
    cases = [r for r in results if r.kind == "cases"]
    # per-batch notes (timings, one Data Docs page per batch) would drown the summary: keep the rest
    notes = sorted({n for r in cases for n in r.notes if not n.startswith(("validated ", "Data Docs:"))})
    _step("build staging (dbt)")
    # the seeds first: the parameter files' staging views check rows against them
    transform.run_dbt(["seed"], url=url)
    transform.run_dbt(["run", "--selector", runs.STAGING], url=url)
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
    previous = grouping.scheme_for_year(year - 1, url)
    if (config.env("DRGFLOW_SCHEME") is None and version == "CHS-DRG-1.1" and config.official_scheme_dir("CHS-DRG-2.0")
            and not assigned_scheme(year, url)):
        # the national scheme in force since 2025: the demo's last year settles under it, history regrouped
        # (DRGFLOW_SCHEME set pins every year to that scheme instead)
        _step(f"import CHS-DRG-2.0 and assign it to {year}")
        grouping.ensure_reference(url, "CHS-DRG-2.0")
        assign_scheme("CHS-DRG-2.0", year, url, note="drgflow demo: the last year settles under CHS-DRG 2.0")
    scheme = grouping.scheme_for_year(year, url)
    out["scheme"] = scheme
    if previous != scheme:
        # the transition report groups every case under both versions: the year's grouping is one of them
        _step(f"group with {previous} and {scheme}, transition report {year}")
        out["transition"] = grouping.transition(year, previous, scheme, url)
        out["grouping"] = out["transition"]["grouping"][scheme]
    else:
        _step(f"group with {scheme}")
        out["grouping"] = grouping.group_cases(url, scheme)
    out["dip"] = _demo_dip(url, year, dip)
    _step(f"calibrate {year} (base years {DEMO_YEARS[0]}–{year - 1}; DRG regions)")
    calibration = settlement.calibrate(year, url) if not _calibrated(url, year) else None
    for month in range(1, 13):
        _step(f"monthly pre-settlement {year}-{month:02d}")
        if not _closed(url, f"{year}-{month:02d}"):
            settlement.settle(year, month, url)
            settlement.close_period(f"{year}-{month:02d}", url)
    _step(f"annual settlement {year}")
    if not _closed(url, str(year)):
        settlement.settle(year, None, url)
    _step("reports")
    reports = build_reports(str(year), url)
    out["settlement"] = _settlement_summary(url, year)
    out["calibration"] = calibration
    out["reports"] = reports["index"]
    out["data_docs"] = reports.get("data_docs")
    return out


def _demo_dip_parameters(data: Path, year: int, scheme: str) -> dict:
    """The demo pays its smaller region by DIP in the last year (dip-spec §1): dip_parameters.csv in the demo data,
    with the 平顶山 catalogue imported when ../shared has it, else a catalogue built from the base years."""
    with (data / "hospitals.csv").open(encoding="utf-8") as f:
        regions = sorted({r["region_code"] for r in csv.DictReader(f)})
    region = regions[-1]
    shared = config.shared_dir()
    catalogue = next((shared / "dip" / "pingdingshan-2025").glob("*.xlsx"), None) \
        if shared is not None and (shared / "dip" / "pingdingshan-2025").is_dir() else None
    rows = [(year, "dip_regions", region), (year, "catalogue_source", "import" if catalogue else "local")]
    if scheme == "SAMPLE-DRG":
        # the sample scheme's operating-room list classes the procedures (dip-spec §2.3 step 2)
        rows.append((year, "or_list_scheme", scheme))
    path = data / "dip_parameters.csv"
    if not path.exists():
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([("settlement_year", "parameter", "value"), *rows])
    return {"region": region, "catalogue": catalogue}


def _demo_dip(url: str, year: int, dip: dict) -> dict:
    """Import the city catalogue (when ../shared has one) and group the DIP region's cases (drgflow dip group)."""
    if dip["catalogue"] is not None:
        _step(f"import the DIP catalogue {dip['catalogue'].name} for {year}")
        dip_catalogue.import_catalogue(dip["catalogue"], year, url)
    else:
        _step(f"build a local DIP catalogue for {year} from the base years (no ../shared)")
    _step(f"DIP {year}: region {dip['region']} (catalogue, grouping, coefficients, statistics)")
    return dip_runs.group(year, url)


def _calibrated(url: str, year: int) -> bool:
    with db.connect(url) as conn:
        return bool(conn.execute("select to_regclass('audit.calibrations') is not null").fetchone()[0] and
                    conn.execute("select 1 from audit.calibrations where settlement_year = %s",
                                 (year,)).fetchone())


def _closed(url: str, period: str) -> bool:
    with db.connect(url) as conn:
        return settlement.period_status(conn, period) == "closed"


def _settlement_summary(url: str, year: int) -> list[str]:
    with db.connect(url) as conn:
        rows = conn.execute(
            """select region_code, count(*), sum(case_count), max(point_value), sum(payable), sum(prepaid),
                      sum(clearing)
               from marts.settlement_annual where settlement_year = %s group by 1 order by 1""", (year,)).fetchall()
    return [f"region {r}: {h} hospitals, {n:,} cases, point value {pv:.4f} yuan/point, payable {pay:,.2f}, "
            f"prepaid {pre:,.2f}, clearing {clr:,.2f}" for r, h, n, pv, pay, pre, clr in rows]


def run_period(year: int, month: int | None = None, url: str | None = None, reports: bool = True) -> dict:
    """Everything for one period, in order: group (with the year's scheme), calibrate if the year has no
    calibration yet, settle the month or the year, build the reports."""
    url = url or db.database_url()
    db.init_warehouse(url)
    period = f"{year:04d}-{month:02d}" if month else f"{year:04d}"
    _step(f"group all accepted cases ({period})")
    scheme = grouping.scheme_for_year(year, url)
    out: dict = {"period": period, "scheme": scheme, "grouping": grouping.group_cases(url, scheme)}
    _step(f"settle {period}")
    out["settlement"] = settlement.settle(year, month, url)
    if reports:
        _step(f"reports {period}")
        out["reports"] = build_reports(period, url)
    return out


def _redact(url: str) -> str:
    params = db.conn_params(url)
    return f"{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"


def format_demo(s: dict) -> str:
    """The demo's summary as indented lines for the terminal."""
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
    if "transition" in s:
        t = s["transition"]
        rates = ", ".join(f"{v} 入组率 {x['grouping_rate']:.2%}, {x['drgs_used']} DRGs/QY used"
                          for v, x in t["versions"].items())
        lines.append(f"  transition {t['year']}:     {t['cases']:,} cases under both versions, {t['drg_changed']:,} "
                     f"changed DRG; {rates}")
    if s.get("dip"):
        d = s["dip"]
        grouped = sum(d["by_status"][k] for k in ("core", "basic", "comprehensive"))
        rate = f"{grouped / d['cases']:.2%}" if d["cases"] else "-"
        lines.append(f"  DIP {d['settlement_year']}:            region {', '.join(d['dip_regions'])}, catalogue "
                     f"{d['catalogue_source']} ({d['catalogue_groups']:,} groups), {d['cases']:,} cases, "
                     f"入组率 {rate} (the DRG settlement leaves the region out)")
    if "grouping" in s:
        g = s["grouping"]
        lines.append(f"  grouping:            {g.get('grouped', 0):,} grouped, {g.get('qy', 0):,} QY, "
                     f"{g.get('ungroupable', 0):,} ungroupable (0000)")
    lines += [f"  settlement:          {line}" for line in s.get("settlement", [])]
    lines += [f"  {n}" for n in s.get("notes", [])]
    if s.get("data_docs"):
        lines.append(f"  GX Data Docs:        {s['data_docs']}")
    if "reports" in s:
        lines.append(f"  reports (index):     {s['reports']}")
    return "\n".join(lines)
