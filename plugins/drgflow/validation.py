"""Batch validation gate (rule catalogue + Great Expectations arrive with the validation issue).

Until then every parsed row is accepted: the loader already recorded rows_accepted = rows_read.
"""
from __future__ import annotations

from drgflow import db


def validate_batch(result, url: str | None = None) -> None:
    with db.transaction(url) as conn:
        conn.execute(
            "update audit.batches set status = 'validated', validated_at = now() where batch_id = %s",
            (result.batch_id,),
        )
