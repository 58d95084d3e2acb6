"""Running dbt (the transformation layer: every figure is a dbt model) against the warehouse."""
from __future__ import annotations

import json
import os
from typing import Any

from drgflow import config, db, roles
from drgflow.errors import DbtError

#: the dbt commands that run nodes (their run_results.json is written by run_dbt)
RUN_COMMANDS = ("run", "build", "seed", "test", "snapshot")


def dbt_env(url: str | None = None) -> dict[str, str]:
    """The profile's connection (profiles.yml reads these): the transformer role's when DRGFLOW_SERVICE_ROLES
    is on (drgflow.roles.service_url), else the warehouse URL's."""
    params = db.conn_params(roles.service_url("transformer", url))
    return {
        "DRGFLOW_DB_HOST": params["host"], "DRGFLOW_DB_PORT": params["port"],
        "DRGFLOW_DB_USER": params["user"], "DRGFLOW_DB_PASSWORD": params["password"],
        "DRGFLOW_DB_NAME": params["dbname"],
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1",
        # libpq reads it for dbt's connections: a killed command's statements are cancelled (db.SESSION_OPTIONS)
        "PGOPTIONS": db.session_options(os.environ.get("PGOPTIONS")),
    }


def target_dir(url: str | None = None) -> str:
    """dbt artefacts per database, so two warehouses (or test runs) never share a target folder."""
    name = db.conn_params(url)["dbname"]
    path = config.home() / "dbt" / name
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def run_dbt(args: list[str], url: str | None = None, vars: dict[str, Any] | None = None,
            quiet: bool = True) -> Any:
    """Invoke dbt in-process, e.g. run_dbt(["build", "--select", "staging"]). Raises DbtError on failure."""
    from dbt.cli.main import dbtRunner  # noqa: PLC0415 - dbt imports slowly; dbt runs only

    url = url or db.database_url()
    project = str(config.dbt_project_dir())
    target = target_dir(url)
    full = [*args, "--project-dir", project, "--profiles-dir", project, "--target-path", target]
    # the run commands write run_results.json only (below): dbt's own writing of the manifest, before and
    # after the run, costs about a second per call (`dbt docs generate` and `dbt parse` still write theirs)
    own_results = args[0] in RUN_COMMANDS
    if own_results:
        full.append("--no-write-json")
    if vars:
        full += ["--vars", json.dumps(vars)]
    if quiet:
        full = ["--quiet", "--log-path", os.path.join(target, "logs"), *full]
    with config.environ(dbt_env(url)):
        result = dbtRunner().invoke(full)
    if own_results and hasattr(result.result, "write"):
        result.result.write(os.path.join(target, "run_results.json"))
    if not result.success:
        failed = []
        if result.result is not None and hasattr(result.result, "results"):
            for r in result.result.results:
                if str(r.status) in ("error", "fail", "runtime error"):
                    failed.append(f"{r.node.name}: {(r.message or '').strip()}")
        detail = "; ".join(failed) or str(result.exception or "see dbt logs in " + target)
        raise DbtError(f"dbt {args[0]} failed: {detail}")
    return result.result
