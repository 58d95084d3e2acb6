"""report: (re)build the reports of a settled period and the index page (issue 8)."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the report subcommand."""
    p = sub.add_parser("report", help="(re)build hospital statements, the regional report, dbt docs and the "
                                      "index page for a settled period (YYYY-MM or YYYY)")
    p.add_argument("--period", required=True, metavar="YYYY-MM|YYYY")
    p.add_argument("--no-docs", action="store_true", help="skip dbt docs generate (faster)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """drgflow report: (re)build a settled period's reports and print their paths."""
    from drgflow.reports import build_reports  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    paths = build_reports(args.period, docs=not args.no_docs)
    print(json.dumps(paths, ensure_ascii=False, indent=2))
    print(f"index: {paths['index']}")
    return 0
