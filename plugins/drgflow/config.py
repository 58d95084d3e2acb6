"""Settings, read from the environment with sane defaults.

Every setting has one environment variable; docs/operators.md lists them all.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from drgflow.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent
#: the checkout root when installed editable (plugins/drgflow -> repo root)
REPO_ROOT = PACKAGE_DIR.parent.parent

SETTINGS = {
    "DRGFLOW_DATABASE_URL": "PostgreSQL URL of the warehouse; unset = embedded server under DRGFLOW_HOME",
    "DRGFLOW_HOME": "working folder for the embedded database, Data Docs, reports (default <repo>/.drgflow)",
    "DRGFLOW_SHARED": "folder with the official reference packs (default <repo>/../shared)",
    "DRGFLOW_SCHEME": "grouping scheme version used when no per-year setting exists",
    "DRGFLOW_LANDING": "landing folder watched by the claims_ingest DAG",
    "DRGFLOW_REPORTS": "where reports are written (default DRGFLOW_HOME/reports)",
    "DRGFLOW_PSEUDONYM_KEY": "HMAC key for patient ids (the demo writes a local one)",
    "DRGFLOW_SERVICE_ROLES": "on: loading/validation connect as drgflow_loader, dbt and settlement as "
                             "drgflow_transformer, and a role runs no DDL or reference import (the admin runs "
                             "drgflow db init, db init-roles, scheme import); off (default): as the URL's user",
    "DRGFLOW_LOADER_PASSWORD": "password of drgflow_loader when the server asks for one (init-roles sets it)",
    "DRGFLOW_TRANSFORMER_PASSWORD": "password of drgflow_transformer when the server asks for one (init-roles sets it)",
}

_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env(name: str, default: str | None = None) -> str | None:
    """The environment variable `name`, or `default` when it is unset or empty."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def service_roles() -> bool:
    """DRGFLOW_SERVICE_ROLES: do the services connect as their least-privilege roles (drgflow.security)?"""
    value = (env("DRGFLOW_SERVICE_ROLES") or "off").strip().lower()
    if value not in _ON + _OFF:
        raise UserError(f"DRGFLOW_SERVICE_ROLES={value!r}: use on or off")
    return value in _ON


def home() -> Path:
    """DRGFLOW_HOME (default <repo>/.drgflow), created if missing."""
    path = Path(env("DRGFLOW_HOME", str(REPO_ROOT / ".drgflow"))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_dir() -> Path | None:
    """The ../shared reference folder, or None when this machine has none (a fresh clone)."""
    path = Path(env("DRGFLOW_SHARED", str(REPO_ROOT.parent / "shared"))).resolve()
    return path if (path / "schemes").is_dir() else None


def sample_scheme_dir() -> Path:
    """Folder of the bundled SAMPLE-DRG scheme pack."""
    return PACKAGE_DIR / "sample_scheme" / "SAMPLE-DRG"


def official_scheme_dir(version: str = "CHS-DRG-1.1") -> Path | None:
    """Folder of scheme `version` under ../shared/schemes, or None when this machine has none."""
    shared = shared_dir()
    if shared is None:
        return None
    path = shared / "schemes" / version
    return path if path.is_dir() else None


def default_scheme() -> tuple[str, Path]:
    """(version, folder) of the scheme to use when nothing else is configured."""
    wanted = env("DRGFLOW_SCHEME")
    if wanted and wanted != "SAMPLE-DRG":
        folder = official_scheme_dir(wanted)
        if folder is None:
            raise UserError(f"scheme {wanted} not found under DRGFLOW_SHARED/schemes")
        return wanted, folder
    if wanted is None:
        folder = official_scheme_dir("CHS-DRG-1.1")
        if folder is not None:
            return "CHS-DRG-1.1", folder
    return "SAMPLE-DRG", sample_scheme_dir()


def default_scheme_version() -> str:
    """The scheme version a settlement year uses when its policy row leaves scheme_version empty.

    DRGFLOW_SCHEME as set, even for a scheme whose pack is not on this machine (its tables may already be in the
    warehouse, imported elsewhere); otherwise the default scheme (default_scheme)."""
    return env("DRGFLOW_SCHEME") or default_scheme()[0]


def reports_dir() -> Path:
    """DRGFLOW_REPORTS (default DRGFLOW_HOME/reports), created if missing."""
    path = Path(env("DRGFLOW_REPORTS", str(home() / "reports"))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def dbt_project_dir() -> Path:
    """The repository's dbt project folder."""
    return REPO_ROOT / "dbt_project"


@contextlib.contextmanager
def environ(values: dict[str, str | None]) -> Iterator[None]:
    """Set environment variables for a block (None unsets), restoring the previous values after it."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
