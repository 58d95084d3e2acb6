"""validate, feedback, quality: case validation and hospital data-quality feedback."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the validate, feedback, quality and rules subcommands."""
    p = sub.add_parser("validate", help="validate loaded case batches not validated yet (or --batch N again)")
    p.add_argument("--batch", type=int, default=None, help="validate this batch (again)")
    p.add_argument("--all", action="store_true", help="re-validate every case batch with the current rules")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("feedback", help="write one Excel feedback file per hospital with its rejected and "
                       "warned cases (default: every unresolved entry)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--batch", type=int, default=None, help="only this batch (resolved entries included)")
    p.add_argument("--include-resolved", action="store_true", help="also entries already corrected")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("quality", help="build the hospital data-quality marts (dbt) and print the scores")
    p.add_argument("--period", default=None, help="only this month, YYYY-MM")
    p.set_defaults(func=cmd_quality)

    p = sub.add_parser("rules", help="list the validation rule catalogue in force")
    p.set_defaults(func=cmd_rules)


def cmd_validate(args: argparse.Namespace) -> int:
    """drgflow validate: validate pending (or the given) case batches and print the counts."""
    from drgflow import validation  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    results = validation.validate_pending(batch_id=args.batch, revalidate=args.all)
    if not results:
        print("no case batch waiting for validation")
    for r in results:
        print(f"batch {r.batch_id} ({Path(r.path).name}): {r.rows_read} read, {r.rows_accepted} accepted, "
              f"{r.rows_quarantined} quarantined, {r.rows_warned} warned")
        for note in r.notes:
            print(f"  {note}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """drgflow feedback: write the hospitals' feedback workbooks and print their paths."""
    from drgflow import quality  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    files = quality.write_feedback(args.out, batch_id=args.batch, include_resolved=args.include_resolved)
    if not files:
        print("no rejected or warned cases: no feedback file written")
    for f in files:
        print(f)
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """drgflow quality: build the data-quality marts and print each hospital's scores."""
    from drgflow import db, quality  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    quality.build_quality_marts()
    where, params = ("where period = %s", (args.period,)) if args.period else ("", ())
    with db.connect() as conn:
        rows = conn.execute(f"select hospital_id, period, rows_received, rows_rejected, rows_warned,"
                            f" completeness, quality_score from marts.hospital_data_quality {where}"
                            f" order by period, hospital_id", params).fetchall()
    print(f"{'hospital':<12}{'period':<9}{'rows':>8}{'rejected':>10}{'warned':>8}{'complete':>10}{'score':>7}")
    for h, p, n, rej, warn, comp, score in rows:
        print(f"{h:<12}{p:<9}{n:>8}{rej:>10}{warn:>8}{float(comp or 0):>10.4f}{float(score):>7.1f}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    """drgflow rules: print the validation rule catalogue in force."""
    from drgflow import validation  # noqa: PLC0415 - imported when the command runs: `drgflow --help` stays fast

    cat = validation.load_catalogue()
    print(f"{cat.path} ({cat.name} version {cat.version}, {len(cat.rules)} rules)")
    for r in cat.rules:
        state = "" if r.enabled else " (disabled)"
        print(f"  {r.id:<28}{r.severity:<7}{r.check:<20}{r.message()}{state}")
        print(f"  {'':<28}{'':<7}why: {r.reason}")
    return 0
