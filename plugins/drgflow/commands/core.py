"""db, generate, load."""
from __future__ import annotations

import argparse
from pathlib import Path

from drgflow import db
from drgflow.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the db, generate and load subcommands."""
    p = sub.add_parser("db", help="the warehouse: start|stop|status|url|init|init-roles|backup PATH|restore PATH")
    p.add_argument("action", choices=["start", "stop", "status", "url", "init", "init-roles", "backup", "restore"])
    p.add_argument("path", nargs="?", type=Path, help="backup file (backup, restore)")
    p.add_argument("--into", help="restore into this new database instead of the (empty) warehouse")
    p.add_argument("--no-hospital-logins", action="store_true", help="init-roles: skip per-hospital logins")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("generate", help="write a synthetic city's case files and reference tables")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--years", default="2021-2024", help="settlement years, e.g. 2021-2024")
    p.add_argument("--cases-per-year", type=int, default=20000)
    p.add_argument("--hospitals", type=int, default=24)
    p.add_argument("--regions", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--defect-rate", type=float, default=0.01, help="share of rows with an injected defect")
    p.add_argument("--scheme", default=None, help="scheme folder to draw the case mix from "
                   "(default: ../shared CHS-DRG-1.1, else the bundled sample)")
    p.add_argument("--split", choices=["month", "year", "hospital-month"], default="month",
                   help="one case file per settlement month (default), per year, or per hospital and month")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("load", help="load case files and reference tables (folders: every *.csv)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--no-validate", action="store_true", help="load only; validate later")
    p.set_defaults(func=cmd_load)


def cmd_db(args: argparse.Namespace) -> int:
    """drgflow db ACTION: start, stop, status, url, init, init-roles, backup or restore the warehouse."""
    if args.action == "start":
        url = db.database_url()
        db.init_warehouse(url)
        print(db.status())
    elif args.action == "stop":
        print(db.stop())
    elif args.action == "status":
        print(db.status())
    elif args.action == "url":
        print(db.database_url())
    elif args.action == "init":
        db.init_warehouse()
        print("warehouse schemas ready: " + ", ".join(db.SCHEMAS))
    elif args.action == "init-roles":
        from drgflow import security  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

        res = security.init_roles(hospital_logins=not args.no_hospital_logins)
        print(f"roles ready ({', '.join(security.ROLES)}); created: {', '.join(res['created']) or 'none'}; "
              f"{res['hospital_logins']} hospital logins; {res['hospital_views']} hospital views")
        if res["retired"]:
            print(f"retired (no longer a hospital's login, they now see no rows): {', '.join(res['retired'])}")
    elif args.action in ("backup", "restore"):
        from drgflow import security  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast
        if args.path is None:
            raise UserError(f"drgflow db {args.action} needs a file path")
        if args.action == "backup":
            print(f"backup written: {security.backup(args.path)}")
        else:
            name = db.conn_params(security.restore(args.path, into=args.into))["dbname"]
            print(f"restored into {name}; privileges are not restored: run `drgflow db init-roles` against it "
                  f"(DRGFLOW_DATABASE_URL naming {name}) to apply the roles and grants")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """drgflow generate: write a synthetic city's files and print a summary."""
    from drgflow import generate  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    years = generate.parse_years(args.years)
    summary = generate.generate_city(
        args.out, years=years, cases_per_year=args.cases_per_year, hospitals=args.hospitals,
        regions=args.regions, seed=args.seed, defect_rate=args.defect_rate, scheme_dir=args.scheme,
        split=args.split, progress=True,
    )
    print(generate.format_summary(summary))
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    """drgflow load: load (and validate) the files and print the counts per file and in total."""
    from drgflow import loader  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    results = loader.load_paths(args.paths, validate=not args.no_validate)
    total = {"read": 0, "accepted": 0, "quarantined": 0, "warned": 0}
    for r in results:
        if r.kind == "skipped":
            print(f"{Path(r.path).name}: skipped, {r.notes[0]}")
            continue
        state = "already loaded (no-op)" if r.skipped else f"loaded in {r.seconds:.1f}s"
        print(f"{Path(r.path).name}: {r.kind}, batch {r.batch_id}, {state}: "
              f"{r.rows_read} read, {r.rows_accepted} accepted, {r.rows_quarantined} quarantined, "
              f"{r.rows_warned} warned" + (f" [{r.encoding}]" if r.encoding != "UTF8" else ""))
        if r.kind == "cases":
            total["read"] += r.rows_read
            total["accepted"] += r.rows_accepted
            total["quarantined"] += r.rows_quarantined
            total["warned"] += r.rows_warned
        for note in r.notes if r.kind != "skipped" else []:
            print(f"  {note}")
    print(f"cases: {total['read']} read, {total['accepted']} accepted, {total['quarantined']} quarantined, "
          f"{total['warned']} with warnings")
    return 0
