"""Read and check a published DIP catalogue file (病种库) in the 平顶山 layout (dip-spec §3.2, §3.3, §12).

The file is an .xlsx with the sheets 目录 (the groups) and 中间结果 (their statistics). Nothing here touches the
database: `read_catalogue` returns the checked rows, or raises UserError naming the sheet, the row and the rule.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from drgflow.errors import UserError

LAYOUT = "pingdingshan"
GROUPS_SHEET = "目录"
STATS_SHEET = "中间结果"
#: comprehensive-group tokens of the layout and the treatment class each stands for (dip-spec §3.2, §11)
TOKENS = {"SS": "surgery", "ZLXCZ": "therapeutic", "ZDXCZ": "diagnostic", "BSZL": "conservative"}
#: 目录 columns the importer reads (by header text, so a reordered sheet still reads)
GROUP_COLUMNS = {"code": "病种编码", "type": "病种类型", "main": "主要操作代码", "others": "其他操作代码"}
#: 中间结果 columns (the header of 平顶山; `YEAR` is quoted with backticks there)
STAT_COLUMNS = {"code": "DIP_CODE", "score": "ALLOCATE_WEIGHT_SCORE", "weight_score": "WEIGHT_SCORE",
                "mean_cost": "DIP_AVG_FEE", "reference_mean": "REGION_AVE_VAL", "mean_los": "AVG_IPT_DAYS",
                "discuss_flag": "DISCUSS_FLAG", "upper_limit_reduction": "UPLMT_REDC_MAG", "cv": "CV",
                "n": "BILL_COUNT", "remark": "REMARK", "year": "YEAR"}
#: stored values keep 6 decimals (dip-spec §12: every 平顶山 value has at most 6)
SIX = Decimal("0.000001")
#: at most this many problems are listed in one error
MAX_LISTED = 10

_DX4 = re.compile(r"^[A-Z][0-9]{2}\.[0-9A-Z]$")
_DX3 = re.compile(r"^[A-Z][0-9]{2}$")


def normalise(code: str) -> str:
    """dip-spec §2.1: trimmed and upper-cased (x -> X)."""
    return code.strip().upper()


@dataclass
class CatalogueFile:
    """A checked catalogue: groups (目录 rows with their statistics), extra (中间结果 rows without a group)."""

    path: Path
    sha256: str
    reference_mean: Decimal
    groups: list[dict] = field(default_factory=list)
    extra: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_code(code: str) -> dict:
    """Split a normalised catalogue code by the §3.2 grammar into group_type, dx_key, main_px, related_px
    (sorted, '+'-joined) and class token; raises ValueError with the rule broken."""
    if ":" not in code:
        if not _DX4.match(code):
            raise ValueError(f"code {code!r} is neither dx4 (e.g. G45.9) nor dx4:procedure nor dx3:token")
        return {"group_type": "core", "dx_key": code, "main_px": None, "related": [], "class": None}
    head, _, tail = code.partition(":")
    if tail in TOKENS:
        if not _DX3.match(head):
            raise ValueError(f"comprehensive code {code!r}: {head!r} is not a 3-character category (类目)")
        return {"group_type": "comprehensive", "dx_key": head, "main_px": None, "related": [], "class": tail}
    if not _DX4.match(head):
        raise ValueError(f"code {code!r}: {head!r} is not a dx4 (亚目, e.g. K80.1)")
    main, sep, rest = tail.partition("_")
    related = rest.split("+") if sep else []
    if not main or any(not r for r in related) or "+" in main or "_" in rest:
        raise ValueError(f"code {code!r}: expected dx4:main[_related(+related)*]")
    if related != sorted(related):
        raise ValueError(f"code {code!r}: related procedures are not sorted")
    if len(set(related)) != len(related) or main in related:
        raise ValueError(f"code {code!r}: a procedure repeats")
    return {"group_type": "core", "dx_key": head, "main_px": main, "related": related, "class": None}


def _decimal(value: object) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        # a float cell read back through its shortest repr: 5718.153489 stays 5718.153489
        return Decimal(repr(value) if isinstance(value, float) else str(value).strip()).quantize(
            SIX, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a number") from None


def _int(value: object) -> int | None:
    number = _decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _header_index(path: Path, sheet: str, header: tuple, wanted: dict[str, str]) -> dict[str, int]:
    names = [str(h).strip().strip("`") if h is not None else "" for h in header]
    index = {}
    for key, title in wanted.items():
        hits = [i for i, n in enumerate(names) if n == title] or [i for i, n in enumerate(names) if n.startswith(title)]
        if not hits:
            raise UserError(f"{path.name}: sheet {sheet}, row 1: column {title} is missing (layout {LAYOUT}, "
                            f"dip-spec §3.3)")
        index[key] = hits[0]
    return index


def _rows(path: Path, workbook, sheet: str):
    if sheet not in workbook.sheetnames:
        raise UserError(f"{path.name}: sheet {sheet} is missing (layout {LAYOUT} needs the sheets {GROUPS_SHEET} "
                        f"and {STATS_SHEET}; dip-spec §3.3)")
    rows = workbook[sheet].iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise UserError(f"{path.name}: sheet {sheet} is empty")
    return header, rows


def read_catalogue(path: Path, dx_codes: set[str], px_codes: set[str]) -> CatalogueFile:
    """Read `path` (layout pingdingshan) and check it against the 医保版 catalogues (normalised codes).
    Raises UserError listing the first problems, each with its sheet, row and rule (dip-spec §12)."""
    import openpyxl  # noqa: PLC0415 - only the import command reads workbooks

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        workbook = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
        raise UserError(f"{path.name}: not an .xlsx workbook ({type(exc).__name__}: {exc})") from None
    problems: list[str] = []

    def problem(sheet: str, row: int, rule: str) -> None:
        problems.append(f"sheet {sheet}, row {row}: {rule}")

    try:
        header, rows = _rows(path, workbook, STATS_SHEET)
        col = _header_index(path, STATS_SHEET, header, STAT_COLUMNS)
        stats: dict[str, dict] = {}
        means: set[Decimal] = set()
        for row_no, row in enumerate(rows, start=2):
            if row is None or all(v is None for v in row):
                continue
            published = row[col["code"]]
            published = str(published).strip() if published is not None else ""
            if not published:
                problem(STATS_SHEET, row_no, "DIP_CODE is empty")
                continue
            try:
                item = {k: _decimal(row[col[k]]) for k in ("score", "weight_score", "mean_cost", "reference_mean",
                                                           "mean_los", "cv", "upper_limit_reduction")}
                item.update(n=_int(row[col["n"]]), discuss_flag=_int(row[col["discuss_flag"]]),
                            data_year=_int(row[col["year"]]))
            except ValueError as exc:
                problem(STATS_SHEET, row_no, f"{published}: {exc}")
                continue
            remark = row[col["remark"]]
            item.update(published_code=published, source_row=row_no,
                        remark=str(remark).strip() if remark is not None else None)
            if published in stats:
                problem(STATS_SHEET, row_no, f"DIP_CODE {published} repeats row {stats[published]['source_row']}")
                continue
            stats[published] = item
            if item["reference_mean"] is not None:
                means.add(item["reference_mean"])
        if len(means) != 1:
            shown = ", ".join(str(m) for m in sorted(means)[:5]) or "none"
            problem(STATS_SHEET, 1, f"REGION_AVE_VAL must be one value on every row (the reference mean cost M); "
                                    f"found {len(means)}: {shown}")
        reference_mean = next(iter(means)) if len(means) == 1 else Decimal(0)

        header, rows = _rows(path, workbook, GROUPS_SHEET)
        col = _header_index(path, GROUPS_SHEET, header, GROUP_COLUMNS)
        dx4_known = {c[:5] for c in dx_codes if len(c) >= 5 and c[3] == "."}
        dx3_known = {c[:3] for c in dx_codes}
        groups: list[dict] = []
        seen: dict[str, int] = {}
        used: set[str] = set()
        warnings: list[str] = []
        for row_no, row in enumerate(rows, start=2):
            if row is None or all(v is None for v in row):
                continue
            published = row[col["code"]]
            published = str(published).strip() if published is not None else ""
            if not published:
                problem(GROUPS_SHEET, row_no, "病种编码 is empty")
                continue
            code = normalise(published)
            try:
                parts = parse_code(code)
            except ValueError as exc:
                problem(GROUPS_SHEET, row_no, f"grammar (dip-spec §3.2): {exc}")
                continue
            if code in seen:
                problem(GROUPS_SHEET, row_no, f"code {code} repeats row {seen[code]} (after normalisation)")
                continue
            seen[code] = row_no
            type_cell = str(row[col["type"]]).strip() if row[col["type"]] is not None else ""
            expected = {"1": "core", "0": "comprehensive", "2": "comprehensive"}.get(type_cell)
            if expected != parts["group_type"]:
                problem(GROUPS_SHEET, row_no, f"{published}: 病种类型 {type_cell!r} does not agree with the code, a "
                                              f"{parts['group_type']} group (1 = core, 0 or 2 = comprehensive)")
            if parts["group_type"] == "core" and parts["dx_key"] not in dx4_known:
                problem(GROUPS_SHEET, row_no, f"{published}: dx4 {parts['dx_key']} is not the prefix of any "
                                              f"ICD-10 医保版 diagnosis code")
            if parts["group_type"] == "comprehensive" and parts["dx_key"] not in dx3_known:
                problem(GROUPS_SHEET, row_no, f"{published}: category {parts['dx_key']} is not the prefix of any "
                                              f"ICD-10 医保版 diagnosis code")
            procedures = ([parts["main_px"]] if parts["main_px"] else []) + parts["related"]
            unknown = [p for p in procedures if p not in px_codes]
            if unknown:
                problem(GROUPS_SHEET, row_no, f"{published}: procedure(s) {', '.join(unknown)} not in the "
                                              f"ICD-9-CM-3 医保版 catalogue")
            main_cell = normalise(str(row[col["main"]] or ""))
            others_cell = sorted(normalise(p) for p in str(row[col["others"]] or "").split(",") if p.strip())
            if main_cell != (parts["main_px"] or "") or others_cell != parts["related"]:
                problem(GROUPS_SHEET, row_no, f"{published}: 主要操作代码/其他操作代码 ({main_cell or '-'} / "
                                              f"{','.join(others_cell) or '-'}) do not repeat the code's procedures")
            stat = stats.get(published)
            if stat is None:
                problem(GROUPS_SHEET, row_no, f"{published}: no {STATS_SHEET} row has DIP_CODE {published}")
                continue
            used.add(published)
            score = stat["score"]
            if score is None or score <= 0:
                problem(STATS_SHEET, stat["source_row"], f"{published}: ALLOCATE_WEIGHT_SCORE {score} must be > 0")
                continue
            if stat["mean_cost"] is not None and reference_mean > 0:
                gap = abs(stat["mean_cost"] / reference_mean * 1000 - score)
                if gap > Decimal("0.001"):
                    warnings.append(f"sheet {STATS_SHEET}, row {stat['source_row']}: {published}: DIP_AVG_FEE / "
                                    f"REGION_AVE_VAL × 1000 differs from the score by {gap:.6f} (> 0.001)")
            groups.append({
                "code": code, "published_code": published, "group_type": parts["group_type"],
                "dx_key": parts["dx_key"], "main_px": parts["main_px"], "related_px": "+".join(parts["related"]),
                "class": parts["class"], "score": score, "mean_cost": stat["mean_cost"], "n": stat["n"],
                "cv": stat["cv"], "mean_los": stat["mean_los"], "reference_mean": reference_mean,
                "discuss_flag": stat["discuss_flag"], "upper_limit_reduction": stat["upper_limit_reduction"],
                "data_year": stat["data_year"], "source_row": row_no,
            })
    finally:
        workbook.close()
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  … and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise UserError(f"{path.name}: the catalogue is refused ({len(problems)} problem(s)):\n  {listed}{more}")
    if not groups:
        raise UserError(f"{path.name}: sheet {GROUPS_SHEET} has no group")
    extra = [{"published_code": s["published_code"], "score": s["score"], "mean_cost": s["mean_cost"], "n": s["n"],
              "remark": s["remark"], "source_row": s["source_row"]}
             for code, s in stats.items() if code not in used]
    return CatalogueFile(path=path, sha256=sha, reference_mean=reference_mean, groups=groups, extra=extra,
                         warnings=warnings)
