"""What the loader learns from a file's bytes before COPY sees them: the sha256, the encoding, and the
lines that would make COPY stop early.

PostgreSQL's COPY ends its input at a line holding only `\\.` (the end-of-data marker of the COPY
protocol) and ignores the rest without an error: a file with such a line would load as its first rows
only. In CSV, COPY takes `\\.` as the marker only where a record starts, not inside a quoted field, and
its line splitting toggles "inside quotes" at every `"` (a doubled `""` toggles twice). So a candidate
line is a marker when the number of `"` before it, from the first data byte, is even. The byte patterns
are safe in GB18030 too: `"`, CR and LF are never part of a multi-byte character there.
"""
from __future__ import annotations

import codecs
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 8 * 1024 * 1024

_EOL = (0x0A, 0x0D)


@dataclass(frozen=True)
class Scan:
    """One read of a file: its sha256, PostgreSQL encoding name, and where `\\.` lines are (byte offsets)."""

    sha256: str
    encoding: str
    markers: tuple[int, ...]


def scan_file(path: Path) -> Scan:
    """Hash, check the UTF-8 and find `\\.` lines in one read: UTF-8 when the bytes decode as UTF-8, else
    GB18030 (a GBK superset)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    markers: list[int] = []
    tail, position = b"\n", 0          # the file starts a line
    # the hash runs in a thread (hashlib releases the GIL) while this one checks the bytes: the two overlap
    with path.open("rb") as handle, ThreadPoolExecutor(max_workers=1) as hasher:
        hashed = None
        while chunk := handle.read(CHUNK):
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(digest.update, chunk)
            window = tail + chunk
            markers += _markers(window, position - len(tail))
            tail, position = window[-3:], position + len(chunk)
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if hashed is not None:
            hashed.result()
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return Scan(digest.hexdigest(), "UTF8" if utf8 else "GB18030", tuple(markers))


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
