"""The warehouse admin's security work, one module per job: roles and grants (grants), per-hospital logins
(logins), role passwords (passwords), the reference import (reference), backup and restore (backup)."""
from drgflow.security.backup import backup, restore
from drgflow.security.grants import ROLES, init_roles
from drgflow.security.logins import hospital_login
from drgflow.security.reference import configured_schemes, import_reference

__all__ = ["ROLES", "backup", "configured_schemes", "hospital_login", "import_reference", "init_roles", "restore"]
