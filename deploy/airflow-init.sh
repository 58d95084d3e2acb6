#!/usr/bin/env bash
# One-shot initialisation: Airflow's metadata schema, the admin password, the warehouse schemas, the
# least-privilege roles with the services' passwords (drgflow db init-roles), the dbt manifest the DAGs render
# from, and the landing sub-folders. Idempotent: runs on every `docker compose up`.
set -euo pipefail
airflow db migrate
mkdir -p "$(dirname "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")"
printf '{"admin": "%s"}\n' "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
python - <<'PY'
from drgflow import config, db, security
from drgflow.airflow.dbt import ensure_manifest
from drgflow.airflow.tasks import landing_dir

db.init_warehouse(db.database_url())
# roles, grants, ownership of what dbt and validation replace, DRGFLOW_<ROLE>_PASSWORD as the roles' passwords
roles = security.init_roles(db.database_url())
print("roles:", ", ".join(security.ROLES), "| services connect as their roles:", config.service_roles(),
      "| hospital logins:", roles["hospital_logins"])
print("manifest:", ensure_manifest())
print("landing:", landing_dir())
PY
