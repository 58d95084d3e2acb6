"""A wrong environment gets one clear sentence: a PostgreSQL server older than 16 (real PostgreSQL 15)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from drgflow import config

PG15_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg15_url():
    """A throw-away PostgreSQL 15 server on 127.0.0.1 (the machine's own binaries)."""
    if not (PG15_BIN / "initdb").exists():
        pytest.skip("no PostgreSQL 15 binaries on this machine (Debian package postgresql-15)")
    # outside pytest's root-only temp folder, so that the unprivileged server user can reach it
    top = Path(tempfile.mkdtemp(prefix="drgflow_pg15_"))
    top.chmod(0o755)
    data = top / "data"
    # initdb refuses root: run the server as the unprivileged user pgserver creates for itself
    as_user = ["runuser", "-u", "pgserver", "--"] if os.geteuid() == 0 else []
    if as_user:
        subprocess.run(["id", "pgserver"], check=True, capture_output=True)
        shutil.chown(top, "pgserver")
    subprocess.run([*as_user, str(PG15_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True)
    port = _free_port()
    subprocess.run([*as_user, str(PG15_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([*as_user, str(PG15_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                   capture_output=True)
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("command", [["db", "init"], ["group"], ["calibrate", "--year", "2024"]])
def test_postgresql_15_gets_one_sentence(pg15_url, command, tmp_path):
    env = {**os.environ, "DRGFLOW_DATABASE_URL": pg15_url, "DRGFLOW_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "drgflow.cli", *command], env=env, capture_output=True,
                         text=True, timeout=300, cwd=config.REPO_ROOT)
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert "Traceback" not in run.stderr and len(lines) == 1, run.stderr
    assert "needs PostgreSQL 16 or newer" in lines[0] and "PostgreSQL 15." in lines[0]
    assert "DRGFLOW_DATABASE_URL" in lines[0]
