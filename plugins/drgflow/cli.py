"""The `drgflow` command. Each module in drgflow.commands adds its subcommands with `register(sub)`."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

import psycopg

from drgflow import __version__, commands
from drgflow.errors import DbtError, LoadError, UserError


def build_parser() -> argparse.ArgumentParser:
    """The `drgflow` argument parser, with the subcommands every drgflow.commands module registers."""
    parser = argparse.ArgumentParser(
        prog="drgflow",
        description="DRG points payment pipeline: load, validate, group, calibrate, settle, report.",
    )
    parser.add_argument("--version", action="version", version=f"drgflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"drgflow.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one drgflow command; returns the exit code (2: user error, 3: database unreachable, 130: interrupted)."""
    warnings.filterwarnings("ignore")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, LoadError, DbtError) as exc:
        print(f"drgflow: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        name = str(exc.filename or "")
        name = name if len(name) <= 120 else name[:60] + "…" + name[-40:]
        print(f"drgflow: error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drgflow: interrupted; nothing half-done was kept (loads and runs are transactional)", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: a clear line, the detail in the log
        if isinstance(exc, psycopg.OperationalError):
            print(f"drgflow: error: cannot reach the database: {str(exc).strip()}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
