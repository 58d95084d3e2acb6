"""The linters as tests: ruff's rules and the import-linter layers contract (both configured in pyproject.toml)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_ruff_passes():
    run = _run([sys.executable, "-m", "ruff", "check", "plugins", "tests", "dags"])
    assert run.returncode == 0, f"ruff check plugins tests dags:\n{run.stdout}{run.stderr}"


def test_import_layers_are_kept():
    script = Path(sys.executable).parent / "lint-imports"
    assert script.exists(), f"{script} missing: install the test extra (requirements.lock pins import-linter)"
    run = _run([str(script)], env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")})
    assert run.returncode == 0, f"lint-imports:\n{run.stdout}{run.stderr}"
