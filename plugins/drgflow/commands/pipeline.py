"""demo (and, as stages land, run)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate, load and settle a demo city end to end; prints where the reports are")
    p.add_argument("--cases-per-year", type=int, default=15000)
    p.add_argument("--hospitals", type=int, default=20)
    p.add_argument("--seed", type=int, default=2024)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from drgflow import pipeline

    summary = pipeline.run_demo(cases_per_year=args.cases_per_year, hospitals=args.hospitals, seed=args.seed)
    print(pipeline.format_demo(summary))
    return 0
