"""Cells of the workbooks drgflow writes (hospital statements, quality feedback): data goes in as data.

openpyxl turns a string starting with `=` into a formula and `#N/A` into an error value, and refuses
control characters. A case id like `=HYPERLINK(...)` or a hospital name starting with `=`, `+`, `-`, `@`,
a tab or a CR must reach the hospital as the text it is, never as a live formula. Every writer of a
workbook puts its values through `write` / `write_row` here: text is stored as a string cell, and one
that a spreadsheet would read as a formula when edited also gets Excel's quote prefix (the `'` a user
types to keep text as text).
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet.worksheet import Worksheet

#: leading characters that make a spreadsheet treat typed or imported text as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_file_name(text: str) -> str:
    """A file-name part for an id from the input (hospital ids name statements and feedback files): the id
    itself when it is made of letters, digits, `_`, `.` and `-` only; otherwise a readable form plus 8 hex
    digits of the id's sha256, so that two ids never share a file (`=X` and `X`, `HX-1` and `HX_1`)."""
    text = str(text)
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:60]
    if readable == text:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{readable}_{digest}" if readable else digest


def printable(text: str) -> str:
    """`text` with the control characters a workbook cannot hold written as `\\xNN` (nothing dropped)."""
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def set_value(cell: Cell, value: Any) -> Cell:
    """Put `value` into `cell`: numbers, dates and None as they are; text always as a string cell."""
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = printable(value)
    cell.value = text
    cell.data_type = "s"            # openpyxl guessed 'f' for "=…" and 'e' for "#N/A": text it is
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True
    return cell


def write(ws: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write one value at (row, column) of `ws`; returns the cell (for its font, border, format)."""
    return set_value(ws.cell(row=row, column=column), value)


def write_row(ws: Worksheet, row: int, values: Iterable[Any], first_column: int = 1) -> list[Cell]:
    """Write `values` left to right on `row` from `first_column`; returns the cells."""
    return [write(ws, row, column, value) for column, value in enumerate(values, start=first_column)]
