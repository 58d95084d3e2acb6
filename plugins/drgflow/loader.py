"""Bulk loader: files in the input contract -> raw.* (text, as received) with a batch registry.

PostgreSQL's COPY parses the CSV (fast, and it names the line of a structural error); this module
checks the header, detects the encoding, keeps every load in one transaction and makes reloading the
same file a no-op.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql

from drgflow import (
    audit,
    config,
    contract,
    db,
    filescan,
    pseudonym,
    rawschema,
    roles,
    validation,
)
from drgflow.batch import LoadResult
from drgflow.errors import LoadError

CHUNK = filescan.CHUNK
LOAD_LOCK = "drgflow.load"





def read_header(path: Path, encoding: str) -> tuple[list[str], int]:
    """Column names of the first line and the byte offset where the data starts."""
    with path.open("rb") as handle:
        return parse_header(path, handle.readline(), encoding)


def parse_header(path: Path, first: bytes, encoding: str) -> tuple[list[str], int]:
    """Column names of the header line `first` (bytes, line end included) and its length in bytes."""
    if not first.strip():
        raise LoadError(f"{path.name}: line 1: the file is empty or has no header row")
    offset = len(first)
    try:
        text = first.decode("utf-8-sig" if encoding == "UTF8" else "gb18030")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{path.name}: line 1: the header row is not text in UTF-8 or GBK/GB18030 (byte "
                        f"0x{first[exc.start]:02X} at byte {exc.start + 1}): is it a CSV file?") from None
    try:
        names = next(csv.reader([text.rstrip("\r\n")]))
    except csv.Error as exc:
        raise LoadError(f"{path.name}: line 1: header row is not valid CSV ({exc})") from None
    return [n.strip() for n in names], offset


def check_header(path: Path, header: list[str]) -> str:
    """The file kind of `header`; raises LoadError when it matches no kind or repeats, lacks or adds columns."""
    kind = contract.kind_of_header(header, path.name)
    if kind is None and "parameter" in header:
        raise LoadError(f"{path.name}: a parameter file's name must start with dip_ (DIP parameters, dip-spec §11) "
                        f"or drg_ (DRG parameters, settlement-spec §7), e.g. dip_parameters.csv")
    if kind is None:
        raise LoadError(
            f"{path.name}: line 1: header matches no known file kind "
            f"(cases need dx_codes, hospitals hospital_name, budgets fund_budget, "
            f"assessment_scores score, special_review approved_points, dip_special_review approved_score, "
            f"dip_parameters / drg_parameters parameter, dip_basic_groups code, procedure_class class)"
        )
    expected = contract.FILE_KINDS[kind]
    dupes = sorted({n for n in header if header.count(n) > 1})
    if dupes:
        raise LoadError(f"{path.name}: line 1: header repeats column(s) {', '.join(dupes)}")
    missing = [c for c in expected if c not in header and c not in contract.OPTIONAL_COLUMNS.get(kind, ())]
    if missing:
        raise LoadError(f"{path.name}: line 1: header is missing column(s) {', '.join(missing)} ({kind} file)")
    unknown = [c for c in header if c not in expected]
    if unknown:
        raise LoadError(f"{path.name}: line 1: header has unknown column(s) {', '.join(unknown)} ({kind} file)")
    return kind


_LINE = re.compile(r"line (\d+)")


def _copy_error(path: Path, exc: psycopg.Error) -> LoadError:
    context = (exc.diag.context or "") if exc.diag else ""
    match = _LINE.search(context)
    line = f"line {int(match.group(1)) + 1}" if match else "line ?"
    problem = (exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)).strip()
    if "extra data after last expected column" in problem or "missing data for column" in problem:
        problem = f"wrong number of columns ({problem})"
    elif "unterminated CSV quoted field" in problem:
        start = _unclosed_quote_line(path)
        line = f"line {start}" if start else line
        problem = "bad quoting: a quoted field is never closed"
    return LoadError(f"{path.name}: {line}: {problem}; nothing of this file was loaded")


def _unclosed_quote_line(path: Path) -> int | None:
    """Line where the record with the never-closed quote starts (PostgreSQL reports the end of file)."""
    encoding = "utf-8-sig" if scan_encoding_quick(path) == "UTF8" else "gb18030"
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error:
            return start
    return None


def check_end_markers(path: Path, handle: BinaryIO, scan: filescan.Scan, data_start: int) -> None:
    """Refuse a file with a line holding only `\\.` where a record starts: COPY would end there and drop
    every row after it without an error (rows read must be the file's records)."""
    if not scan.markers:
        return
    line = filescan.end_marker_line(handle, scan.markers, data_start)
    if line is not None:
        raise LoadError(f"{path.name}: line {line}: a line holding only \\. is PostgreSQL's end-of-data marker: "
                        "COPY would stop there and drop every row after it; remove the line (or quote the value, "
                        "\"\\.\"); nothing of this file was loaded")


@dataclass(frozen=True)
class _File:
    """An open input file as the loader checked it: the bytes COPY gets are read from this handle."""

    path: Path
    handle: BinaryIO
    scan: filescan.Scan
    header: list[str]
    data_start: int
    kind: str
    size: int


def _inspect(path: Path, handle: BinaryIO) -> _File:
    """Hash, encoding, header, kind and end-of-data markers of the open file, or LoadError."""
    scan = filescan.scan(handle, path)
    handle.seek(0)
    header, offset = parse_header(path, handle.readline(), scan.encoding)
    kind = check_header(path, header)
    check_end_markers(path, handle, scan, offset)
    return _File(path, handle, scan, header, offset, kind, os.fstat(handle.fileno()).st_size)


def load_file(path: Path, url: str | None = None, progress: bool = True, validate: bool = False) -> LoadResult:
    """Load one file atomically; loading the same bytes again is a no-op (but for a cases batch whose
    validation was asked for and never completed: result.needs_validation, the caller finishes it).
    `validate`: the caller will validate a cases batch (load_paths does), so it counts only once that
    completed (audit.batches validation_requested); False (the default here) loads it as accepted without
    validation unless someone validates it later.

    The file is opened once: the scan (sha256, encoding), the header and the COPY all read that handle,
    so a file replaced on disk meanwhile is not read, and the bytes sent to COPY are hashed again and must
    equal the scan's sha256 (a file changed in place is refused): the batch's sha256 is that of the bytes
    loaded."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    started = time.monotonic()
    try:
        return _load_file(path, url, progress, validate, started)
    except LoadError as exc:
        _record_refusal(path, url, str(exc))
        raise


def _record_refusal(path: Path, url: str | None, reason: str) -> None:
    """A refused file leaves an entry in the operation log (load_refused), in a transaction of its own."""
    try:
        with db.connect(roles.service_url("loader", url)) as conn, conn.transaction():
            audit.record(conn, "load_refused", path.name, details={"reason": reason[:1000], "path": str(path)})
    except psycopg.Error:
        pass    # the refusal itself is what the operator sees; an unreachable log must not hide it


def _load_file(path: Path, url: str | None, progress: bool, validate: bool, started: float) -> LoadResult:
    with path.open("rb") as handle:
        f = _inspect(path, handle)
        result = LoadResult(path=str(path), kind=f.kind, batch_id=None, encoding=f.scan.encoding)
        # DRGFLOW_SERVICE_ROLES on: as drgflow_loader, which has no DDL rights (init-roles made the tables)
        with db.connect(roles.service_url("loader", url)) as conn:
            try:
                with conn.transaction():
                    _load_in_transaction(conn, f, result, progress, validate)
            except (psycopg.errors.DataError, psycopg.errors.BadCopyFileFormat) as exc:
                raise _copy_error(path, exc) from None
    result.seconds = time.monotonic() - started
    return result


def _load_in_transaction(conn: psycopg.Connection, f: _File, result: LoadResult, progress: bool,
                         validate: bool) -> None:
    """Register the batch and COPY its rows (or find the same bytes loaded before: result.skipped)."""
    sha, kind, encoding = f.scan.sha256, f.kind, f.scan.encoding
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (LOAD_LOCK,))
    if not config.service_roles():
        rawschema.ensure_raw_tables(conn)
    previous = conn.execute(
        "select batch_id, rows_read, rows_accepted, rows_quarantined, rows_warned,"
        " status = 'loaded' and coalesce(validation_requested, false)"
        " from audit.batches where sha256 = %s and file_kind = %s", (sha, kind),
    ).fetchone()
    if previous:
        result.batch_id, result.rows_read, result.rows_accepted, result.rows_quarantined, \
            result.rows_warned, result.needs_validation = previous
        result.skipped = True
        if result.needs_validation:    # a validation killed before it completed: the batch is not accepted yet
            result.rows_accepted = result.rows_quarantined = result.rows_warned = 0
            result.notes.append(f"batch {result.batch_id} was loaded but its validation never completed: "
                                "validating it now")
        return
    batch_id = conn.execute(
        "insert into audit.batches (file_name, file_path, sha256, file_kind, source_encoding, validation_requested)"
        " values (%s, %s, %s, %s, %s, %s) returning batch_id",
        (f.path.name, str(f.path.resolve()), sha, kind, encoding, kind == "cases" and validate),
    ).fetchone()[0]
    result.batch_id = batch_id
    conn.execute("select setval('raw.source_row_seq', 1, false)")
    conn.execute(sql.SQL("set local drgflow.batch_id = {}").format(sql.Literal(str(batch_id))))
    if kind == "cases":
        secret = pseudonym.key()
        _require_same_key(conn, f.path, secret, batch_id)
        _keep_case_data_out_of_the_server_log(conn)
        ipad, opad = pseudonym.pads(secret)
        conn.execute("select set_config('drgflow.pseudonym_ipad', %s, true),"
                     " set_config('drgflow.pseudonym_opad', %s, true)", (ipad.hex(), opad.hex()))
    copy_sql = sql.SQL("copy raw.{} ({}) from stdin (format csv, encoding {})").format(
        sql.Identifier(kind), sql.SQL(", ").join(map(sql.Identifier, f.header)), sql.Literal(encoding),
    )
    with conn.cursor() as cur:
        with cur.copy(copy_sql) as copy:
            sent_sha = _send(copy, f, progress)
        rows = cur.rowcount
    if sent_sha != sha:
        raise LoadError(f"{f.path.name}: the file changed while it was being loaded (sha256 {sha[:12]}… when "
                        f"scanned, {sent_sha[:12]}… as sent); nothing of this file was loaded: load it again "
                        "once it is complete")
    result.rows_read = rows
    # a cases batch to be validated accepts nothing until its validation completed
    result.rows_accepted = 0 if kind == "cases" and validate else rows
    conn.execute("update audit.batches set rows_read = %s, rows_accepted = %s where batch_id = %s",
                 (rows, result.rows_accepted, batch_id))
    audit.record(conn, "special_review" if kind == "special_review" else "load", f.path.name,
                 {"rows_read": rows}, details={"batch_id": batch_id, "kind": kind, "sha256": sha,
                                               "encoding": encoding})


def _require_same_key(conn: psycopg.Connection, path: Path, secret: bytes, batch_id: int) -> None:
    """Refuse a key other than the one the warehouse's patient ids were made with (the first load records its
    fingerprint): with another key the same patient would get another pseudonym, silently."""
    mine = pseudonym.fingerprint(secret)
    stored = conn.execute("select fingerprint from audit.pseudonym_key").fetchone()
    if stored is None:
        conn.execute("insert into audit.pseudonym_key (fingerprint, first_batch) values (%s, %s)"
                     " on conflict do nothing", (mine, batch_id))
    elif stored[0] != mine:
        raise LoadError(f"{path.name}: the pseudonym key (fingerprint {mine}) is not the one this warehouse's "
                        f"patient ids were made with (fingerprint {stored[0]}): set DRGFLOW_PSEUDONYM_KEY to that "
                        "key (or restore $DRGFLOW_HOME/pseudonym.key); nothing was loaded")


#: what keeps case data and the pseudonym pads out of the server's log during a load: bind parameters are not
#: logged (log_statement = all would print the pads), and errors leave out their CONTEXT (a refused COPY's
#: context is the line it refused, patient id included)
QUIET_LOG = {"log_parameter_max_length": "0", "log_parameter_max_length_on_error": "0",
             "log_error_verbosity": "terse"}


def _keep_case_data_out_of_the_server_log(conn: psycopg.Connection) -> None:
    """Set QUIET_LOG for the load transaction (a superuser may; `drgflow db init-roles` sets them on
    drgflow_loader); refuse to send the pads when the session would still log them."""
    for name, value in QUIET_LOG.items():
        try:
            with conn.transaction():
                conn.execute(sql.SQL("set local {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        except psycopg.errors.InsufficientPrivilege:
            pass     # a service role: init-roles set it on the role; checked below
    wrong = [f"{n}={v}" for n, v in conn.execute(
        "select name, setting from pg_settings where name = any(%s)", (list(QUIET_LOG),)).fetchall()
        if v != QUIET_LOG[n]]
    if wrong:
        raise LoadError(f"the server would write case data or the pseudonym pads into its log ({', '.join(wrong)}) "
                        "and this role may not change that: run `drgflow db init-roles` as the admin (it sets "
                        f"{', '.join(f'{n} = {v}' for n, v in QUIET_LOG.items())} for drgflow_loader); nothing "
                        "was loaded")


def _send(copy: psycopg.Copy, f: _File, progress: bool) -> str:
    """Stream the data lines of `f` to COPY; returns the sha256 of the whole file as read (header + data)."""
    digest = hashlib.sha256()
    f.handle.seek(0)
    digest.update(f.handle.read(f.data_start))
    sent, next_report = f.data_start, f.size // 10
    while chunk := f.handle.read(CHUNK):
        copy.write(chunk)
        digest.update(chunk)
        sent += len(chunk)
        if progress and f.size > 50 * CHUNK and sent >= next_report:
            print(f"  {f.path.name}: {sent * 100 // f.size}% sent", file=sys.stderr, flush=True)
            next_report += f.size // 10
    return digest.hexdigest()


def load_paths(paths: list[Path], url: str | None = None, validate: bool = True,
               progress: bool = True) -> list[LoadResult]:
    """Load files, reference tables before case files. A folder means its *.csv files that are input
    files (others, such as a generator's defects.csv, are skipped with a note); a named file must be one."""
    files: list[tuple[Path, str]] = []
    skipped: list[LoadResult] = []
    for p in map(Path, paths):
        try:
            candidates = sorted(p.glob("*.csv")) if p.is_dir() else [p]
            for f in candidates:
                if not f.is_file():
                    raise LoadError(f"{_short(f)}: no such file")
        except OSError as exc:
            raise LoadError(f"{_short(p)}: cannot read ({exc.strerror})") from None
        for f in candidates:
            header, _ = read_header(f, scan_encoding_quick(f))
            kind = contract.kind_of_header(header, f.name)
            if kind is None and p.is_dir():
                skipped.append(LoadResult(path=str(f), kind="skipped", batch_id=None, skipped=True,
                                          notes=["not an input file (header matches no contract kind)"]))
                continue
            files.append((f, kind or "cases"))
    db.init_warehouse(url)
    results = list(skipped)
    for f, _ in sorted(files, key=lambda item: contract.LOAD_ORDER.index(item[1])):
        res = load_file(f, url, progress=progress, validate=validate)
        if res.kind == "cases" and (validate and not res.skipped or res.needs_validation):
            validation.validate_batch(res, url)
        results.append(res)
    return results


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:60] + "…" + text[-40:]


def scan_encoding_quick(path: Path) -> str:
    """UTF8 or GB18030, from the first 64 KiB of the file."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    try:
        head.decode("utf-8")
        return "UTF8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is not a sign of GBK
        return "UTF8" if exc.start > len(head) - 4 else "GB18030"
