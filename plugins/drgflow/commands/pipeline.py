"""demo (and, as stages land, run)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the demo and run subcommands."""
    p = sub.add_parser("demo", help="generate, load and settle a demo city end to end; prints where the reports are")
    p.add_argument("--cases-per-year", type=int, default=15000)
    p.add_argument("--hospitals", type=int, default=20)
    p.add_argument("--seed", type=int, default=2024)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="group, calibrate (if needed), settle and report one period")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--month", type=int, choices=range(1, 13), metavar="M")
    p.add_argument("--no-reports", action="store_true")
    p.set_defaults(func=cmd_run)


def cmd_demo(args: argparse.Namespace) -> int:
    """drgflow demo: generate, load and settle a demo city; print where everything is."""
    from drgflow import pipeline  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    summary = pipeline.run_demo(cases_per_year=args.cases_per_year, hospitals=args.hospitals, seed=args.seed)
    print(pipeline.format_demo(summary))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """drgflow run: group, calibrate if needed, settle and report one period; print the counts."""
    from drgflow import pipeline  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    out = pipeline.run_period(args.year, args.month, reports=not args.no_reports)
    g, st = out["grouping"], out["settlement"]
    print(f"{out['period']}: scheme {out['scheme']}; grouped {g.get('grouped', 0):,}, QY {g.get('qy', 0):,}, "
          f"ungroupable {g.get('ungroupable', 0):,}; settlement run {st.get('run_id')}: "
          f"{st.get('case_points', 0):,} case points")
    if "reports" in out:
        print(f"reports: {out['reports']['index']}")
    return 0
