"""Terminology import into ref.* (real PostgreSQL)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import query
from drgflow.errors import UserError
from drgflow.schemes.terminology import SAMPLE_DIR, import_terminology


def test_sample_terminology_loads_and_is_idempotent(fresh_url):
    first = import_terminology(fresh_url, folder=SAMPLE_DIR)
    second = import_terminology(fresh_url, folder=SAMPLE_DIR)
    assert first == second and first["sample"] is True
    n_dx = query(fresh_url, "select count(*) from ref.dx_catalogue")[0][0]
    assert n_dx == first["dx_catalogue"] and 100 < n_dx < 300
    # every catalogue code maps to itself, and the undotted variants map to the dotted code
    assert query(fresh_url, "select code from ref.dx_variant_map where variant = 'A41900'") == [("A41.900",)]
    assert query(fresh_url, "select count(*) from ref.dx_catalogue c left join ref.dx_variant_map m "
                            "on m.variant = c.code where m.code is distinct from c.code")[0][0] == 0


def test_shared_terminology_when_present(fresh_url, shared_dir):
    if shared_dir is None:
        pytest.skip("no ../shared on this machine")
    r = import_terminology(fresh_url)
    assert r["sample"] is False
    assert r["dx_catalogue"] > 33000 and r["px_catalogue"] > 13000


def test_missing_file_is_a_clear_error(fresh_url, tmp_path: Path):
    (tmp_path / "icd10_sample.txt").write_text("A00.000 霍乱\n", encoding="utf-8")
    with pytest.raises(UserError, match="terminology file missing"):
        import_terminology(fresh_url, folder=tmp_path)
