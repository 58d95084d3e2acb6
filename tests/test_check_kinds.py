"""Every check kind of the rule catalogue against its own cases (tests/validation_cases/<kind>.yml), as
sqlfluff keeps one rule per file with its YAML cases: a new kind is a module in
plugins/drgflow/validation/checks/ and a file of cases here. Real PostgreSQL, the flags SQL of the real
validation (drgflow.validation.flag_batch), no Great Expectations run."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import create_database, drop_database, query
from drgflow import db, loader, validation
from drgflow.schemes.terminology import import_terminology
from drgflow.validation import checks
from drgflow.validation.catalogue import Catalogue, parse_rule
from test_validation import _row, _write_cases

CASES = Path(__file__).parent / "validation_cases"


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(CASES.glob("*.yml")):
        for n, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8")), start=1):
            docs.append((f"{path.stem}#{n}", doc))
    return docs


@pytest.fixture(scope="module")
def codes(tmp_path_factory):
    """A warehouse with the terminology and two registry hospitals, and codes of its catalogue."""
    name, url = create_database("drgflow_kinds")
    db.init_warehouse(url)
    import_terminology(url)
    folder = tmp_path_factory.mktemp("registry")
    (folder / "hospitals.csv").write_text("hospital_id,hospital_name,level,hospital_type,region_code\n"
                                          "H001,一院,3,general,330102\nH002,二院,2,general,330102\n", encoding="utf-8")
    loader.load_paths([folder / "hospitals.csv"], url=url, progress=False)
    one = lambda text: query(url, text)[0][0]  # noqa: E731
    found = {
        "dx": one("select min(code) from ref.dx_catalogue where code ~ '^[IJK][0-9]{2}[.]' and code !~ '[+*]'"),
        "dx2": one("select max(code) from ref.dx_catalogue where code ~ '^[EJ][0-9]{2}[.]' and code !~ '[+*]'"),
        "px": one("select min(code) from ref.px_catalogue"),
        "variant": one("select m.variant from ref.dx_variant_map m join ref.dx_catalogue c on c.code = m.code"
                       " where m.variant <> m.code and not exists (select 1 from ref.dx_catalogue v"
                       " where v.code = m.variant) order by m.variant limit 1"),
    }
    yield url, found
    drop_database(name)


def test_every_kind_has_cases_on_both_sides():
    covered: dict[str, set] = {}
    for _, doc in _documents():
        outcomes = {c["fails"] is None for c in doc["cases"]}
        covered.setdefault(doc["rule"]["check"], set()).update(outcomes)
    assert set(covered) == set(checks.KINDS)
    assert all(sides == {True, False} for sides in covered.values()), covered


@pytest.mark.parametrize(("name", "doc"), _documents(), ids=[n for n, _ in _documents()])
def test_check_kind_cases(codes, tmp_path, name, doc):
    url, found = codes
    entry = {"id": "case_rule", "severity": "reject", "reason": "test", "message_zh": "测试", "message_en": "test",
             **doc["rule"]}
    rule = parse_rule(entry, name)
    cat = Catalogue("test", "0", [rule], tmp_path / "rules.yml")

    def fill(row: dict) -> dict:
        return {k: str(v).format(**found) for k, v in row.items()}

    if doc.get("history"):
        hist = [_row(**({"case_id": f"HIST{i}", "dx_codes": "I21.000"} | fill(r)))
                for i, r in enumerate(doc["history"])]
        loader.load_paths([_write_cases(tmp_path / f"history_{name.replace('#', '_')}.csv", hist)], url=url,
                          validate=False, progress=False)
    rows = [_row(**({"case_id": f"R{i}", "dx_codes": "I21.000"} | fill(c["row"]))) for i, c in enumerate(doc["cases"])]
    result = loader.load_paths([_write_cases(tmp_path / f"cases_{name.replace('#', '_')}.csv", rows)], url=url,
                               validate=False, progress=False)[0]
    flagged = validation.flag_batch(url, cat, result.batch_id)
    got = [flagged.get(n, {}).get("case_rule") for n in range(1, len(rows) + 1)]
    want = [c["fails"] for c in doc["cases"]]
    assert got == want, f"{name}: {list(zip(doc['cases'], got, strict=True))}"
