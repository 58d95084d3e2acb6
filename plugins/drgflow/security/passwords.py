"""Role passwords: set as SCRAM-SHA-256 verifiers, so the clear text never reaches the server or its log."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg
from psycopg import sql

from drgflow import config


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """SCRAM-SHA-256 verifier of a password (RFC 7677), so the clear text never reaches the server or its log."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


def set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """ALTER ROLE … PASSWORD with the verifier of `password`."""
    conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role),
                                                              sql.Literal(scram_verifier(password))))


def set_passwords(conn: psycopg.Connection, roles: dict[str, str]) -> None:
    """Give each login role the password its service is configured with (DRGFLOW_<ROLE>_PASSWORD), if any."""
    for role in roles:
        password = config.env(f"{role.upper()}_PASSWORD")
        if password and role != "drgflow_hospital":
            set_password(conn, role, password)
