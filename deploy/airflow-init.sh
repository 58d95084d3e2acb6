#!/usr/bin/env bash
# One-shot initialisation, the only container with the warehouse admin's URL (DRGFLOW_DATABASE_URL of .env):
# Airflow's metadata schema, the admin password, the warehouse schemas (drgflow db init), the
# least-privilege roles with the services' passwords (drgflow db init-roles), the reference data the services
# group with (terminology, configured scheme versions: drgflow terminology import / scheme import), the dbt
# manifest the DAGs render from, and the landing sub-folders. Idempotent: runs on every `docker compose up`.
# The other Airflow containers connect as drgflow_loader / drgflow_transformer and run no DDL or import.
set -euo pipefail
airflow db migrate
mkdir -p "$(dirname "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")"
printf '{"admin": "%s"}\n' "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
python - <<'PY'
from drgflow import config, db, security
from drgflow.airflow.dbt import ensure_manifest
from drgflow.airflow.tasks import landing_dir

url = db.database_url()
db.init_warehouse(url)                      # drgflow db init
# roles, grants, ownership of what dbt and validation replace, DRGFLOW_<ROLE>_PASSWORD as the roles' passwords
roles = security.init_roles(url)            # drgflow db init-roles
print("roles:", ", ".join(security.ROLES), "| services connect as their roles:", config.service_roles(),
      "| hospital logins:", roles["hospital_logins"])
# terminology when ref has none, every configured scheme version (a no-op when the same pack is imported)
ref = security.import_reference(url)        # drgflow terminology import; drgflow scheme import PATH --version V
print("reference: terminology", ref["terminology"], "| schemes:",
      ", ".join(f"{v} {state}" for v, state in ref["schemes"].items()))
print("manifest:", ensure_manifest())
print("landing:", landing_dir())
PY
