"""Least privilege, the append-only operation log, backup/restore, and no secrets in the tree."""
from __future__ import annotations

import re
import subprocess

import psycopg
import pytest

from drgflow import config, db, generate, loader, security, transform

from conftest import query


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> str:
    """A small loaded warehouse with staging built and roles initialised."""
    import os
    import uuid

    name = f"drgflow_sec_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    db.ensure_database(name)
    url = db.server_url(name)
    db.init_warehouse(url)
    data = tmp_path_factory.mktemp("city")
    generate.generate_city(data, years=[2024], cases_per_year=800, hospitals=6, regions=2, seed=5,
                           defect_rate=0)
    loader.load_paths([data], url, progress=False)
    transform.run_dbt(["run", "--select", "staging"], url=url)
    with db.transaction(url) as conn:  # a mart with hospital rows, built from staging by SQL we own here
        conn.execute("create table marts.security_probe as select hospital_id, case_id, total_cost"
                     " from staging.stg_raw__cases")
    security.init_roles(url)
    yield url
    with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _as(url: str, role: str, text: str):
    with psycopg.connect(security.role_url(role, url)) as conn:
        return conn.execute(text).fetchall()


def test_analyst_reads_marts_and_nothing_in_raw(secured):
    assert _as(secured, "drgflow_analyst", "select count(*) from marts.security_probe")[0][0] > 0
    for table in ("raw.cases", "staging.stg_raw__cases", "audit.quarantine"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(secured, "drgflow_analyst", f"select count(*) from {table}")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(secured, "drgflow_analyst", "delete from marts.security_probe")


def test_a_hospital_sees_only_its_own_rows(secured):
    hospitals = [r[0] for r in query(secured, "select distinct hospital_id from marts.security_probe order by 1")]
    mine, other = hospitals[0], hospitals[1]
    login = security.hospital_login(mine)
    rows = _as(secured, login, "select distinct hospital_id from hospital.security_probe")
    assert rows == [(mine,)]
    expected = query(secured, "select count(*) from marts.security_probe where hospital_id = %s", (mine,))
    assert _as(secured, login, "select count(*) from hospital.security_probe") == expected
    assert _as(secured, login, f"select count(*) from hospital.security_probe where hospital_id = '{other}'") == [(0,)]
    # changing a setting or asking for another role does not widen what a hospital sees
    with psycopg.connect(security.role_url(login, secured)) as conn:
        conn.execute("set drgflow.hospital_id = %s" % psycopg.sql.quote(other))
        assert conn.execute("select count(distinct hospital_id) from hospital.security_probe").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set role drgflow_analyst")
    for table in ("marts.security_probe", "raw.cases", "audit.hospital_logins"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(secured, login, f"select count(*) from {table}")


def test_hospital_views_survive_a_dbt_rebuild(secured):
    transform.run_dbt(["run", "--select", "stg_raw__cases"], url=secured)
    names = [r[0] for r in query(secured, "select table_name from information_schema.views"
                                          " where table_schema = 'hospital'")]
    assert "security_probe" in names


def test_loader_writes_raw_but_cannot_touch_marts(secured):
    with psycopg.connect(security.role_url("drgflow_loader", secured)) as conn:
        assert conn.execute("select count(*) from raw.cases").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts.security_probe")


def test_operation_log_is_append_only(secured):
    events = dict(query(secured, "select event, count(*) from audit.log group by event"))
    assert events.get("load", 0) >= 5 and events.get("special_review", 0) == 1 and events.get("roles") == 1
    for role in ("drgflow_loader", "drgflow_transformer"):
        with psycopg.connect(security.role_url(role, secured)) as conn:
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException)):
                conn.execute("delete from audit.log")
    with psycopg.connect(security.role_url("drgflow_loader", secured)) as conn:
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException)):
            conn.execute("update audit.log set actor = 'someone else'")


def _table_digest(url: str, table: str) -> str:
    return query(url, f"select md5(string_agg(t::text, E'\\n' order by t::text)) from {table} t")[0][0]


def test_backup_restore_round_trip_is_identical(secured, tmp_path):
    dump = security.backup(tmp_path / "warehouse.dump", secured)
    target_name = f"{db.conn_params(secured)['dbname']}_restored"
    target = security.restore(dump, into=target_name)
    try:
        for table in ("raw.cases", "audit.batches", "marts.security_probe"):
            assert _table_digest(target, table) == _table_digest(secured, table), table
        with pytest.raises(Exception, match="already exists"):
            security.restore(dump, into=target_name)
    finally:
        with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{target_name}" with (force)')


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)(password|passwd|secret|api_key|pseudonym_key)\s*[=:]\s*['\"][^'\"{}$<>\s]{6,}['\"]"),
    re.compile(r"postgres(ql)?://[^:@/\s]+:[^@/\s{}$]{4,}@"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
]


def test_no_secret_or_key_in_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=config.REPO_ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert not [f for f in files if f.endswith((".key", ".pem")) or "pseudonym.key" in f]
    hits = []
    for name in files:
        path = config.REPO_ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000 or name.startswith("tests/test_security"):
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        hits += [f"{name}: {m.group(0)[:40]}" for p in SECRET_PATTERNS for m in p.finditer(text)]
    assert hits == []
