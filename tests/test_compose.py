"""docker-compose.yml (no Docker engine here): it parses, its services reference files and folders that exist,
its drgflow settings are the package's own names (drgflow.config.SETTINGS), and every ${VAR} it needs is in
.env.example."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from drgflow import config

REPO = config.REPO_ROOT
COMPOSE = REPO / "docker-compose.yml"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_services_of_a_production_like_deployment(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"warehouse", "airflow-db", "redis", "docs", "airflow-init"} <= set(services)
    assert services["warehouse"]["image"].startswith("postgres:16")
    assert services["airflow-db"]["image"].startswith("postgres:")
    assert services["docs"]["image"].startswith("nginx")
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                        "airflow-worker": "celery worker"}
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        # Airflow's metadata lives in its own PostgreSQL, never in the warehouse
        assert "@airflow-db:" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_referenced_files_exist(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = REPO / build["context"]
            assert (context / build["dockerfile"]).is_file(), f"{name}: Dockerfile missing"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: mounted {source} does not exist"
            elif not source.startswith("${"):
                assert source in compose["volumes"], f"{name}: named volume {source} is not declared"
    # what the Dockerfile copies exists too
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO / src).exists(), f"Dockerfile copies {src}, which does not exist"
    env = compose["services"]["airflow-scheduler"]["environment"]
    container_repo = Path("/opt/drgflow")
    for key in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER"):
        inside = Path(env[key]).relative_to(container_repo)
        assert (REPO / inside).is_dir(), f"{key} points at {inside}, not a folder of the repo"
    plugin = REPO / Path(env["AIRFLOW__CORE__PLUGINS_FOLDER"]).relative_to(container_repo)
    assert "PeriodTimetable" in "".join(f.read_text() for f in plugin.glob("*.py"))
    nginx = (REPO / "deploy" / "nginx.conf").read_text()
    assert "/reports/" in nginx and "/dbt-docs/" in nginx and "/data-docs/" in nginx


def test_settings_are_the_package_names_and_env_example_covers_them(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    used = set(re.findall(r"\b(DRGFLOW_[A-Z_]+)\s*:", text))
    assert used, "compose sets no drgflow setting"
    unknown = used - set(config.SETTINGS)
    assert not unknown, f"not drgflow.config settings: {sorted(unknown)}"
    # the settings a deployment must decide are all set
    assert {"DRGFLOW_DATABASE_URL", "DRGFLOW_HOME", "DRGFLOW_LANDING", "DRGFLOW_REPORTS",
            "DRGFLOW_PSEUDONYM_KEY"} <= used
    example = _env_example()
    required = {m.group(1) for m in re.finditer(r"\$\{([A-Z_]+)\}", text)}
    missing = required - set(example)
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert set(k for k in example if k.startswith("DRGFLOW_")) <= set(config.SETTINGS)
    # the warehouse URL of .env.example points at the warehouse service with its credentials
    url = example["DRGFLOW_DATABASE_URL"]
    assert url == "postgresql://${WAREHOUSE_USER}:${WAREHOUSE_PASSWORD}@warehouse:5432/${WAREHOUSE_DB}"
    assert {"WAREHOUSE_USER", "WAREHOUSE_PASSWORD", "WAREHOUSE_DB"} <= set(example)


def test_workers_scale_and_docs_serve_the_drgflow_home(compose):
    worker = compose["services"]["airflow-worker"]
    assert worker["deploy"]["replicas"] >= 2
    docs = compose["services"]["docs"]
    assert any(v.startswith("drgflow-home:/srv/drgflow") and v.endswith(":ro") for v in docs["volumes"])
    home = compose["services"]["airflow-scheduler"]["environment"]["DRGFLOW_HOME"]
    assert any(v.startswith(f"drgflow-home:{home}") for v in worker["volumes"])


def test_only_airflow_init_gets_the_warehouse_admin(compose):
    """The long-running Airflow containers connect as drgflow_loader / drgflow_transformer only: no admin URL, user
    or password in their environment; airflow-init (db init, init-roles, reference imports) has the admin's URL."""
    admin_vars = ("${DRGFLOW_DATABASE_URL}", "${WAREHOUSE_PASSWORD}", "${WAREHOUSE_USER}")
    example = _env_example()
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        leaked = {k: v for k, v in env.items() if any(a in str(v) for a in admin_vars)
                  or (example["WAREHOUSE_PASSWORD"] in str(v))}
        assert not leaked, f"{name} gets the warehouse admin's credentials: {sorted(leaked)}"
        assert env["DRGFLOW_SERVICE_ROLES"] == "${DRGFLOW_SERVICE_ROLES:-on}"
        user = re.match(r"postgresql://([^:@/]+)[:@]", env["DRGFLOW_DATABASE_URL"]).group(1)
        assert user in ("drgflow_loader", "drgflow_transformer"), f"{name} connects as {user}"
        assert "${DRGFLOW_TRANSFORMER_PASSWORD}" in env["DRGFLOW_DATABASE_URL"]
        assert "@warehouse:5432/${WAREHOUSE_DB}" in env["DRGFLOW_DATABASE_URL"]   # the admin URL's server
    init = compose["services"]["airflow-init"]
    assert init["environment"]["DRGFLOW_DATABASE_URL"] == "${DRGFLOW_DATABASE_URL}"
    script = (REPO / "deploy" / "airflow-init.sh").read_text(encoding="utf-8")
    for step in ("db.init_warehouse(", "security.init_roles(", "security.import_reference("):
        assert step in script, f"airflow-init.sh does not run {step}"
