"""What the loader learns from a file's bytes before COPY sees them: the sha256, the encoding, and the
lines that would make COPY stop early.

PostgreSQL's COPY ends its input at a line holding only `\\.` (the end-of-data marker of the COPY
protocol) and ignores the rest without an error: a file with such a line would load as its first rows
only. In CSV, COPY takes `\\.` as the marker only where a record starts, not inside a quoted field, and
its line splitting toggles "inside quotes" at every `"` (a doubled `""` toggles twice). So a candidate
line is a marker when the number of `"` before it, from the first data byte, is even. The byte patterns
are safe in GB18030 too: `"`, CR and LF are never part of a multi-byte character there.

Encoding: UTF-8 when the bytes decode as UTF-8. Otherwise GB18030 (a superset of GBK) only when the bytes
decode as GB18030 *and* do not look like UTF-8: fewer Chinese characters decode correctly as UTF-8 than
there are invalid UTF-8 sequences. GBK text read as UTF-8 is nearly all invalid sequences (the odd pair of
bytes that happens to be valid UTF-8 is rarely a Chinese character), while a UTF-8 file with one stray
byte is the opposite; read as GB18030 it would load as mojibake. Such a file, and one in neither encoding,
is refused with the line of the offending byte: the loader never changes the text it stores.
"""
from __future__ import annotations

import codecs
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from drgflow.errors import LoadError

CHUNK = 8 * 1024 * 1024

_EOL = (0x0A, 0x0D)
#: Chinese characters (CJK ideographs, CJK punctuation, full-width forms): what a Chinese UTF-8 file is made of
_CHINESE = re.compile("[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class Scan:
    """One read of a file: its sha256, PostgreSQL encoding name, and where `\\.` lines are (byte offsets)."""

    sha256: str
    encoding: str
    markers: tuple[int, ...]


def scan(handle: BinaryIO, path: Path) -> Scan:
    """Hash, check the UTF-8 and find `\\.` lines of the open file in one read from its start; a file that
    is not UTF-8 is checked again (`_not_utf8`): GB18030, or refused with LoadError naming `path`."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    bad_utf8: int | None = None         # offset of the first byte that is not UTF-8
    markers: list[int] = []
    tail, position = b"\n", 0          # the file starts a line
    # the hash runs in a thread (hashlib releases the GIL) while this one checks the bytes: the two overlap
    handle.seek(0)
    with ThreadPoolExecutor(max_workers=1) as hasher:
        hashed = None
        while chunk := handle.read(CHUNK):
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(digest.update, chunk)
            window = tail + chunk
            markers += _markers(window, position - len(tail))
            if bad_utf8 is None:
                bad_utf8 = _first_bad(decoder, chunk, position)
            tail, position = window[-3:], position + len(chunk)
        if hashed is not None:
            hashed.result()
    if bad_utf8 is None:
        bad_utf8 = _first_bad(decoder, b"", position, final=True)
    encoding = "UTF8" if bad_utf8 is None else _not_utf8(handle, path, bad_utf8)
    return Scan(digest.hexdigest(), encoding, tuple(markers))


def _first_bad(decoder: codecs.IncrementalDecoder, chunk: bytes, position: int, final: bool = False) -> int | None:
    """Feed `chunk` (at file offset `position`) to a strict decoder: the file offset of the first byte it
    refuses, or None."""
    pending = len(decoder.getstate()[0])      # bytes of an unfinished character from the previous chunk
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:
        return position - pending + exc.start
    return None


def _not_utf8(handle: BinaryIO, path: Path, bad_utf8: int) -> str:
    """The encoding of a file that is not UTF-8: "GB18030", or LoadError naming the line of the byte that
    decides it (the first non-UTF-8 byte when the file looks like UTF-8, else the first non-GB18030 one)."""
    chinese, invalid, bad_gb = _second_read(handle)
    if chinese >= invalid:
        byte = _byte_at(handle, bad_utf8)
        raise LoadError(f"{path.name}: line {_line_at(handle, bad_utf8)}: byte 0x{byte:02X} is not valid UTF-8 in a "
                        f"file that is otherwise UTF-8 ({chinese} Chinese characters read as UTF-8): reading it as "
                        "GBK/GB18030 would change its text; correct that byte or save the file as UTF-8 again; "
                        "nothing of this file was loaded")
    if bad_gb is not None:
        byte = _byte_at(handle, bad_gb)
        raise LoadError(f"{path.name}: line {_line_at(handle, bad_gb)}: byte 0x{byte:02X} is neither UTF-8 nor "
                        "GBK/GB18030 (is it a text file? the encodings accepted are UTF-8, GBK and GB18030); "
                        "nothing of this file was loaded")
    return "GB18030"


def _second_read(handle: BinaryIO) -> tuple[int, int, int | None]:
    """(Chinese characters that decode as UTF-8, invalid UTF-8 sequences, offset of the first byte that is
    not GB18030 or None)."""
    as_utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    gb = codecs.getincrementaldecoder("gb18030")()
    chinese = invalid = position = 0
    bad_gb: int | None = None
    handle.seek(0)
    while chunk := handle.read(CHUNK):
        text = as_utf8.decode(chunk)
        if not text.isascii():
            invalid += text.count("\ufffd")
            chinese += len(_CHINESE.findall(text))
        if bad_gb is None:
            bad_gb = _first_bad(gb, chunk, position)
        position += len(chunk)
    invalid += as_utf8.decode(b"", final=True).count("\ufffd")
    if bad_gb is None:
        bad_gb = _first_bad(gb, b"", position, final=True)
    return chinese, invalid, bad_gb


def _line_at(handle: BinaryIO, offset: int) -> int:
    """Line number (1 = first) of the byte at `offset`."""
    handle.seek(0)
    lines, left = 1, offset
    while left > 0 and (chunk := handle.read(min(CHUNK, left))):
        lines += chunk.count(b"\n")
        left -= len(chunk)
    return lines


def _byte_at(handle: BinaryIO, offset: int) -> int:
    """The byte at `offset` (0 past the end), for the message."""
    handle.seek(offset)
    return (handle.read(1) or b"\0")[0]


def _markers(window: bytes, base: int) -> list[int]:
    """File offsets of the `\\.` in `window` that stand alone on their line (a line end before and after).
    `window` starts with the last 3 bytes of the previous one, so a line split between reads is seen once:
    a `\\.` at the very end is decided in the next window, where the byte after it is known."""
    found = []
    i = window.find(b"\\", 1)          # one byte: memchr speed (a two-byte find is several times slower)
    while i != -1 and i + 2 < len(window):
        if window[i + 1] == 0x2E and window[i - 1] in _EOL and window[i + 2] in _EOL:
            found.append(base + i)
        i = window.find(b"\\", i + 1)
    return found


def end_marker_line(handle: BinaryIO, markers: tuple[int, ...], data_start: int) -> int | None:
    """Line number (1 = header) of the first `\\.` line at which COPY would stop, reading the data from
    `data_start`; None when every candidate is inside a quoted field (data, which COPY keeps)."""
    quotes, lines, position = 0, 0, 0
    handle.seek(0)
    lines += handle.read(data_start).count(b"\n")
    position = data_start
    for offset in sorted(m for m in markers if m >= data_start):
        segment = handle.read(offset - position)
        quotes += segment.count(b'"')
        lines += segment.count(b"\n")
        position = offset
        if quotes % 2 == 0:
            return lines + 1
    return None
