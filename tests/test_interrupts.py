"""A killed command leaves no server work behind (issue 18 #7): real processes killed with SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import query
from drgflow import config, generate, loader, transform, validation

CHILD = """
import sys
from drgflow import db, transform
url, how = sys.argv[1], sys.argv[2]
if how == "psycopg":
    with db.connect(url) as conn:
        conn.execute("select pg_sleep(600) /* drgflow-kill-test */")
else:
    transform.run_dbt(["show", "--inline", "select pg_sleep(600) as slept /* drgflow-kill-test */"], url=url)
"""


def _sleepers(url: str) -> int:
    return query(url, "select count(*) from pg_stat_activity where query like '%%pg_sleep(600)%%drgflow-kill-test%%'"
                      " and pid <> pg_backend_pid() and state = 'active'")[0][0]


def _kill_mid_query(url: str, how: str) -> float:
    """Start a child whose statement sleeps 10 minutes, SIGKILL it once the server runs it; seconds until
    the server has cancelled the statement."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, how], cwd=config.REPO_ROOT,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        deadline = time.monotonic() + 120
        while _sleepers(url) == 0:
            assert child.poll() is None, "the child ended before its statement ran"
            assert time.monotonic() < deadline, "the statement never started"
            time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed = time.monotonic()
    while _sleepers(url) and time.monotonic() - killed < 60:
        time.sleep(0.5)
    return time.monotonic() - killed


def test_killed_package_session_is_cancelled_on_the_server(fresh_url):
    assert _kill_mid_query(fresh_url, "psycopg") < 15
    assert _sleepers(fresh_url) == 0


def test_killed_dbt_session_is_cancelled_on_the_server(fresh_url):
    assert _kill_mid_query(fresh_url, "dbt") < 15
    assert _sleepers(fresh_url) == 0


def test_a_command_says_what_it_waits_for(fresh_url):
    import psycopg

    from drgflow import settlement

    with psycopg.connect(fresh_url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(hashtext(%s))", (settlement.LOCK,))
        child = subprocess.Popen([sys.executable, "-m", "drgflow.cli", "calibrate", "--year", "2024"],
                                 cwd=config.REPO_ROOT, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "DRGFLOW_DATABASE_URL": fresh_url, "PYTHONWARNINGS": "ignore"})
        try:
            line = child.stderr.readline()
            assert "waiting for the settlement lock" in line
        finally:
            holder.execute("select pg_advisory_unlock(hashtext(%s))", (settlement.LOCK,))
        _, rest = child.communicate(timeout=300)
    assert child.returncode == 2 and "Traceback" not in rest   # then it runs: the year has no data


def test_a_killed_validation_is_finished_by_the_rerun_and_counts_only_then(fresh_url, tmp_path):
    """Issue 18 #2: kill -9 during validation; the batch is not accepted (not in staging) until a reload of the
    same file finishes its validation, which then quarantines its defects."""
    city = tmp_path / "city"
    generate.generate_city(city, years=[2024], cases_per_year=20000, hospitals=3, regions=1, seed=5,
                           defect_rate=0.05, split="year")
    cases = next(city.glob("cases_*.csv"))
    loader.load_paths([city / "hospitals.csv"], url=fresh_url, progress=False)
    validation.ensure_terminology(fresh_url)
    child = subprocess.Popen([sys.executable, "-m", "drgflow.cli", "load", str(cases)], cwd=config.REPO_ROOT,
                             env={**os.environ, "DRGFLOW_DATABASE_URL": fresh_url, "PYTHONWARNINGS": "ignore"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not query(fresh_url, "select 1 from audit.batches where file_kind = 'cases'"):
            assert child.poll() is None and time.monotonic() < deadline, "the load ended before its batch committed"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert query(fresh_url, "select status, validation_requested from audit.batches where file_kind = 'cases'") \
        == [("loaded", True)]
    transform.run_dbt(["run", "--select", "staging"], url=fresh_url)
    assert query(fresh_url, "select count(*) from staging.stg_raw__cases")[0][0] == 0   # not accepted yet
    result = next(r for r in loader.load_paths([cases], url=fresh_url, progress=False) if r.kind == "cases")
    assert any("validating it now" in n for n in result.notes)
    assert result.rows_quarantined > 0 and result.rows_accepted + result.rows_quarantined == result.rows_read
    assert query(fresh_url, "select status from audit.batches where file_kind = 'cases'") == [("validated",)]
    transform.run_dbt(["run", "--select", "staging"], url=fresh_url)
    assert query(fresh_url, "select count(*) from staging.stg_raw__cases")[0][0] <= result.rows_accepted
    # a third load of the same file is the no-op it always was
    again = next(r for r in loader.load_paths([cases], url=fresh_url, progress=False) if r.kind == "cases")
    assert again.skipped and not again.needs_validation and again.rows_quarantined == result.rows_quarantined
