"""HTML building blocks shared by the reports: one stylesheet (screen and print), tables, number formats.
Pages are self-contained: inline CSS and SVG, no script, no external resource."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from typing import Any, Sequence

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --head:#f0f4f8; --accent:#2f6f9f; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px 32px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 2px solid var(--accent); padding-bottom: 3px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; } .note { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; }
th { background: var(--head); font-weight: 600; text-align: center; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 700; background: #fafbfc; }
td.neg { color: #b42318; }
figure { margin: 8px 0 16px; } figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; }
nav a { margin-right: 14px; } a { color: var(--accent); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.card b { display: block; font-size: 18px; } .card span { color: var(--muted); font-size: 12px; }
section { break-inside: auto; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav, .noprint { display: none; }
  h2 { break-after: avoid; } table, figure, .cards { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def page(title: str, body: str, subtitle: str = "") -> str:
    """A complete HTML page: title, subtitle with the generation time, the stylesheet and `body`."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
            f"<p class=\"sub\">{escape(subtitle)}{' · ' if subtitle else ''}生成时间 generated {stamp}</p>"
            f"{body}</body></html>\n")


def fmt(value: Any, places: int | None = None, pct: bool = False, sep: bool = True) -> str:
    """A figure as text: Decimal kept exact (quantized for display only), None as —."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if pct:
        return f"{Decimal(value) * 100:.{places if places is not None else 1}f}%"
    if isinstance(value, (int, Decimal, float)) and places is not None:
        return f"{Decimal(value):{',' if sep else ''}.{places}f}"
    if isinstance(value, int):
        return f"{value:,}" if sep else str(value)
    return str(value)


Column = tuple[str, str, dict]  # (header, key, format options: places / pct)


def table(columns: Sequence[Column], rows: Sequence[dict], total: dict | None = None, cls: str = "") -> str:
    """A table; numeric cells right-aligned, negative money in red; `total` is an extra bold row."""
    head = "".join(f"<th>{escape(h)}</th>" for h, _, _ in columns)
    out = [f"<table class=\"{cls}\"><thead><tr>{head}</tr></thead><tbody>"]
    for row, css in [*((r, "") for r in rows), *(((total, "total"),) if total else ())]:
        cells = []
        for _, key, opts in columns:
            v = row.get(key)
            numeric = isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
            klass = ("n" + (" neg" if numeric and v < 0 else "")) if numeric else ""
            cells.append(f"<td class=\"{klass}\">{escape(fmt(v, **opts))}</td>")
        out.append(f"<tr class=\"{css}\">{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def figure(svg: str, caption: str) -> str:
    """An SVG with its caption."""
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def cards(items: Sequence[tuple[str, str]]) -> str:
    """A row of cards: each value in bold above its label."""
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><b>{escape(v)}</b><span>{escape(k)}</span></div>" for k, v in items) + "</div>"
