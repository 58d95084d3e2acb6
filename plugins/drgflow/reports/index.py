"""The reports index page (reports/index.html): every period's regional report and hospital statements,
newest first, plus the dbt docs and the GX Data Docs. Built from what is on disk, so it always lists the
latest files whichever command wrote them."""
from __future__ import annotations

import os
import re
from pathlib import Path

from drgflow.reports import html

PERIOD_DIR = re.compile(r"\d{4}(-\d{2})?")
STATEMENT = re.compile(r"statement_(.+)_(\d{4}(?:-\d{2})?)\.(xlsx|html)")


def _link(target: Path, base: Path, text: str) -> str:
    rel = os.path.relpath(target, base)  # relative: the folder can be moved or served as is
    return f"<a href=\"{html.escape(Path(rel).as_posix())}\">{html.escape(text)}</a>"


def _sort_key(name: str) -> tuple[str, int]:
    # annual folder after its months would hide it at the bottom: newest year first, annual first within it
    return (name[:4], 13 if len(name) == 4 else int(name[5:7]))


def build_index(root: Path, data_docs: Path | None = None, dbt_docs: Path | None = None) -> Path:
    """Write root/index.html linking everything found under root; returns its path."""
    dbt_docs = dbt_docs or root / "dbt_docs" / "index.html"
    periods = sorted((p.name for p in root.iterdir() if p.is_dir() and PERIOD_DIR.fullmatch(p.name)),
                     key=_sort_key, reverse=True)
    docs = ["<h2>文档 Documentation</h2><ul>"]
    docs.append("<li>" + (_link(dbt_docs, root, "dbt 数据文档 dbt docs (marts, columns, lineage)")
                          if dbt_docs.exists() else "dbt docs: 尚未生成 not generated yet") + "</li>")
    docs.append("<li>" + (_link(data_docs, root, "GX 数据质量文档 Great Expectations Data Docs")
                          if data_docs and data_docs.exists() else "GX Data Docs: 尚无校验 no validation run yet")
                + "</li></ul>")
    latest = []
    for label, pick in (("最新月度 latest month", lambda n: len(n) == 7),
                        ("最新年度 latest year", lambda n: len(n) == 4)):
        found = next((n for n in periods if pick(n) and (root / n / f"regional_{n}.html").exists()), None)
        if found:
            latest.append(f"<li>{label}: " + _link(root / found / f"regional_{found}.html", root, found) + "</li>")
    body = ["<h2>最新 Latest</h2><ul>" + "".join(latest) + "</ul>" if latest else "", "".join(docs),
            "<h2>结算报告 Settlement reports</h2>"]
    if not periods:
        body.append("<p class=\"note\">尚无报告 no reports yet: drgflow report --period YYYY-MM</p>")
    for name in periods:
        folder = root / name
        kind = "年度清算 annual" if len(name) == 4 else "月度预结算 monthly"
        items = [f"<h3>{html.escape(name)} · {kind}</h3><ul>"]
        regional = folder / f"regional_{name}.html"
        if regional.exists():
            items.append("<li>" + _link(regional, root, "统筹区结算分析报告 regional settlement report") + "</li>")
        statements: dict[str, dict[str, Path]] = {}
        for f in sorted(folder.iterdir()):
            m = STATEMENT.fullmatch(f.name)
            if m and m.group(2) == name:
                statements.setdefault(m.group(1), {})[m.group(3)] = f
        if statements:
            items.append("<li>医院结算单 hospital statements: <table><tr><th>医院 hospital</th><th>Excel</th>"
                         "<th>HTML</th></tr>")
            for hid, files in statements.items():
                cells = [(_link(files[k], root, k) if k in files else "—") for k in ("xlsx", "html")]
                items.append(f"<tr><td>{html.escape(hid)}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
            items.append("</table></li>")
        items.append("</ul>")
        body.append("".join(items))
    root.mkdir(parents=True, exist_ok=True)
    path = root / "index.html"
    path.write_text(html.page("drgflow 报告 Reports", "".join(body), "最新报告 latest reports, dbt docs, Data Docs"),
                    encoding="utf-8")
    return path
