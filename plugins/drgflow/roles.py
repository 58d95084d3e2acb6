"""Which database role each drgflow service connects as (DRGFLOW_SERVICE_ROLES); the roles themselves and
their grants are created by drgflow.security (`drgflow db init-roles`)."""
from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from drgflow import config, db

#: the services and the role each connects as when DRGFLOW_SERVICE_ROLES is on
SERVICES = {"loader": "drgflow_loader", "transformer": "drgflow_transformer"}


def service_url(service: str, url: str | None = None) -> str | None:
    """The URL a service connects with: its role's (role_url) when DRGFLOW_SERVICE_ROLES is on, else `url`
    unchanged. Services: loader (load, validate), transformer (dbt, calibrate, settle, close, reopen)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r} (one of {', '.join(SERVICES)})")
    if not config.service_roles():
        return url
    return role_url(SERVICES[service], url)


def role_url(role: str, url: str | None = None) -> str:
    """The warehouse URL with another user (password from DRGFLOW_<ROLE>_PASSWORD when the server needs one)."""
    params = conninfo_to_dict(url or db.database_url())
    params["user"] = role
    password = config.env(f"{role.upper()}_PASSWORD")
    params.pop("password", None)
    if password:
        params["password"] = password
    return make_conninfo(**params)
