"""Charts for the reports: matplotlib rendered to inline SVG (text as paths, so the page needs no font and
no network). CJK labels use "Noto Sans CJK SC" when installed; without it the charts fall back to English
labels rather than printing empty boxes."""
from __future__ import annotations

import io
import warnings
from decimal import Decimal
from functools import lru_cache
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: Airflow workers and CI have no display
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import MaxNLocator

CJK_FONT = "Noto Sans CJK SC"
PALETTE = ["#2f6f9f", "#e07b39", "#4f9d69", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c",
           "#ccb974", "#64b5cd"]


@lru_cache(maxsize=1)
def cjk_available() -> bool:
    """True when the CJK font is installed; configures matplotlib either way (once)."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    found = CJK_FONT in names
    family = [CJK_FONT, "DejaVu Sans"] if found else ["DejaVu Sans"]
    matplotlib.rcParams.update({
        "font.family": "sans-serif", "font.sans-serif": family, "axes.unicode_minus": False,
        "svg.fonttype": "path", "svg.hashsalt": "drgflow",  # stable ids: same data, same file
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 9,
        "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    })
    return found


def label(zh: str, en: str) -> str:
    """The Chinese label when the font can draw it, else the English one."""
    return zh if cjk_available() else en


def _svg(fig) -> str:
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-glyph warnings when falling back
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined in HTML


def _f(values: Sequence) -> list[float]:
    # charts only: figures in tables and workbooks stay Decimal
    return [float(v) if v is not None else float("nan") for v in values]


def line_chart(x: Sequence[str], series: dict[str, Sequence], title: str, ylabel: str = "",
               hlines: dict[str, Decimal] | None = None) -> str:
    """Inline SVG of one line per series over `x`, with dashed reference lines `hlines`."""
    cjk_available()
    fig, ax = plt.subplots(figsize=(7.2, 3.0))
    for i, (name, ys) in enumerate(series.items()):
        ax.plot(list(x), _f(ys), marker="o", label=name, color=PALETTE[i % len(PALETTE)])
    for i, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(float(y), linestyle="--", linewidth=1, color=PALETTE[i % len(PALETTE)], label=name)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.autofmt_xdate(rotation=30)
    return _svg(fig)


def stacked_bars(categories: Sequence[str], stacks: dict[str, Sequence], title: str, ylabel: str = "",
                 horizontal: bool = False) -> str:
    """Inline SVG of bars per category, the stacks on top of each other (horizontal bars if asked)."""
    cjk_available()
    height = max(2.6, 0.32 * len(categories) + 1.2) if horizontal else 3.2
    fig, ax = plt.subplots(figsize=(7.2, height))
    base = [0.0] * len(categories)
    pos = list(range(len(categories)))
    for i, (name, vals) in enumerate(stacks.items()):
        v = [0.0 if x != x else x for x in _f(vals)]
        if horizontal:
            ax.barh(pos, v, left=base, label=name, color=PALETTE[i % len(PALETTE)])
        else:
            ax.bar(pos, v, bottom=base, label=name, color=PALETTE[i % len(PALETTE)])
        base = [b + x for b, x in zip(base, v, strict=True)]
    if horizontal:
        ax.set_yticks(pos, list(categories))
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
    else:
        ax.set_xticks(pos, list(categories), rotation=30 if len(categories) > 6 else 0)
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(stacks) > 1:  # outside the axes, right: it never covers bars or the axis label
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig)


def histogram(values: Sequence, bins: Sequence[float], title: str, xlabel: str, ylabel: str,
              marker: float | None = None) -> str:
    """Inline SVG of a histogram of `values`, with a dashed line at `marker`."""
    cjk_available()
    fig, ax = plt.subplots(figsize=(7.2, 2.8))
    v = [x for x in _f(values) if x == x]
    ax.hist(v, bins=list(bins), color=PALETTE[0], edgecolor="white")
    if marker is not None:
        ax.axvline(marker, color=PALETTE[3], linestyle="--", linewidth=1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of DRGs: no 0.2 ticks
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _svg(fig)


def scatter(xs: Sequence, ys: Sequence, labels: Sequence[str], title: str, xlabel: str, ylabel: str) -> str:
    """Inline SVG of labelled points, with dotted lines at 1 on both axes."""
    cjk_available()
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    fx, fy = _f(xs), _f(ys)
    ax.scatter(fx, fy, color=PALETTE[0])
    for x, y, t in zip(fx, fy, labels, strict=True):
        if x == x and y == y:
            ax.annotate(t, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.axvline(1.0, color="#999", linewidth=0.8, linestyle=":")
    ax.axhline(1.0, color="#999", linewidth=0.8, linestyle=":")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _svg(fig)
