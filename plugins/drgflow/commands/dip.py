"""dip catalogue import, dip group: DIP (按病种分值付费, dip-spec) catalogues and grouping of a settlement year."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the dip subcommands."""
    p = sub.add_parser("dip", help="DIP (按病种分值付费): import a city catalogue, group the cases of the DIP regions")
    dsub = p.add_subparsers(dest="dip_action", metavar="ACTION", required=True)
    c = dsub.add_parser("catalogue", help="the DIP catalogue (病种库) of a settlement year")
    csub = c.add_subparsers(dest="catalogue_action", metavar="ACTION", required=True)
    q = csub.add_parser("import", help="check a published catalogue (.xlsx, sheets 目录 and 中间结果) and make it "
                                       "the catalogue of settlement year Y (dip-spec §3.3)")
    q.add_argument("file", type=Path, help="the catalogue workbook, e.g. ../shared/dip/pingdingshan-2025/….xlsx")
    q.add_argument("--year", type=int, required=True, help="settlement year the catalogue pays")
    q.add_argument("--layout", default="pingdingshan", help="file layout (version 1: pingdingshan)")
    q.set_defaults(func=cmd_catalogue_import)

    q = csub.add_parser("build", help="build the catalogue of settlement year Y from its base period (dip-spec §3.4; "
                                      "the year's catalogue_source must be local), with the year's grouping, scores, "
                                      "coefficients and statistics")
    q.add_argument("--year", type=int, required=True, help="settlement year the catalogue pays")
    q.set_defaults(func=cmd_catalogue_build)

    q = dsub.add_parser("group", help="build the catalogue of settlement year Y and group every case of Y's DIP "
                                      "regions (marts.dip_catalogue, marts.dip_case_grouping)")
    q.add_argument("--year", type=int, required=True, help="settlement year")
    q.add_argument("--grouping-only", action="store_true",
                   help="only the grouping (marts.dip_case_grouping), not scores, coefficients and statistics")
    q.set_defaults(func=cmd_group)


def cmd_catalogue_import(args: argparse.Namespace) -> int:
    """drgflow dip catalogue import FILE --year Y: print the groups by type, M and any warnings."""
    from drgflow.dip.catalogue import import_catalogue  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    r = import_catalogue(args.file, args.year, layout=args.layout)
    print(f"DIP catalogue {args.year} imported from {args.file.name}: {r['groups']:,} groups ({r['core']:,} core, "
          f"{r['comprehensive']:,} comprehensive), {r['extra']} statistics rows without a group kept aside; "
          f"reference mean cost M = {r['reference_mean']} (PV_ref = M / 1000)")
    for w in r["warnings"][:20]:
        print(f"warning: {w}")
    return 0


def cmd_catalogue_build(args: argparse.Namespace) -> int:
    """drgflow dip catalogue build --year Y: the local build and everything of the year that reads it."""
    from drgflow.dip.runs import group  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    r = group(args.year, require_source="local")
    print(f"DIP catalogue {args.year} built from the base period: {r['catalogue_groups']:,} groups")
    _print_group(args.year, r)
    return 0


def cmd_group(args: argparse.Namespace) -> int:
    """drgflow dip group --year Y: print the cases by group status."""
    from drgflow.dip.runs import group  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    _print_group(args.year, group(args.year, grouping_only=args.grouping_only))
    return 0


def _print_group(year: int, r: dict) -> None:
    regions = ", ".join(r["dip_regions"]) or "none (dip_regions is empty: every region pays by DRG)"
    print(f"DIP {year}: regions {regions}; catalogue {r['catalogue_source']} ({r['catalogue_groups']:,} groups)")
    grouped = r["by_status"]["core"] + r["by_status"]["basic"] + r["by_status"]["comprehensive"]
    rate = f"{grouped / r['cases']:.2%}" if r["cases"] else "-"
    print(f"{r['cases']:,} cases: " + ", ".join(f"{k} {v:,}" for k, v in r["by_status"].items())
          + f"; 入组率 {rate}")
