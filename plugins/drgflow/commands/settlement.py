"""calibrate, settle, close, reopen, explain (settlement-spec §2–§5)."""
from __future__ import annotations

import argparse
import json

from drgflow.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the calibrate, settle, close, reopen and explain subcommands."""
    p = sub.add_parser("calibrate", help="base-period statistics, base points and coefficients for settlement year Y")
    p.add_argument("--year", type=int, required=True)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("settle", help="case points and the monthly (--month) or annual settlement of a year")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--month", type=int, choices=range(1, 13), metavar="M")
    p.set_defaults(func=cmd_settle)

    p = sub.add_parser("close", help="close a settled period (YYYY-MM or YYYY): its figures become immutable")
    p.add_argument("--period", required=True)
    p.set_defaults(func=cmd_close)

    p = sub.add_parser("reopen", help="reopen a closed period (logged with its reason)")
    p.add_argument("--period", required=True)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_reopen)

    p = sub.add_parser("explain", help="how a case's group, type, points and money were computed (DRG), or its DIP "
                                       "group, candidates, score and coefficients (a case of a DIP region)")
    p.add_argument("--case", required=True, metavar="HOSPITAL_ID/CASE_ID")
    p.add_argument("--year", type=int)
    p.set_defaults(func=cmd_explain)


def _print(result: dict) -> None:
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))


def cmd_calibrate(args: argparse.Namespace) -> int:
    """drgflow calibrate: statistics, base points and coefficients of a settlement year."""
    from drgflow import settlement  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    _print(settlement.calibrate(args.year))
    return 0


def cmd_settle(args: argparse.Namespace) -> int:
    """drgflow settle: case points and the monthly or annual settlement."""
    from drgflow import settlement  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    _print(settlement.settle(args.year, args.month))
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    """drgflow close: close a settled period."""
    from drgflow import settlement  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    _print(settlement.close_period(args.period))
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    """drgflow reopen: reopen a closed period, logging the reason."""
    from drgflow import settlement  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    _print(settlement.reopen_period(args.period, args.reason))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """drgflow explain: print how one case's group, type, points and money were computed."""
    from drgflow import settlement  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    hospital_id, sep, case_id = args.case.partition("/")
    if not sep or not hospital_id or not case_id:
        raise UserError(f"--case must be HOSPITAL_ID/CASE_ID, got {args.case!r}")
    from drgflow.dip.explain import explain_dip_case  # noqa: PLC0415 - as above

    # a case of a region that pays the year by DIP has a DIP grouping row; the DRG explanation otherwise
    dip = explain_dip_case(hospital_id, case_id, args.year)
    print(dip if dip is not None else settlement.explain_case(hospital_id, case_id, args.year))
    return 0
