"""terminology import, scheme import/list/assign, transition, group."""
from __future__ import annotations

import argparse
from pathlib import Path

from drgflow import config, db


def register(sub: argparse._SubParsersAction) -> None:
    """Add the terminology, scheme and group subcommands."""
    p = sub.add_parser("terminology", help="load the diagnosis/procedure catalogues and variant maps into ref")
    p.add_argument("action", choices=["import"])
    p.add_argument("--from", dest="folder", type=Path, default=None,
                   help="terminology folder (default: DRGFLOW_SHARED/terminology, else the bundled sample)")
    p.set_defaults(func=cmd_terminology)

    p = sub.add_parser("scheme", help="import a grouping scheme pack (1.x text or 2.0 JSON layout) as a version, "
                                      "list versions, assign a version to settlement years")
    ssub = p.add_subparsers(dest="scheme_action", metavar="ACTION", required=True)
    q = ssub.add_parser("import", help="parse, check and load a pack into ref.scheme_* as VERSION")
    q.add_argument("path", type=Path, help="pack folder (1_MDC.txt … 7_CCE.txt, SS_VALID.txt)")
    q.add_argument("--version", required=True, dest="scheme_version",
                   help="version name, e.g. CHS-DRG-1.1 (needs a section in drgflow/schemes/entry_rules.yml)")
    q.add_argument("--force", action="store_true", help="reload even when the same files are imported")
    q.set_defaults(func=cmd_scheme_import)
    q = ssub.add_parser("list", help="imported scheme versions and the years assigned to each")
    q.set_defaults(func=cmd_scheme_list)
    q = ssub.add_parser("assign", help="settle (and regroup history of) years from --from-year on with VERSION")
    q.add_argument("scheme_version", metavar="VERSION", help="an imported version, e.g. CHS-DRG-2.0")
    q.add_argument("--from-year", type=int, required=True, help="first settlement year that uses VERSION")
    q.add_argument("--note", default=None, help="why (kept with the assignment)")
    q.set_defaults(func=cmd_scheme_assign)

    p = sub.add_parser("transition", help="transition report between two scheme versions for a settlement year "
                                          "(marts.grouping_transition*)")
    p.add_argument("--year", type=int, required=True, help="settlement year whose cases are compared")
    p.add_argument("--from", dest="from_version", default=None,
                   help="first version (default: the scheme of the year before)")
    p.add_argument("--to", dest="to_version", default=None, help="second version (default: the year's scheme)")
    p.set_defaults(func=cmd_transition)

    p = sub.add_parser("group", help="group all accepted cases with a scheme version (marts.case_grouping)")
    p.add_argument("--scheme", default=None, help="scheme version (default: DRGFLOW_SCHEME, else CHS-DRG-1.1 "
                   "when ../shared exists, else SAMPLE-DRG)")
    p.set_defaults(func=cmd_group)


def cmd_terminology(args: argparse.Namespace) -> int:
    """drgflow terminology import: load the catalogues and variant maps and print the counts."""
    from drgflow.schemes.terminology import import_terminology  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    r = import_terminology(folder=args.folder)
    kind = "sample terminology (no ../shared)" if r["sample"] else "terminology"
    print(f"{kind} from {r['source']}: {r['dx_catalogue']} diagnoses, {r['px_catalogue']} procedures, "
          f"{r['dx_variant_map']} + {r['px_variant_map']} variant-map rows")
    return 0


def cmd_scheme_import(args: argparse.Namespace) -> int:
    """drgflow scheme import: load a scheme pack as a version and print what it holds."""
    from drgflow.schemes.importer import import_scheme  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    r = import_scheme(args.path, args.scheme_version, force=args.force)
    if r.get("skipped"):
        print(f"{args.scheme_version}: already imported from the same files (no-op; --force reloads)")
        return 0
    print(f"{r['scheme_version']}: {r['mdc']} MDC, {r['adrg']} ADRG, {r['drg']} DRG, {r['mcc']} MCC, {r['cc']} CC, "
          f"{r['exclusion_tables']} exclusion tables, {r['ss_valid']} OR procedures; "
          f"QY {'on' if r['qy_enabled'] else 'off'}")
    if r.get("empty_exclusion_tables"):
        print("  exclusion tables without members in 7_CCE.txt (they exclude nothing): 表 7-"
              + ", 7-".join(map(str, r["empty_exclusion_tables"])))
    for kind, u in r["unknown_codes"].items():
        if not u.get("checked"):
            print(f"  {kind} codes not checked: ref.{kind}_catalogue is empty (run `drgflow terminology import`)")
        elif u["not_in_catalogue"]:
            print(f"  {u['not_in_catalogue']} of {u['codes']} {kind} codes are not in the catalogue, e.g. "
                  + ", ".join(u["examples"][:8]))
    return 0


def cmd_scheme_assign(args: argparse.Namespace) -> int:
    """drgflow scheme assign: years from --from-year on group and settle with VERSION."""
    from drgflow.schemes.years import assign_scheme  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    assign_scheme(args.scheme_version, args.from_year, note=args.note)
    print(f"settlement years from {args.from_year} on group with {args.scheme_version} (history regrouped with it "
          f"at the next run of such a year)")
    return 0


def cmd_scheme_list(args: argparse.Namespace) -> int:
    """drgflow scheme list: print the imported scheme versions."""
    url = db.database_url()
    db.init_warehouse(url)
    with db.connect(url) as conn:
        rows = conn.execute("select scheme_version, n_mdc, n_adrg, n_drg, qy_enabled, source_path, imported_at "
                            "from ref.scheme_version order by scheme_version").fetchall()
    if not rows:
        print("no scheme imported yet (drgflow scheme import PATH --version NAME)")
    for v, m, a, d, qy, src, at in rows:
        print(f"{v}: {m} MDC, {a} ADRG, {d} DRG, QY {'on' if qy else 'off'}, from {src} at {at:%Y-%m-%d %H:%M}")
    from drgflow.schemes.years import assignments  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    for year, version, note in assignments(url):
        print(f"settlement years from {year}: {version}" + (f" ({note})" if note else ""))
    return 0


def cmd_group(args: argparse.Namespace) -> int:
    """drgflow group: group the accepted cases with a scheme version and print the counts."""
    from drgflow.grouping import group_cases  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    version = args.scheme or config.default_scheme()[0]
    counts = group_cases(None, version)
    total = sum(counts.values())
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("grouped", "qy", "ungroupable"))
    print(f"{version}: {total} cases grouped into marts.case_grouping: {parts}")
    return 0


def cmd_transition(args: argparse.Namespace) -> int:
    """drgflow transition: group the cases under both versions and build the transition marts."""
    from drgflow.grouping import transition  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    r = transition(args.year, args.from_version, args.to_version)
    print(f"{args.year}: {r['cases']:,} cases grouped under {r['from_version']} and {r['to_version']}; "
          f"{r['drg_changed']:,} changed DRG ({r['drg_changed'] / max(r['cases'], 1):.1%})")
    for v, x in r["versions"].items():
        print(f"  {v}: 入组率 {x['grouping_rate']:.2%}, {x['drgs_used']} DRGs/QY used")
    print("marts: grouping_transition (migration matrix), grouping_transition_cases (changed cases with both "
          "traces), grouping_transition_hospitals (入组率 and CMI per hospital)")
    return 0
