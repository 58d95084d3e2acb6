"""Hospital data quality: the dbt quality marts and the per-hospital Excel feedback files."""
from __future__ import annotations

import csv
import shutil
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from conftest import create_database, drop_database, query
from drgflow import cli, db, excel, loader, quality, validation


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A validated small city (defects injected) with the quality marts built."""
    from drgflow import generate
    from drgflow.schemes.terminology import import_terminology

    name, url = create_database("drgflow_qual")
    db.init_warehouse(url)
    import_terminology(url)
    out = tmp_path_factory.mktemp("qcity")
    generate.generate_city(out, years=[2024], cases_per_year=1500, hospitals=4, regions=1, seed=5,
                           defect_rate=0.05, split="month")
    loader.load_paths([out], url=url, progress=False)
    quality.build_quality_marts(url)
    yield url, out
    drop_database(name)
    shutil.rmtree(validation.gx_output_dir(url), ignore_errors=True)


def test_mart_accounts_for_every_row(city):
    url, _ = city
    (read, quarantined), = query(url, "select sum(rows_read), sum(rows_quarantined) from audit.batches"
                                      " where file_kind = 'cases'")
    (rows, rejected, accepted), = query(url, "select sum(rows_received), sum(rows_rejected), sum(rows_accepted)"
                                             " from marts.hospital_data_quality")
    assert rows == read > 1000 and rejected == quarantined > 0 and accepted + rejected == rows
    periods = query(url, "select distinct period from marts.hospital_data_quality order by 1")
    assert len(periods) >= 12 and all(len(p[0]) == 7 for p in periods)


def test_score_follows_documented_formula(city):
    url, _ = city
    rows = query(url, "select rows_received, rows_rejected, rows_warned, completeness, quality_score"
                      " from marts.hospital_data_quality")
    for n, rej, warn, comp, score in rows:
        expected = 100 * (Decimal("0.6") * (1 - Decimal(rej) / n) + Decimal("0.3") * comp
                          + Decimal("0.1") * (1 - Decimal(warn) / n))
        assert abs(score - expected) <= Decimal("0.051") and 0 <= score <= 100
    # a clean hospital-month scores higher than one with rejections
    best = max(r[4] for r in rows if r[1] == 0)
    worst = min(r[4] for r in rows if r[1] > 0)
    assert best > worst


def test_completeness_and_rule_rates(city):
    url, out = city
    missing = [d for d in csv.DictReader((out / "defects.csv").open()) if d["defect_kind"] == "missing_required"]
    assert missing
    incomplete = query(url, "select count(*) from marts.hospital_data_quality where completeness < 1")[0][0]
    assert incomplete >= 1
    # per-rule failures in the long mart equal the quarantine's, and the jsonb rates agree with them
    (mart_fail,), = query(url, "select sum(rows_failed) from marts.hospital_data_quality_rules")
    (q_fail,), = query(url, "select count(*) from audit.quarantine")
    assert mart_fail == q_fail
    h, p, rule, rate = query(url, "select hospital_id, period, rule, error_rate from"
                                  " marts.hospital_data_quality_rules order by rows_failed desc limit 1")[0]
    (from_json,), = query(url, "select (error_rate_by_rule ->> %s)::numeric from marts.hospital_data_quality"
                               " where hospital_id = %s and period = %s", (rule, h, p))
    assert from_json == rate > 0


def test_feedback_file_per_hospital_lists_every_flagged_row(city, tmp_path):
    url, _ = city
    files = quality.write_feedback(tmp_path, url)
    flagged = query(url, "select coalesce(nullif(hospital_id, ''), '(missing)'), count(distinct (batch_id,"
                         " source_row)) from audit.quarantine where resolved_at is null group by 1")
    assert len(files) == len(flagged) >= 2
    for hid, n in flagged:
        path = next(f for f in files if f.name.startswith(f"feedback_{excel.safe_file_name(hid)}_"))
        wb = load_workbook(path, read_only=True)
        ws = wb["退回病例"]
        rows = list(ws.iter_rows(values_only=True))
        assert hid in rows[0][0]
        assert rows[1] == quality.CASE_HEADERS
        assert len(rows) - 2 == n
        assert {r[7] for r in rows[2:]} <= {"拒收", "警告"}
        assert all(r[9] and any("\u4e00" <= ch <= "\u9fff" for ch in r[9]) for r in rows[2:])
        summary = list(wb["规则汇总"].iter_rows(values_only=True))
        assert summary[0] == quality.RULE_HEADERS and sum(r[3] for r in summary[1:]) >= n


def test_feedback_cli_batch_filter(city, tmp_path, use_database, capsys):
    url, _ = city
    use_database(url)
    batch = query(url, "select batch_id from audit.batches where file_kind = 'cases' and rows_quarantined > 0"
                       " order by batch_id limit 1")[0][0]
    assert cli.main(["feedback", "--out", str(tmp_path), "--batch", str(batch)]) == 0
    paths = capsys.readouterr().out.split()
    assert paths and all(p.endswith(f"_batch{batch}.xlsx") for p in paths)
    listed = sum(load_workbook(p, read_only=True)["退回病例"].max_row - 2 for p in paths)
    (expected,), = query(url, "select count(distinct source_row) from audit.quarantine where batch_id = %s",
                         (batch,))
    assert listed == expected
    assert cli.main(["feedback", "--out", str(tmp_path), "--batch", "999999"]) == 2
    assert "batch 999999" in capsys.readouterr().err
