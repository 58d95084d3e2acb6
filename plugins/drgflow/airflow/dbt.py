"""dbt through astronomer-cosmos: one Airflow task per model, the tests after the models.

The DAGs render from a dbt manifest (LoadMode.DBT_MANIFEST: parsing a DAG file never runs dbt or touches the
warehouse); `ensure_manifest` rebuilds it with `dbt parse` when a project file changed. Each task group is one
named selector of dbt_project/selectors.yml (drgflow.runs), which Cosmos reads from the manifest. At run time an
interceptor gives every dbt task the warehouse connection (drgflow.transform.dbt_env of the warehouse URL, read
in the worker) and the run's period as dbt vars (the `period` task's XCom).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from drgflow import config, db, runs, transform

PROFILE = "drgflow"
TARGET = "warehouse"
MODEL_RETRIES = 2
#: files whose change invalidates the manifest
_PROJECT_GLOBS = ("dbt_project.yml", "profiles.yml", "selectors.yml", "models/**/*", "seeds/**/*", "tests/**/*",
                  "macros/**/*")


def manifest_dir() -> Path:
    """Where the DAGs' manifest lives: DRGFLOW_HOME/dbt/_airflow (per checkout, not per warehouse)."""
    path = config.home() / "dbt" / "_airflow"
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_hash(project: Path | None = None) -> str:
    """sha256 over the dbt project's files (names and contents): what the manifest was parsed from."""
    project = project or config.dbt_project_dir()
    digest = hashlib.sha256()
    files = sorted({f for pattern in _PROJECT_GLOBS for f in project.glob(pattern) if f.is_file()})
    for f in files:
        digest.update(str(f.relative_to(project)).encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_manifest() -> Path:
    """manifest.json of the dbt project, re-parsed with `dbt parse` (about 7 s) only when the project's
    content changed since the last parse (a content hash, so a checkout or copy that only touches mtimes
    does not trigger a parse). Always a full parse: dbt's partial parsing keeps the selectors of the
    previous manifest when only selectors.yml changed (dbt-core 1.11), and the DAGs render from them."""
    project = config.dbt_project_dir()
    out = manifest_dir()
    manifest, stamp = out / "manifest.json", out / "manifest.sha256"
    current = project_hash(project)
    if manifest.exists() and stamp.exists() and stamp.read_text().strip() == current:
        return manifest
    with open(out / ".lock", "w") as lock:  # three DAG files may be parsed at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.exists() and stamp.exists() and stamp.read_text().strip() == current:
            return manifest
        # `dbt parse` renders the profile but never connects: placeholder connection values suffice
        env = {**os.environ, "DRGFLOW_DB_HOST": "parse-only", "DRGFLOW_DB_USER": "parse-only",
               "DRGFLOW_DB_NAME": "parse-only", "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
        tmp = out / "parse"
        done = subprocess.run(
            [sys.executable, "-m", "dbt.cli.main", "--quiet", "parse", "--no-partial-parse",
             "--project-dir", str(project), "--profiles-dir", str(project), "--target-path", str(tmp),
             "--log-path", str(tmp / "logs")],
            env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"dbt parse failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
        os.replace(tmp / "manifest.json", manifest)
        stamp.write_text(current + "\n")
    return manifest


def runtime_interceptor(context: Any, operator: Any) -> None:
    """Cosmos interceptor: the warehouse connection and the period's dbt vars, resolved in the worker."""
    operator.env = {**(operator.env or {}), **transform.dbt_env(db.database_url())}
    period = context["ti"].xcom_pull(task_ids="period")
    if not period:
        raise RuntimeError("no period in XCom of task 'period': the dbt tasks need the run's settlement period")
    operator.vars = {k: period[k] for k in ("settlement_year", "settlement_month", "scheme_version")}


def dbt_task_group(group_id: str, selector: str) -> Any:
    """A Cosmos DbtTaskGroup for the named dbt selector `selector` (dbt_project/selectors.yml, drgflow.runs): a
    task per model, then one test task (`dbt test --selector <selector> --indirect-selection cautious`).

    Models retry (a lost connection or lock timeout is worth another try); the test task does not (a failed
    data test is a finding, not a glitch)."""
    from cosmos import (  # noqa: PLC0415 - cosmos imports Airflow: DAG parsing only
        DbtTaskGroup,
        ExecutionConfig,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import (  # noqa: PLC0415 - as above
        ExecutionMode,
        InvocationMode,
        LoadMode,
        TestBehavior,
        TestIndirectSelection,
    )

    project = config.dbt_project_dir()
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=project, manifest_path=ensure_manifest(),
                                     install_dbt_deps=False),
        profile_config=ProfileConfig(profile_name=PROFILE, target_name=TARGET,
                                     profiles_yml_filepath=project / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.DBT_RUNNER,
                                         # only tests whose every parent is in the group: a test joining
                                         # case_grouping to case_points waits for the settlement group
                                         # (runs.TEST_SELECTION: the command line's figures step tests alike)
                                         test_indirect_selection=TestIndirectSelection(runs.TEST_SELECTION)),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, selector=selector,
                                   test_behavior=TestBehavior.AFTER_ALL, emit_datasets=False,
                                   enable_mock_profile=False),
        operator_args={"install_deps": False, "interceptors": [runtime_interceptor],
                       "retries": MODEL_RETRIES, "quiet": True},
    )
    for task in group:
        if type(task).__name__.startswith("DbtTest"):
            task.retries = 0
    return group
