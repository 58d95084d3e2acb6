"""CHS-DRG 2.0 beside 1.1 (issue 19): the JSON pack's import and its refusals, the version of each settlement
year (drgflow scheme assign), and the transition report between two versions. The grouping itself is checked
against the independent 2.0 oracle in tests/test_grouping_differential.py."""
from __future__ import annotations

import json
import shutil

import psycopg
import pytest

from conftest import query
from drgflow import grouping
from drgflow.cli import main
from drgflow.errors import UserError
from drgflow.reports import regional
from drgflow.schemes.importer import import_scheme
from drgflow.schemes.years import assign_scheme
from test_grouping_support import load_cases

V2 = "CHS-DRG-2.0"


@pytest.fixture
def pack20(shared_dir):
    if shared_dir is None or not (shared_dir / "schemes" / V2).is_dir():
        pytest.skip("no ../shared/schemes/CHS-DRG-2.0 on this machine")
    return shared_dir / "schemes" / V2


def test_chs20_import_counts_switches_and_report(fresh_url, pack20):
    report = import_scheme(pack20, V2, fresh_url)
    assert (report["mdc"], report["adrg"], report["drg"]) == (26, 409, 634)
    assert (report["mcc"], report["cc"], report["exclusion_tables"]) == (4477, 8009, 211)
    assert (report["px_non_or"], report["dx_invalid"]) == (1822, 1849)
    part = report["exclusion_partition"]
    assert part["in_two_tables"] == 0 and part["in_no_table"] > 0  # reported, not assumed
    assert query(fresh_url, "select non_or_listed, qy_enabled from ref.scheme_version where scheme_version = %s",
                 (V2,)) == [(True, True)]
    entry = dict(query(fresh_url, "select mdc, any_dx::text || without_list::text from ref.scheme_mdc "
                                  "where scheme_version = %s and mdc in ('P', 'Y', 'B')", (V2,)))
    assert entry == {"P": "falsetrue", "Y": "truefalse", "B": "falsefalse"}
    kinds = dict(query(fresh_url, "select cond_kind, count(*) from ref.scheme_adrg_cond where scheme_version = %s "
                                  "group by 1", (V2,)))
    assert kinds["sdx"] > 0 and kinds["no_ppx_or"] == 1 and kinds["ppx_or"] == 4
    # IB1's formula: 主要诊断+主要手术或操作 1 或 主要手术或操作 2 或 手术或操作 3+手术或操作 4
    ib1 = query(fresh_url, "select alt_no, cond_kind from ref.scheme_adrg_cond where scheme_version = %s and "
                           "adrg = 'IB1' order by cond_no", (V2,))
    assert ib1 == [(1, "pdx"), (1, "ppx"), (2, "ppx"), (3, "any_px"), (3, "any_px")]


@pytest.mark.parametrize("damage, message", [
    ("drop_adrg", "generated/adrg_rules.json: 408 ADRG parsed, the scheme has 409"),
    ("bad_table", "generated/mcc_codes.json: code A00.100x001: exclusion table 'x' is not a number"),
    ("bad_json", "generated/cc_codes.json: not valid UTF-8 JSON"),
    ("unknown_section", "cannot read section name '主诊断'"),
])
def test_a_damaged_chs20_pack_is_refused_naming_the_file(fresh_url, pack20, tmp_path, damage, message):
    copy = tmp_path / "pack"
    shutil.copytree(pack20, copy)
    gen = copy / "generated"
    if damage == "drop_adrg":
        rules = json.loads((gen / "adrg_rules.json").read_text(encoding="utf-8"))
        (gen / "adrg_rules.json").write_text(json.dumps(rules[:-1], ensure_ascii=False), encoding="utf-8")
    elif damage == "bad_table":
        mcc = json.loads((gen / "mcc_codes.json").read_text(encoding="utf-8"))
        mcc["A00.100x001"] = "x"
        (gen / "mcc_codes.json").write_text(json.dumps(mcc), encoding="utf-8")
    elif damage == "bad_json":
        (gen / "cc_codes.json").write_text('{"A01.200": "1",', encoding="utf-8")
    else:
        rules = json.loads((gen / "adrg_rules.json").read_text(encoding="utf-8"))
        qs3 = next(r for r in rules if r["code"] == "QS3")
        qs3["rule"]["sections"] = {"主诊断": qs3["rule"]["sections"]["主要诊断"]}
        (gen / "adrg_rules.json").write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(UserError) as err:
        import_scheme(copy, V2, fresh_url)
    assert message in str(err.value)
    assert query(fresh_url, "select count(*) from ref.scheme_version where scheme_version = %s", (V2,)) == [(0,)]


def test_assigning_an_unknown_version_is_refused(fresh_url):
    with pytest.raises(UserError, match="CHS-DRG-9.9 is not imported"):
        assign_scheme("CHS-DRG-9.9", 2025, fresh_url)
    with pytest.raises(UserError, match="not a year"):
        assign_scheme("SAMPLE-DRG", 25, fresh_url)


CASES = [  # (case, settlement year)
    ({"case_id": "EX1", "sex": "1", "age_years": "45", "dx_codes": "K80.101|I50.900", "px_codes": "51.2300"}, 2025),
    ({"case_id": "EX2", "sex": "1", "age_years": "45", "dx_codes": "K80.101", "px_codes": "51.2300"}, 2025),
    ({"case_id": "PN1", "sex": "2", "age_years": "70", "dx_codes": "J18.900|E87.600", "px_codes": ""}, 2025),
    ({"case_id": "OLD", "sex": "1", "age_years": "60", "dx_codes": "J18.900", "px_codes": ""}, 2024),
]


def test_years_use_their_assigned_version_and_the_transition_report_pairs_both(fresh_url, pack20, tmp_path,
                                                                                monkeypatch, capsys):
    monkeypatch.setenv("DRGFLOW_SCHEME", "CHS-DRG-1.1")
    load_cases(fresh_url, tmp_path, [{**c, "settle_date": f"{y}-03-10", "admit_date": f"{y}-03-01",
                                      "discharge_date": f"{y}-03-08"} for c, y in CASES])
    import_scheme(pack20, V2, fresh_url)
    assert grouping.scheme_for_year(2025, fresh_url) == "CHS-DRG-1.1"
    monkeypatch.setenv("DRGFLOW_DATABASE_URL", fresh_url)
    assert main(["scheme", "assign", V2, "--from-year", "2025", "--note", "national 2.0"]) == 0
    assert grouping.scheme_for_year(2024, fresh_url) == "CHS-DRG-1.1"
    assert grouping.scheme_for_year(2026, fresh_url) == V2
    assert main(["scheme", "list"]) == 0
    assert "settlement years from 2025: CHS-DRG-2.0 (national 2.0)" in capsys.readouterr().out

    result = grouping.transition(2025, url=fresh_url)
    assert (result["from_version"], result["to_version"]) == ("CHS-DRG-1.1", V2)
    # only 2025's cases are compared; every one of them is paired under both versions
    assert result["cases"] == 3
    drgs = dict(query(fresh_url, "select case_id, drg from marts.case_grouping where scheme_version = %s", (V2,)))
    assert drgs["EX1"] == "HC23"  # the published 2.0 example
    matrix = query(fresh_url, "select sum(cases) from marts.grouping_transition where year = 2025")
    assert matrix == [(3,)]
    changed = query(fresh_url, "select case_id, from_drg, to_drg, change_kind, from_trace, to_trace "
                               "from marts.grouping_transition_cases where year = 2025")
    assert result["drg_changed"] == len(changed)
    for _case, before, after, change, trace_before, trace_after in changed:
        assert before != after and change in ("mdc", "adrg", "split", "status")
        assert "ADRG" in trace_before + trace_after  # a hospital sees the rule of both groupings
    hospitals = query(fresh_url, "select scheme_version, cases, grouping_rate from marts.grouping_transition_hospitals"
                                 " where year = 2025 order by 1")
    assert [h[0] for h in hospitals] == ["CHS-DRG-1.1", V2] and all(h[1] == 3 for h in hospitals)
    assert all(0 <= h[2] <= 1 for h in hospitals)
    with psycopg.connect(fresh_url) as conn:
        section = regional.transition(conn, 2025, V2)
    assert section["from"] == "CHS-DRG-1.1" and section["cases"] == 3
    assert sum(section["kinds"].values()) == len(changed)
