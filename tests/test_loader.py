"""The loader on a real PostgreSQL: idempotency, resubmission, encodings, malformed files, atomicity."""
from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import query
from drgflow import contract, filescan, generate, loader
from drgflow.loader import LoadError

HEADER = list(contract.CASE_COLUMNS)


def _case(case_id: str, hospital: str = "H1", total: str = "1000.00", dx: str = "I10.x00", **over) -> list[str]:
    row = dict.fromkeys(HEADER, "")
    row.update(case_id=case_id, hospital_id=hospital, region_code="330102", insurance_type="310",
               patient_id="P1", sex="1", age_years="60", admit_date="2024-01-02", discharge_date="2024-01-05",
               los_days="3", discharge_way="1", dx_codes=dx, total_cost=total, fund_paid="800.00",
               fee_bed=total, settle_date="2024-01-06")
    for c in contract.FEE_COLUMNS[1:]:
        row[c] = "0.00"
    row.update(over)
    return [row[c] for c in HEADER]


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8", header=HEADER) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def test_load_twice_is_a_noop(tmp_path, fresh_url):
    f = _write(tmp_path / "cases.csv", [_case("A1"), _case("A2")])
    first = loader.load_file(f, fresh_url)
    second = loader.load_file(f, fresh_url)
    assert (first.rows_read, first.skipped) == (2, False)
    assert second.skipped and second.batch_id == first.batch_id
    assert query(fresh_url, "select count(*) from raw.cases")[0][0] == 2
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 1


def test_values_are_kept_exactly_as_received(tmp_path, fresh_url):
    odd = ["  I10.x00 ", "x'; drop table raw.cases; --", "引号\"和,逗号", "\ttab\u200b", "9" * 5000]
    rows = [_case(f"Q{i}", dx=v) for i, v in enumerate(odd)]
    loader.load_file(_write(tmp_path / "odd.csv", rows), fresh_url)
    got = [r[0] for r in query(fresh_url, "select dx_codes from raw.cases order by source_row")]
    assert got == odd
    assert query(fresh_url, "select min(source_row), max(source_row) from raw.cases")[0] == (1, len(odd))


def test_resubmission_supersedes_and_keeps_history(tmp_path, fresh_url):
    from drgflow import transform

    loader.load_file(_write(tmp_path / "jan.csv", [_case("A1", total="1000.00"), _case("A2")]), fresh_url)
    loader.load_file(_write(tmp_path / "fix.csv", [_case("A1", total="1200.00")]), fresh_url)
    assert query(fresh_url, "select count(*) from raw.cases where case_id = 'A1'")[0][0] == 2
    transform.run_dbt(["run", "--select", "+stg_raw__cases"], url=fresh_url)
    rows = query(fresh_url, "select case_id, total_cost from staging.stg_raw__cases order by case_id")
    assert [(c, str(t)) for c, t in rows] == [("A1", "1200.00"), ("A2", "1000.00")]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_chinese_encodings_are_converted(tmp_path, fresh_url, encoding):
    f = _write(tmp_path / f"{encoding}.csv", [_case("G1", dept_code="心血管内科")], encoding=encoding)
    res = loader.load_file(f, fresh_url)
    assert res.rows_read == 1
    assert query(fresh_url, "select dept_code, case_id from raw.cases")[0] == ("心血管内科", "G1")


@pytest.mark.parametrize("content, expected", [
    ('{h}\n{ok}\nA9,"H1,unterminated\n', "line 3: bad quoting"),
    ("{h}\n{ok}\n{ok},extra\n", "line 3: wrong number of columns"),
    ("{h}\nA1,H1\n", "line 2: wrong number of columns"),
    ("{hmissing}\n", "line 1: header is missing column(s) settle_date"),
    ("{h},surprise\n", "line 1: header has unknown column(s) surprise"),
    ("", "line 1: the file is empty"),
])
def test_malformed_files_are_refused_whole(tmp_path, fresh_url, content, expected):
    ok = ",".join(_case("A1"))
    f = tmp_path / "bad.csv"
    f.write_text(content.format(h=",".join(HEADER), hmissing=",".join(HEADER[:-1]), ok=ok), encoding="utf-8")
    with pytest.raises(LoadError) as err:
        loader.load_file(f, fresh_url)
    assert "bad.csv" in str(err.value) and expected in str(err.value)
    assert query(fresh_url, "select count(*) from raw.cases")[0][0] == 0
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 0


def test_cli_reports_errors_without_a_traceback(tmp_path, fresh_url):
    f = tmp_path / "broken.csv"
    f.write_text(",".join(HEADER) + "\nA1,H1\n", encoding="utf-8")
    env = {**os.environ, "DRGFLOW_DATABASE_URL": fresh_url}
    proc = subprocess.run([sys.executable, "-m", "drgflow.cli", "load", str(f)], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "broken.csv: line 2: wrong number of columns" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_killed_load_leaves_no_trace_and_the_rerun_succeeds(tmp_path, fresh_url):
    generate.generate_city(tmp_path / "big", years=[2024], cases_per_year=120000, hospitals=10, regions=2,
                           seed=3, defect_rate=0, split="year")
    big = tmp_path / "big" / "cases_2024.csv"
    env = {**os.environ, "DRGFLOW_DATABASE_URL": fresh_url}
    proc = subprocess.Popen([sys.executable, "-m", "drgflow.cli", "load", "--no-validate", str(big)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    # kill it while the COPY is streaming: the batch row exists only inside the open transaction
    while time.monotonic() < deadline:
        active = query(fresh_url, "select count(*) from pg_stat_activity "
                                  "where datname = current_database() and query ilike 'copy %%cases%%'")[0][0]
        if active:
            break
        time.sleep(0.05)
    assert active, "the load never reached COPY"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    assert query(fresh_url, "select count(*) from raw.cases")[0][0] == 0
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 0
    res = loader.load_file(big, fresh_url)
    assert res.rows_read == 120000 and not res.skipped


def test_patient_ids_are_pseudonymised_at_load(tmp_path, fresh_url):
    from drgflow import pseudonym

    loader.load_file(_write(tmp_path / "p.csv", [_case("A1", patient_id="330102199001011234"),
                                                 _case("A2", patient_id="")]), fresh_url)
    stored = dict(query(fresh_url, "select case_id, patient_id from raw.cases"))
    assert stored["A1"] == pseudonym.pseudonymise("330102199001011234")
    assert "330102199001011234" not in stored["A1"] and len(stored["A1"]) == 64
    assert stored["A2"] is None
    # a row that bypasses the loader is refused rather than stored in clear
    import psycopg

    with pytest.raises(psycopg.errors.RaiseException):
        query(fresh_url, "insert into raw.cases (batch_id, source_row, patient_id) values (0, 0, 'x')")
    # also in a session whose earlier transaction had the pads: they are empty now, and the statement is refused
    with psycopg.connect(fresh_url) as conn:
        conn.execute("select set_config('drgflow.pseudonym_ipad', '00', true),"
                     " set_config('drgflow.pseudonym_opad', '00', true)")
        conn.commit()
        with pytest.raises(psycopg.errors.RaiseException, match="only through drgflow load"):
            conn.execute("insert into raw.cases (batch_id, source_row, patient_id) values (0, 0, 'x')")


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_a_line_holding_only_the_end_of_data_marker_is_refused(tmp_path, fresh_url, eol):
    """PostgreSQL's COPY stops at a line holding only `\\.`: the file would load as its first rows, silently."""
    rows = [",".join(_case(f"A{i}")) for i in range(6)]
    f = tmp_path / "marker.csv"
    f.write_bytes(eol.join([",".join(HEADER), *rows[:2], "\\.", *rows[2:], ""]).encode())
    with pytest.raises(LoadError) as err:
        loader.load_file(f, fresh_url)
    message = str(err.value)
    assert message.startswith("marker.csv: line 4: ") and "\\." in message and "nothing of this file" in message
    assert query(fresh_url, "select count(*) from raw.cases")[0][0] == 0
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 0


def test_the_end_of_data_marker_inside_a_quoted_field_is_data(tmp_path, fresh_url):
    odd = "first\n\\.\nlast"
    f = _write(tmp_path / "quoted.csv", [_case("A1"), _case("A2", dept_code=odd), _case("A3")])
    res = loader.load_file(f, fresh_url)
    assert res.rows_read == 3
    assert query(fresh_url, "select dept_code from raw.cases where case_id = 'A2'")[0][0] == odd


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 7])
def test_end_of_data_markers_are_found_across_reads(tmp_path, monkeypatch, chunk):
    f = tmp_path / "m.csv"
    data = b'h\n\\.\nx\r\n\\.\r\n"\n\\.\n"\n\\.x\n\\.'
    f.write_bytes(data)
    monkeypatch.setattr(filescan, "CHUNK", chunk)
    with f.open("rb") as handle:
        assert filescan.scan(handle, f).markers == (2, 8, 14)    # not "\\.x", nor "\\." at the end of the file
        assert filescan.end_marker_line(handle, (8, 14), 5) == 4
        assert filescan.end_marker_line(handle, (14,), 12) is None   # inside the quoted field


def test_a_utf8_file_with_a_stray_byte_is_refused_not_read_as_gb18030(tmp_path, fresh_url):
    """UTF-8 text whose multi-byte runs all happen to be valid GB18030, and one stray Latin-1 byte (0xE9
    before an ASCII letter is valid GBK too): read as GB18030, every Chinese value would load as mojibake."""
    rows = [_case("U1", dept_code="内科"), _case("Caf\u00e9A2", dept_code="外科"), _case("U3", dept_code="儿科")]
    data = _write(tmp_path / "tmp.csv", rows).read_bytes().replace("\u00e9".encode(), b"\xe9")
    data.decode("gb18030")                     # the trap: the whole file decodes as GB18030
    f = tmp_path / "stray.csv"
    f.write_bytes(data)
    with pytest.raises(LoadError) as err:
        loader.load_file(f, fresh_url)
    message = str(err.value)
    assert message.startswith("stray.csv: line 3: ") and "0xE9" in message and "UTF-8" in message
    assert "nothing of this file was loaded" in message
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 0


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_gbk_file_with_many_chinese_values_still_loads(tmp_path, fresh_url, encoding):
    names = ["心血管内科", "内科", "外科", "儿科", "妇产科", "神经内科", "骨科", "眼科", "耳鼻喉科", "中医科"]
    f = _write(tmp_path / "gbk.csv", [_case(f"G{i}", dept_code=n) for i, n in enumerate(names)], encoding=encoding)
    res = loader.load_file(f, fresh_url)
    assert (res.rows_read, res.encoding) == (len(names), "GB18030")
    assert [r[0] for r in query(fresh_url, "select dept_code from raw.cases order by source_row")] == names


def test_a_file_in_neither_encoding_is_refused_naming_the_line(tmp_path, fresh_url):
    rows = [_case("A1", dept_code="内科"), _case("A2", dept_code="外科")]
    data = _write(tmp_path / "tmp.csv", rows, encoding="gbk").read_bytes() + b"A3,\xff\xfe\n"
    f = tmp_path / "neither.csv"
    f.write_bytes(data)
    with pytest.raises(LoadError) as err:
        loader.load_file(f, fresh_url)
    assert str(err.value).startswith("neither.csv: line 4: ") and "GB18030" in str(err.value)


def _swap_after_scan(monkeypatch, path: Path, new: bytes, in_place: bool) -> None:
    """Change `path` between the loader's hash of it and its COPY (check_header runs in between)."""
    original = loader.check_header

    def check_then_swap(p, header):
        kind = original(p, header)
        if in_place:
            with path.open("r+b") as handle:
                handle.write(new)
                handle.truncate()
        else:
            path.with_suffix(".new").write_bytes(new)
            os.replace(path.with_suffix(".new"), path)
        return kind
    monkeypatch.setattr(loader, "check_header", check_then_swap)


def test_a_file_replaced_while_loading_is_recorded_under_the_bytes_loaded(tmp_path, fresh_url, monkeypatch):
    first = _write(tmp_path / "first.csv", [_case("OLD1"), _case("OLD2")]).read_bytes()
    second = _write(tmp_path / "second.csv", [_case("NEW1"), _case("NEW2"), _case("NEW3")]).read_bytes()
    f = tmp_path / "cases.csv"
    f.write_bytes(first)
    _swap_after_scan(monkeypatch, f, second, in_place=False)
    res = loader.load_file(f, fresh_url)
    loaded = {r[0] for r in query(fresh_url, "select case_id from raw.cases")}
    recorded = query(fresh_url, "select sha256 from audit.batches where batch_id = %s", (res.batch_id,))[0][0]
    bytes_loaded = first if loaded == {"OLD1", "OLD2"} else second
    assert loaded in ({"OLD1", "OLD2"}, {"NEW1", "NEW2", "NEW3"})
    assert recorded == hashlib.sha256(bytes_loaded).hexdigest() and res.rows_read == len(loaded)


def test_a_file_changed_in_place_while_loading_is_refused(tmp_path, fresh_url, monkeypatch):
    first = _write(tmp_path / "first.csv", [_case("OLD1"), _case("OLD2")]).read_bytes()
    second = _write(tmp_path / "second.csv", [_case("NEW1"), _case("NEW2"), _case("NEW3")]).read_bytes()
    f = tmp_path / "cases.csv"
    f.write_bytes(first)
    _swap_after_scan(monkeypatch, f, second, in_place=True)
    with pytest.raises(LoadError) as err:
        loader.load_file(f, fresh_url)
    assert str(err.value).startswith("cases.csv: ") and "changed while" in str(err.value)
    assert query(fresh_url, "select count(*) from raw.cases")[0][0] == 0
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 0


def test_a_different_pseudonym_key_is_refused(tmp_path, fresh_url, monkeypatch):
    """Issue 18 #11: the first load records the key's fingerprint; a load with another key (or a lost key
    replaced by a new random one) is refused instead of giving the same patient another pseudonym."""
    monkeypatch.setenv("DRGFLOW_PSEUDONYM_KEY", "the bureau's key")
    loader.load_file(_write(tmp_path / "a.csv", [_case("K1")]), fresh_url)
    monkeypatch.setenv("DRGFLOW_PSEUDONYM_KEY", "another key")
    with pytest.raises(LoadError, match=r"b.csv: the pseudonym key \(fingerprint [0-9a-f]{16}\) is not the one"):
        loader.load_file(_write(tmp_path / "b.csv", [_case("K2")]), fresh_url)
    assert query(fresh_url, "select count(*) from raw.cases")[0][0] == 1
    monkeypatch.setenv("DRGFLOW_PSEUDONYM_KEY", "the bureau's key")
    assert loader.load_file(tmp_path / "b.csv", fresh_url).rows_read == 1


def test_no_case_data_or_pseudonym_pads_reach_the_server_log(tmp_path, fresh_url, monkeypatch):
    """Issue 18 #8 and #9: with the server logging every statement, a load leaves neither the HMAC pads (they
    are the key) nor a refused line's patient id in the server log."""
    from drgflow import config, db, pseudonym

    if config.env("DRGFLOW_DATABASE_URL"):
        pytest.skip("reads the embedded server's log file")
    log = config.home() / "pgdata" / "log"
    admin = db.server_url("postgres")
    monkeypatch.setenv("DRGFLOW_PSEUDONYM_KEY", "a key only this test knows")
    ipad, opad = pseudonym.pads(pseudonym.key())
    def alter_system(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(statement)
            conn.execute("select pg_reload_conf()")

    alter_system("alter system set log_statement = 'all'")
    try:
        time.sleep(0.5)
        start = log.stat().st_size
        loader.load_file(_write(tmp_path / "ok.csv", [_case("L1", patient_id="PID-SECRET-314159")]), fresh_url)
        bad = tmp_path / "bad.csv"
        bad.write_text(",".join(HEADER) + "\n" + ",".join(_case("L2", patient_id="PID-LEAK-271828"))
                       + ",one column too many\n", encoding="utf-8")
        with pytest.raises(LoadError, match="line 2"):
            loader.load_file(bad, fresh_url)
        time.sleep(0.5)
        with log.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode("utf-8", "replace")
    finally:
        alter_system("alter system reset log_statement")
    assert "set_config" in text                       # the statement was logged
    assert ipad.hex() not in text and opad.hex() not in text
    assert "PID-SECRET-314159" not in text and "PID-LEAK-271828" not in text


def test_a_refused_file_leaves_an_entry_in_the_operation_log(tmp_path, fresh_url):
    """Issue 18 #18: a refused load is logged (load_refused, with the reason), in its own transaction."""
    bad = tmp_path / "refused.csv"
    bad.write_text(",".join(HEADER) + "\n" + ",".join(_case("R1")) + ",extra\n", encoding="utf-8")
    with pytest.raises(LoadError):
        loader.load_file(bad, fresh_url)
    rows = query(fresh_url, "select subject, details->>'reason' from audit.log where event = 'load_refused'")
    assert len(rows) == 1 and rows[0][0] == "refused.csv" and "line 2" in rows[0][1]
    assert query(fresh_url, "select count(*) from audit.batches")[0][0] == 0


def test_staging_has_one_row_per_case_between_a_load_and_the_next_dbt_run(tmp_path, fresh_url):
    """Issue 18 #17: a correction loaded after the last dbt run does not make its case appear twice."""
    from drgflow import transform

    loader.load_file(_write(tmp_path / "jan.csv", [_case("A1", total="1000.00"), _case("A2")]), fresh_url)
    transform.run_dbt(["run", "--select", "+stg_raw__cases"], url=fresh_url)
    loader.load_file(_write(tmp_path / "fix.csv", [_case("A1", total="1200.00"), _case("A3")]), fresh_url)
    # no dbt run in between: the views read the new batch, the superseded table is the old one
    rows = query(fresh_url, "select case_id, total_cost from staging.stg_raw__cases order by case_id")
    assert [(c, str(t)) for c, t in rows] == [("A1", "1200.00"), ("A2", "1000.00"), ("A3", "1000.00")]
