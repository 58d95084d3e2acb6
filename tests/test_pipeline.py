"""End to end, as `make demo` runs it: generate → load/validate → group → calibrate → 12 closed months →
annual settlement → reports, on a small city; then the properties that must hold for the whole."""
from __future__ import annotations

import re

import pytest

from conftest import create_database, drop_database, query
from drgflow import cli, config, pipeline, settlement


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo pipeline into its own database and DRGFLOW_HOME."""
    home = tmp_path_factory.mktemp("home")
    name, url = create_database("drgflow_demo")
    try:
        with config.environ({"DRGFLOW_HOME": str(home), "DRGFLOW_DATABASE_URL": url}):
            summary = pipeline.run_demo(cases_per_year=1500, hospitals=8, seed=99, url=url)
            yield url, summary
    finally:
        drop_database(name)


def test_nothing_is_lost_and_the_year_is_settled(demo):
    url, s = demo
    assert s["cases_read"] == s["cases_accepted"] + s["cases_quarantined"] > 5000
    read, accepted, quarantined = query(url, "select sum(rows_read), sum(rows_accepted), sum(rows_quarantined)"
                                             " from audit.batches where file_kind = 'cases'")[0]
    assert read == accepted + quarantined == s["cases_read"]
    assert s["grouping"]["grouped"] > 0.95 * s["cases_in_staging"]
    assert query(url, "select count(*) from audit.periods where status = 'closed'")[0][0] == 12
    # the demo pays one of its two regions by DIP in 2024 (dip_regions): the DRG settlement has the other
    regions = query(url, "select count(distinct region_code) from marts.settlement_annual where settlement_year = 2024")
    assert regions[0][0] == 1 and len(s["settlement"]) == 1
    assert s["dip"]["dip_regions"] and s["dip"]["cases"] > 1000
    # every accepted case settled in 2024 has exactly one case_points row (DRG) or one DIP grouping row (DIP)
    assert query(url, """select count(*) from staging.stg_raw__cases c
                         left join marts.case_points p using (hospital_id, case_id)
                         left join marts.dip_case_grouping d
                           on d.settlement_year = 2024 and d.hospital_id = c.hospital_id and d.case_id = c.case_id
                         where c.settle_year = 2024 and (p.case_id is null) = (d.case_id is null)""")[0][0] == 0
    assert s["reports"].endswith("index.html")
    # the operation log holds every load and run of the year
    events = dict(query(url, "select event, count(*) from audit.log group by event"))
    assert events["calibrate"] == 1 and events["settle"] == 13 and events["close"] == 12
    assert events["load"] >= 48 and events["special_review"] == 1


NATIONAL_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_marts_carry_no_personal_identifiers(demo):
    url, _ = demo
    columns = query(url, "select table_name, column_name from information_schema.columns"
                         " where table_schema = 'marts' order by 1, 2")
    assert columns
    assert not [c for _, c in columns if c in ("patient_id", "patient_name", "id_number", "phone")]
    hits = []
    for table, column in columns:
        values = query(url, f'select distinct "{column}"::text from marts."{table}" where "{column}" is not null')
        hits += [f"{table}.{column}={v}" for (v,) in values if NATIONAL_ID.search(v) or PHONE.search(v)]
    assert hits == []


def test_explain_answers_a_hospital_appeal(demo):
    url, _ = demo
    hospital_id, case_id, case_type = query(url, "select hospital_id, case_id, case_type from marts.case_points"
                                                 " where case_type = 'normal' limit 1")[0]
    text = settlement.explain_case(hospital_id, case_id, url=url)
    assert case_id in text and "normal" in text


def test_rerun_is_idempotent_and_closed_months_refuse(demo, capsys):
    url, s = demo
    digest = "select md5(string_agg(t::text, ',' order by t::text)) from marts.{} t"
    before = {t: query(url, digest.format(t))[0][0] for t in ("case_points", "settlement_monthly", "settlement_annual")}
    again = pipeline.run_demo(cases_per_year=1500, hospitals=8, seed=99, url=url)
    after = {t: query(url, digest.format(t))[0][0] for t in before}
    assert after == before
    assert again["cases_read"] == s["cases_read"]
    assert cli.main(["settle", "--year", "2024", "--month", "3"]) == 2
    assert "closed" in capsys.readouterr().err


def test_backup_restore_gives_identical_settlement_tables(demo, tmp_path):
    from drgflow import db, security

    url, _ = demo
    dump = security.backup(tmp_path / "demo.dump", url)
    name = f"{db.conn_params(url)['dbname']}_r"
    target = security.restore(dump, into=name)
    try:
        for table in ("marts.case_points", "marts.settlement_annual", "marts.settlement_monthly"):
            digest = f"select count(*), md5(string_agg(t::text, E'\\n' order by t::text)) from {table} t"
            assert query(target, digest) == query(url, digest), table
    finally:
        drop_database(name)
