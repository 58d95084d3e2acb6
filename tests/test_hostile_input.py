"""Hostile input: SQL fragments, quotes, long strings, control characters and odd Unicode load as text
and come out unchanged; the CLI never answers odd arguments with a stack trace."""
from __future__ import annotations

import csv
import io
import uuid
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgflow import cli, contract, loader

from conftest import query

# any Unicode text PostgreSQL can store (no NUL, no lone surrogates), with SQL and CSV trouble mixed in
nasty = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60),
    st.sampled_from(["'; drop table raw.cases; --", "\\.", '"', '""', "a,b", "\r\n", "\\N", "NULL",
                     "$$; select pg_sleep(10); $$", "%s %(x)s {0}", "\u202e\u200b\ufeff", "𠀀𝔘", "x" * 10000]),
)
FIELDS = ("case_id", "dept_code", "dx_codes", "px_codes", "total_cost", "admit_date", "insurance_type")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.fixed_dictionaries({f: nasty for f in FIELDS}), min_size=1, max_size=4))
def test_any_text_loads_and_comes_back_unchanged(values, fresh_url, tmp_path):
    path = tmp_path / f"fuzz_{uuid.uuid4().hex}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        # CRLF line ends make the writer quote any field holding a CR or LF, as RFC 4180 requires
        w = csv.writer(handle, lineterminator="\r\n")
        w.writerow(contract.CASE_COLUMNS)
        for v in values:
            w.writerow([v.get(c, "x") for c in contract.CASE_COLUMNS])
    res = loader.load_file(path, fresh_url, progress=False)
    assert res.rows_read == len(values)
    rows = query(fresh_url, f"select {', '.join(FIELDS)} from raw.cases where batch_id = %s order by source_row",
                 (res.batch_id,))
    for got, want in zip(rows, values):
        # CSV cannot tell an empty field from a missing one: both arrive as NULL
        assert [g if g is not None else "" for g in got] == [want[f] for f in FIELDS]


@settings(max_examples=60, deadline=None)
@given(args=st.lists(st.one_of(nasty, st.sampled_from(["--no-validate", "--help", "-x", "/", "/etc/passwd",
                                                       "."])), max_size=4))
def test_cli_never_answers_with_a_traceback(args):
    out, err = io.StringIO(), io.StringIO()
    argv = ["load", *args]
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code
    assert code in (0, 1, 2, None), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()


@pytest.mark.parametrize("argv", [
    ["generate", "--out", "{tmp}", "--years", "2024-2020"],
    ["generate", "--out", "{tmp}", "--defect-rate", "2"],
    ["generate", "--out", "{tmp}", "--hospitals", "1"],
    ["generate", "--out", "{tmp}", "--years", "x"],
    ["db", "explode"],
    ["db", "backup"],
])
def test_bad_arguments_get_a_message_not_a_traceback(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert code not in (0, None), argv
    assert "Traceback" not in captured.err and captured.err.strip()
