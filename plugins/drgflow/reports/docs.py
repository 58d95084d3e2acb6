"""Analyst documentation: the dbt docs site (every model and column described in the _<dir>__models.yml files),
generated with `dbt docs generate --static` so the page opens from disk without a web server."""
from __future__ import annotations

import shutil
from pathlib import Path

from drgflow.transform import run_dbt, target_dir

ARTEFACTS = ("manifest.json", "catalog.json")


def build_dbt_docs(url: str, out_dir: Path) -> Path:
    """Generate the dbt docs for the warehouse at `url` and copy them to out_dir; returns out_dir/index.html.

    index.html is dbt's static page (manifest and catalog embedded): the ordinary index.html fetches the
    JSON files, which browsers refuse for file:// pages. manifest.json and catalog.json are copied beside it
    for tools and for `dbt docs serve`-style hosting.
    """
    run_dbt(["docs", "generate", "--static"], url=url)
    target = Path(target_dir(url))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ARTEFACTS:
        shutil.copy2(target / name, out_dir / name)
    shutil.copy2(target / "index.html", out_dir / "dbt_index.html")  # the fetching variant, for a web server
    page = out_dir / "index.html"
    shutil.copy2(target / "static_index.html", page)
    return page
