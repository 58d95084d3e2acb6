"""Test fixtures: a real PostgreSQL (DRGFLOW_DATABASE_URL's server, else the embedded one) with a fresh
database per test session or per test, so parallel runs and developers never share state."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from drgflow import config, db

REPO = config.REPO_ROOT


def pytest_collection_finish(session: pytest.Session) -> None:
    """Airflow fixes its configuration (AIRFLOW_HOME, metadata database) when first imported. A test module that
    imports Airflow at top level would fix it before tests/test_dags.py sets its temporary Airflow home, and
    the DAG tests would then fail far from the cause (on SQLite: "no such table: variable")."""
    if "airflow.settings" in sys.modules:
        raise pytest.UsageError("a test module imported Airflow at collection time; import drgflow.airflow "
                                "inside the test instead (Airflow reads its configuration once, on import)")


def create_database(prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return name, db.server_url(name)


def drop_database(name: str) -> None:
    with psycopg.connect(db.server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """A fresh warehouse database for the whole session (schemas initialised)."""
    name, url = create_database("drgflow_test")
    db.init_warehouse(url)
    yield url
    drop_database(name)


@pytest.fixture
def fresh_url() -> str:
    """A fresh warehouse database for one test."""
    name, url = create_database("drgflow_t")
    db.init_warehouse(url)
    yield url
    drop_database(name)


@pytest.fixture
def use_database(monkeypatch):
    """Point the CLI and package at a given database URL: use_database(url)."""
    def _use(url: str) -> None:
        monkeypatch.setenv("DRGFLOW_DATABASE_URL", url)
    return _use


@pytest.fixture(scope="session")
def shared_dir() -> Path | None:
    return config.shared_dir()


def query(url: str, text: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(text, params).fetchall()
