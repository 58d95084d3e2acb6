"""Parameter checks several kinds share."""
from __future__ import annotations

from drgflow import contract
from drgflow.errors import UserError


def require_case_columns(columns: list, where: str) -> None:
    """UserError unless every name is a column of the case file (contract.CASE_COLUMNS)."""
    for col in columns:
        if col not in contract.CASE_COLUMNS:
            raise UserError(f"{where}: {col!r} is not a case column")
