"""Linters of the test command: sqlfluff on the dbt models (config and the rules left out: .sqlfluff)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from drgflow import config, db, transform
from drgflow.schemes.importer import import_scheme

MODELS = "dbt_project/models"


def _lint_database(url: str) -> None:
    """What the models read when they compile: the sample scheme (.sqlfluff's scheme_version), so that the
    branches it switches on are compiled and linted, and a cases batch validation has not typed, so that
    stg_raw__cases_typed compiles its parse branch."""
    import_scheme(config.sample_scheme_dir(), "SAMPLE-DRG", url)
    with db.connect(url) as conn:
        conn.execute("insert into audit.batches (file_name, sha256, file_kind, source_encoding)"
                     " values ('lint.csv', 'lint', 'cases', 'utf-8')")


def test_sqlfluff_lints_the_models(fresh_url, tmp_path):
    """`sqlfluff lint dbt_project/models` finds nothing; the dbt templater compiles against a fresh warehouse
    (its dbt artefacts go to tmp_path, not dbt_project/target)."""
    _lint_database(fresh_url)
    extra = tmp_path / "lint.sqlfluff"
    extra.write_text(f"[sqlfluff:templater:dbt]\ntarget_path = {tmp_path / 'target'}\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "sqlfluff", "lint", MODELS, "--config", str(extra), "--processes", "2",
         "--format", "json", "--nofail"],
        env={**os.environ, **transform.dbt_env(fresh_url)}, cwd=config.REPO_ROOT, capture_output=True,
        text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    files = json.loads(run.stdout)
    linted = {os.path.relpath(f["filepath"], MODELS) for f in files}
    expected = {str(p.relative_to(config.REPO_ROOT / MODELS)) for p in (config.REPO_ROOT / MODELS).rglob("*.sql")}
    assert linted == expected, f"not linted: {sorted(expected - linted)}"
    found = [f"{f['filepath']}:{v['start_line_no']}:{v['start_line_pos']} {v['code']} {v['description']}"
             for f in files for v in f["violations"]]
    assert not found, "sqlfluff (fix the model, or see .sqlfluff for the rules):\n" + "\n".join(found)
