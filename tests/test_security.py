"""Least privilege, the append-only operation log, backup/restore, and no secrets in the tree."""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import os
import re
import stat
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import create_database, drop_database, query
from drgflow import config, db, generate, grouping, loader, roles, security, settlement, transform, validation
from drgflow.errors import UserError
from drgflow.security import passwords


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
    with psycopg.connect(roles.role_url(role, url)) as conn:
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
    with psycopg.connect(roles.role_url(login, secured)) as conn:
        conn.execute("set drgflow.hospital_id = %s" % psycopg.sql.quote(other))
        assert conn.execute("select count(distinct hospital_id) from hospital.security_probe").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set role drgflow_analyst")
    for table in ("marts.security_probe", "raw.cases", "audit.hospital_logins"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(secured, login, f"select count(*) from {table}")


def test_hospital_views_survive_a_dbt_rebuild(secured):
    transform.run_dbt(["run", "--select", "+stg_raw__cases"], url=secured)
    names = [r[0] for r in query(secured, "select table_name from information_schema.views"
                                          " where table_schema = 'hospital'")]
    assert "security_probe" in names


def test_loader_writes_raw_but_cannot_touch_marts(secured):
    with psycopg.connect(roles.role_url("drgflow_loader", secured)) as conn:
        assert conn.execute("select count(*) from raw.cases").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts.security_probe")


def test_operation_log_is_append_only(secured):
    events = dict(query(secured, "select event, count(*) from audit.log group by event"))
    assert events.get("load", 0) >= 5 and events.get("special_review", 0) == 1 and events.get("roles") == 1
    for role in ("drgflow_loader", "drgflow_transformer"):
        with psycopg.connect(roles.role_url(role, secured)) as conn:
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException)):
                conn.execute("delete from audit.log")
    with psycopg.connect(roles.role_url("drgflow_loader", secured)) as conn:
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


def test_restore_onto_a_server_without_the_roles_and_a_failed_restore_keeps_nothing(secured, tmp_path):
    """Issue 18 #10: a backup naming roles this server lacks restores (privileges are applied afresh by
    init-roles), and a restore that fails leaves no database behind, so a retry starts clean."""
    ghost = f"drgflow_ghost_{os.getpid()}"
    with psycopg.connect(secured, autocommit=True) as conn:
        conn.execute(f"create role {ghost}")
        conn.execute(f"grant select on raw.cases to {ghost}")
    try:
        dump = security.backup(tmp_path / "with_ghost.dump", secured)
    finally:
        with psycopg.connect(secured, autocommit=True) as conn:
            conn.execute(f"revoke select on raw.cases from {ghost}")
            conn.execute(f"drop role {ghost}")
    target_name = f"{db.conn_params(secured)['dbname']}_noroles"
    broken = tmp_path / "broken.dump"
    broken.write_bytes(dump.read_bytes()[: len(dump.read_bytes()) // 2])
    try:
        with pytest.raises(UserError, match="restore failed, nothing was kept"):
            security.restore(broken, into=target_name)
        assert query(db.server_url("postgres"), "select count(*) from pg_database where datname = %s",
                     (target_name,)) == [(0,)]
        target = security.restore(dump, into=target_name)
        assert _table_digest(target, "raw.cases") == _table_digest(secured, "raw.cases")
    finally:
        with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{target_name}" with (force)')


@pytest.mark.parametrize("existing", [False, True])
def test_backup_files_are_readable_by_their_owner_only(fresh_url, tmp_path, existing):
    """A backup holds every patient row: mode 0600 whatever the umask, also over an older world-readable file."""
    path = tmp_path / "backups" / "warehouse.dump"
    if existing:
        path.parent.mkdir()
        path.write_bytes(b"an older backup")
        path.chmod(0o644)
    saved = os.umask(0o022)
    try:
        security.backup(path, fresh_url)
    finally:
        os.umask(saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"PGDMP")                   # pg_dump's custom format
    assert [p.name for p in path.parent.iterdir()] == ["warehouse.dump"]   # no temporary file left


LOOKALIKE_IDS = ["HX-1", "HX_1", "hx.1", "HX 1", "Hx-1", "医院-1", "医院-2",
                 "H" * 70 + "A", "H" * 70 + "B", "h" * 63, "h" * 64]


def test_hospital_login_names_are_injective_and_fit_postgresql():
    logins = [security.hospital_login(h) for h in LOOKALIKE_IDS]
    assert len(set(logins)) == len(LOOKALIKE_IDS)
    for login in logins:
        assert re.fullmatch(r"hosp_[a-z0-9_]+", login) and len(login.encode()) <= 63, login
    assert security.hospital_login("HX-1") == logins[0]        # stable: the same id, the same login
    assert security.hospital_login("H330001").startswith("hosp_h330001_")


def test_lookalike_hospital_ids_each_get_their_own_login(fresh_url, tmp_path):
    """HX-1, HX_1 and hx.1 (and ids equal in their first 63 characters) are different hospitals: each login
    sees its own rows only."""
    f = tmp_path / "hospitals.csv"
    with f.open("w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["hospital_id", "hospital_name", "level", "hospital_type", "region_code"])
        w.writerows([[h, f"医院{i}", "2", "综合", "330102"] for i, h in enumerate(LOOKALIKE_IDS)])
    loader.load_file(f, fresh_url)
    with db.transaction(fresh_url) as conn:
        conn.execute("create table marts.login_probe as select hospital_id, hospital_name from raw.hospitals")
        # the shared login of the names before the hash, as an earlier init-roles left it
        conn.execute("insert into audit.hospital_logins (login, hospital_id) values ('hosp_hx_1', 'hx.1')")
    res = security.init_roles(fresh_url)
    for h in LOOKALIKE_IDS:
        assert _as(fresh_url, security.hospital_login(h), "select hospital_id from hospital.login_probe") == [(h,)]
    assert res["retired"] == ["hosp_hx_1"]
    logins = query(fresh_url, "select login, hospital_id from audit.hospital_logins")
    assert sorted(logins) == sorted((security.hospital_login(h), h) for h in LOOKALIKE_IDS)


def test_service_url_is_the_url_unchanged_unless_the_setting_is_on(monkeypatch):
    url = "postgresql://admin:pw@warehouse:5432/drgflow"
    monkeypatch.delenv("DRGFLOW_SERVICE_ROLES", raising=False)
    assert roles.service_url("loader", url) == url and roles.service_url("transformer", None) is None
    monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "on")
    monkeypatch.setenv("DRGFLOW_TRANSFORMER_PASSWORD", "from-the-environment")
    monkeypatch.delenv("DRGFLOW_LOADER_PASSWORD", raising=False)
    loader_params = psycopg.conninfo.conninfo_to_dict(roles.service_url("loader", url))
    assert loader_params["user"] == "drgflow_loader" and "password" not in loader_params  # never the admin's
    assert loader_params["host"] == "warehouse" and loader_params["dbname"] == "drgflow"
    assert transform.dbt_env(url)["DRGFLOW_DB_USER"] == "drgflow_transformer"
    assert transform.dbt_env(url)["DRGFLOW_DB_PASSWORD"] == "from-the-environment"
    monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "off")
    assert transform.dbt_env(url)["DRGFLOW_DB_USER"] == "admin"
    monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "maybe")
    with pytest.raises(UserError, match="DRGFLOW_SERVICE_ROLES"):
        roles.service_url("loader", url)
    with pytest.raises(ValueError):
        roles.service_url("analyst", url)


def test_role_passwords_reach_the_server_as_scram_verifiers_only():
    verifier = passwords.scram_verifier("correct horse battery staple")
    m = re.fullmatch(r"SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)", verifier)
    assert m, verifier
    salt, stored, server = (base64.b64decode(g) for g in m.groups())
    salted = hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", salt, 4096)
    assert stored == hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    assert server == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    # PostgreSQL stores a verifier as given (a clear-text password would be hashed again); rolled back
    with psycopg.connect(db.server_url("postgres")) as conn:
        role = f"drgflow_pwtest_{threading.get_ident() % 100000}"
        conn.execute(psycopg.sql.SQL("create role {}").format(psycopg.sql.Identifier(role)))
        passwords.set_password(conn, role, "correct horse battery staple")
        stored_row = conn.execute("select rolpassword from pg_authid where rolname = %s", (role,)).fetchone()
        assert stored_row[0].startswith("SCRAM-SHA-256$4096:") and "horse" not in stored_row[0]
        conn.rollback()


class _ActivityWatch(threading.Thread):
    """Samples pg_stat_activity of one database: (user, query) of every client session on it, the idle ones
    too (their last statement), until stopped."""

    def __init__(self, dbname: str):
        super().__init__(daemon=True)
        self.dbname, self.samples, self.done = dbname, set(), threading.Event()
        self.url = db.server_url("postgres")     # the admin's, before a test points DRGFLOW_DATABASE_URL elsewhere

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.is_set():
                self.samples |= set(conn.execute(
                    "select usename, left(query, 400) from pg_stat_activity where datname = %s and query <> ''"
                    " and backend_type = 'client backend'",   # parallel workers carry no user name
                    (self.dbname,)).fetchall())
                time.sleep(0.02)


def _denied(url: str, role: str, statement: str) -> bool:
    try:
        with psycopg.connect(roles.role_url(role, url)) as conn:
            conn.execute(statement)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException):
        return True
    return False


def _admin_sessions(url: str) -> list[tuple]:
    return query(url, "select usename, left(query, 80) from pg_stat_activity where datname = current_database()"
                      " and usename = current_user and pid <> pg_backend_pid() and backend_type = 'client backend'")


def test_a_pipeline_runs_as_the_service_roles(tmp_path, monkeypatch):
    """The deployment's set-up, DRGFLOW_SERVICE_ROLES=on: the admin initialises the warehouse, the roles and the
    reference data (deploy/airflow-init.sh); then the services run with no admin credentials at all: load +
    validate with DRGFLOW_DATABASE_URL = drgflow_loader's URL, group, calibrate, settle, close, reopen and every
    dbt run with drgflow_transformer's. No statement of the admin reaches the warehouse meanwhile."""
    monkeypatch.setenv("DRGFLOW_SHARED", str(tmp_path / "no-shared"))  # SAMPLE-DRG + sample terminology: small
    monkeypatch.delenv("DRGFLOW_SCHEME", raising=False)
    for role in roles.SERVICES.values():
        monkeypatch.delenv(f"{role.upper()}_PASSWORD", raising=False)
    name, url = create_database("drgflow_roles")
    watch = _ActivityWatch(name)
    admin_env = config.env("DRGFLOW_DATABASE_URL")
    try:
        # the admin step (airflow-init), the setting on as in the deployment
        monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "on")
        db.init_warehouse(url)
        security.init_roles(url)
        assert security.import_reference(url) == {"terminology": "imported", "schemes": {"SAMPLE-DRG": "imported"}}
        assert security.import_reference(url)["schemes"] == {"SAMPLE-DRG": "present"}
        data = tmp_path / "city"
        generate.generate_city(data, years=[2021, 2022, 2023, 2024], cases_per_year=250, hospitals=4, regions=1,
                               seed=9, defect_rate=0.03, split="year")
        for _ in range(250):     # the admin's sessions have ended before the services start
            if not _admin_sessions(url):
                break
            time.sleep(0.02)
        watch.start()
        # the loader's worker: its role's URL is the only one it has
        monkeypatch.setenv("DRGFLOW_DATABASE_URL", roles.role_url("drgflow_loader", url))
        results = loader.load_paths([data], None, progress=False)
        cases = [r for r in results if r.kind == "cases"]
        assert len(cases) == 4 and sum(r.rows_quarantined for r in cases) > 0
        validation.validate_pending(None, batch_id=cases[-1].batch_id, revalidate=True)
        # the transformer's
        monkeypatch.setenv("DRGFLOW_DATABASE_URL", roles.role_url("drgflow_transformer", url))
        scheme = config.default_scheme()[0]
        assert scheme == "SAMPLE-DRG"
        assert sum(grouping.group_cases(None, scheme).values()) > 0
        assert settlement.settle(2024, 6)["case_points"] > 0        # calibrates 2024 first
        settlement.close_period("2024-06")
        settlement.reopen_period("2024-06", "test: reopen as the transformer")
        settlement.settle(2024, 6)
        settlement.close_period("2024-06")      # closed again: the guards below are tried on it
    finally:
        watch.done.set()
        if watch.is_alive():
            watch.join(5)
        monkeypatch.delenv("DRGFLOW_SERVICE_ROLES")
        if admin_env is None:
            monkeypatch.delenv("DRGFLOW_DATABASE_URL", raising=False)
        else:
            monkeypatch.setenv("DRGFLOW_DATABASE_URL", admin_env)
    try:
        # who did what, as the warehouse recorded it
        assert {r[0] for r in query(url, "select loaded_by from audit.batches")} == {"drgflow_loader"}
        actors = dict(query(url, "select event, string_agg(distinct actor, ',') from audit.log"
                                 " where event not in ('roles') group by event"))
        assert actors["load"] == "drgflow_loader"
        for event in ("calibrate", "settle", "close", "reopen"):
            assert actors[event] == "drgflow_transformer", (event, actors)
        assert {r[0] for r in query(url, "select run_by from audit.runs")} == {"drgflow_transformer"}
        assert query(url, "select by_user from audit.period_events order by event_id") == [
            ("drgflow_transformer",)] * 3                     # close, reopen, close
        # what each built belongs to it: dbt relations and seeds to the transformer, validation's work to the loader
        owners = dict(query(url, """select n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner)
                                    from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                    where c.relkind in ('r', 'p', 'v') and n.nspname in
                                          ('staging', 'intermediate', 'marts', 'ref', 'audit')"""))
        built = {k: v for k, v in owners.items() if k.split(".")[0] in ("staging", "intermediate", "marts")}
        assert {"marts.case_grouping", "marts.case_points", "marts.settlement_monthly",
                "staging.stg_raw__cases"} <= set(built)
        assert set(built.values()) == {"drgflow_transformer"}
        assert owners["ref.policy_parameters"] == "drgflow_transformer"
        assert owners["ref.scheme_drg"] != "drgflow_transformer"          # imported by the admin
        assert owners["audit.rule_flags"] == owners["audit.rule_sex_dx"] == "drgflow_loader"   # it can analyze them
        assert owners["audit.log"] not in ("drgflow_loader", "drgflow_transformer")
        # dbt's on-run-end hook (as the transformer) recreated the per-hospital views
        views = {r[0] for r in query(url, "select table_name from information_schema.views"
                                          " where table_schema = 'hospital'")}
        assert {"case_points", "settlement_monthly"} <= views
        # pg_stat_activity while it ran: dbt's statements (query comment "app": "dbt") came from the transformer,
        # COPY into raw and validation's work tables from the loader, the settlement bookkeeping from the transformer
        by_user: dict[str, list[str]] = {}
        for user, text in watch.samples:
            by_user.setdefault(user, []).append(text)
        admin = query(url, "select current_user")[0][0]
        assert admin not in by_user and set(by_user) <= {"drgflow_loader", "drgflow_transformer"}, by_user.keys()
        dbt_users = {u for u, t in watch.samples if '"app": "dbt"' in t}
        assert dbt_users == {"drgflow_transformer"}, by_user.keys()
        # (statements, not table names: the admin's schema DDL names every table)
        loader_work = re.compile(r"(?i)copy raw\.|create unlogged table audit\.(case_typed|rule_)"
                                 r"|insert into audit\.(quarantine|rule_results)")
        loader_users = {u for u, t in watch.samples if loader_work.search(t)}
        assert loader_users <= {"drgflow_loader"}, loader_users
        bookkeeping = re.compile(r"(?i)insert into audit\.(runs|calibrations|period_events|run_inputs"
                                 r"|closed_period_cases)|update audit\.(runs|periods)")
        runs_users = {u for u, t in watch.samples if bookkeeping.search(t)}
        assert runs_users <= {"drgflow_transformer"}, runs_users
        # and neither can do the other's work
        assert _denied(url, "drgflow_loader", "create table marts.loader_was_here (i int)")
        assert _denied(url, "drgflow_loader", "create or replace view marts.case_points as select 1 as x")
        assert _denied(url, "drgflow_loader", "drop table marts.case_points")
        assert _denied(url, "drgflow_loader", "delete from marts.case_points")
        assert _denied(url, "drgflow_loader", "create table raw.loader_was_here (i int)")   # no DDL in raw
        assert _denied(url, "drgflow_loader", "update raw.cases set total_cost = '0'")
        assert _denied(url, "drgflow_loader", "update audit.periods set status = 'open'")
        assert _denied(url, "drgflow_transformer", "insert into raw.cases (hospital_id) values ('X')")
        assert _denied(url, "drgflow_transformer", "delete from raw.cases")
        assert _denied(url, "drgflow_transformer", "create table raw.transformer_was_here (i int)")
        assert _denied(url, "drgflow_transformer", "update audit.batches set rows_read = 0")
        assert _denied(url, "drgflow_transformer", "delete from audit.quarantine")
        assert _denied(url, "drgflow_transformer", "insert into ref.scheme_drg select * from ref.scheme_drg")
        assert _denied(url, "drgflow_analyst", "select hospital.refresh_views()")
        # each service logs only its own events, under its own name (issue 18 #18)
        assert _denied(url, "drgflow_loader", "insert into audit.log (event, subject) values ('close', '2024-06')")
        assert _denied(url, "drgflow_transformer", "insert into audit.log (event, subject) values ('load', 'x.csv')")
        assert not _denied(url, "drgflow_loader", "insert into audit.log (event, subject, actor) values "
                                                  "('load_refused', 'x.csv', 'someone else')")
        assert query(url, "select actor from audit.log where event = 'load_refused' and subject = 'x.csv'") == [
            ("drgflow_loader",)]
        # a closed period is immutable for every service role, the owner of the marts included (issue 18 #15)
        for statement in ("truncate marts.settlement_monthly",
                          "alter table marts.settlement_monthly disable trigger settlement_monthly_closed",
                          "alter table marts.settlement_monthly disable trigger all",
                          "drop trigger settlement_monthly_closed on marts.settlement_monthly",
                          "drop table marts.settlement_monthly cascade",
                          "update audit.periods set status = 'open' where period = '2024-06'",
                          "delete from audit.closed_period_cases where period = '2024-06'",
                          "delete from marts.settlement_monthly where period = '2024-06'"):
            assert _denied(url, "drgflow_transformer", statement), statement
        assert query(url, "select status from audit.periods where period = '2024-06'") == [("closed",)]
        # reopening with a logged reason still works
        with psycopg.connect(roles.role_url("drgflow_transformer", url)) as conn:
            conn.execute("insert into audit.period_events (period, action, reason) values ('2024-06', 'reopen', 'x')")
            conn.execute("update audit.periods set status = 'open' where period = '2024-06'")
    finally:
        drop_database(name)


def test_a_service_role_runs_no_ddl_or_import_but_names_the_admin_step(tmp_path, monkeypatch):
    """DRGFLOW_SERVICE_ROLES=on with only a role's URL: an uninitialised (or older) warehouse and missing reference
    data are UserErrors naming the admin's commands; nothing is created or imported as the role."""
    monkeypatch.setenv("DRGFLOW_SHARED", str(tmp_path / "no-shared"))
    for role in roles.SERVICES.values():
        monkeypatch.delenv(f"{role.upper()}_PASSWORD", raising=False)
    name, url = create_database("drgflow_noadmin")
    admin_env = config.env("DRGFLOW_DATABASE_URL")
    loader_url, transformer_url = (roles.role_url(r, url) for r in ("drgflow_loader", "drgflow_transformer"))
    try:
        security.init_roles(url, hospital_logins=False)     # the roles exist cluster-wide; makes this db current
        with db.transaction(url) as conn:
            conn.execute("comment on schema audit is 'drgflow warehouse schema of another version'")
        monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "on")
        monkeypatch.setenv("DRGFLOW_DATABASE_URL", loader_url)
        with pytest.raises(UserError, match=r"not initialised by this version.*drgflow db init.*init-roles"):
            db.init_warehouse()
        monkeypatch.setenv("DRGFLOW_DATABASE_URL", transformer_url)
        with pytest.raises(UserError, match=r"drgflow db init"):
            settlement.settle(2024, 6)
        db.init_warehouse(url)                              # the admin upgrades
        db.init_warehouse()                                 # and the role's check passes
        with pytest.raises(UserError, match=r"drgflow terminology import.*drgflow scheme import \S+SAMPLE-DRG"
                                            r" --version SAMPLE-DRG"):
            grouping.group_cases(None, "SAMPLE-DRG")
        with pytest.raises(UserError, match=r"drgflow terminology import"):
            validation.ensure_terminology(loader_url)
        security.import_reference(url, schemes=[])          # the admin imports the terminology only
        with pytest.raises(UserError, match=r"^scheme SAMPLE-DRG is not imported.*drgflow scheme import"):
            grouping.ensure_reference(None, "SAMPLE-DRG")
        validation.ensure_terminology(loader_url)
        # nothing was imported as a role
        assert query(url, "select count(*) from ref.scheme_version") == [(0,)]
        # with the setting off the same call imports, as before (here as the admin)
        monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "off")
        grouping.ensure_reference(url, "SAMPLE-DRG")
        assert query(url, "select scheme_version from ref.scheme_version") == [("SAMPLE-DRG",)]
    finally:
        monkeypatch.delenv("DRGFLOW_SERVICE_ROLES", raising=False)
        if admin_env is None:
            monkeypatch.delenv("DRGFLOW_DATABASE_URL", raising=False)
        else:
            monkeypatch.setenv("DRGFLOW_DATABASE_URL", admin_env)
        drop_database(name)
    # an empty database: the role cannot initialise it
    name, url = create_database("drgflow_empty")
    try:
        monkeypatch.setenv("DRGFLOW_SERVICE_ROLES", "on")
        with pytest.raises(UserError, match=r"not initialised \(missing raw, audit.*drgflow db init"):
            loader.load_paths([tmp_path], roles.role_url("drgflow_loader", url), progress=False)
        assert query(url, "select count(*) from pg_namespace where nspname in ('raw', 'audit')") == [(0,)]
    finally:
        drop_database(name)


def test_the_deployment_connects_the_services_as_their_roles():
    import yaml

    compose = yaml.safe_load((config.REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("airflow-worker", "airflow-init"):
        env = compose["services"][name]["environment"]
        assert env["DRGFLOW_SERVICE_ROLES"] == "${DRGFLOW_SERVICE_ROLES:-on}"
        assert env["DRGFLOW_LOADER_PASSWORD"] == "${DRGFLOW_LOADER_PASSWORD}"          # from .env, never inline
        assert env["DRGFLOW_TRANSFORMER_PASSWORD"] == "${DRGFLOW_TRANSFORMER_PASSWORD}"
    example = (config.REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.search(r"(?m)^DRGFLOW_SERVICE_ROLES=on$", example)
    init = (config.REPO_ROOT / "deploy" / "airflow-init.sh").read_text(encoding="utf-8")
    assert "security.init_roles(" in init      # the roles get their passwords before any task runs


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
