"""Hospital settlement statements (医院结算单): one Excel workbook and one HTML summary per hospital and period.

Monthly (YYYY-MM): the pre-settlement (月度预结算) of marts.settlement_monthly. Annual (YYYY): the clearing
(年终清算) of marts.settlement_annual. Every figure is read from the marts as Decimal and written as a number
with a number format; totals are Decimal sums of the mart rows, so they equal the marts to the cent.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from psycopg import sql

from drgflow import excel
from drgflow.reports import html
from drgflow.reports.common import (
    CASE_TYPE_ZH,
    CASE_TYPES,
    GROUP_STATUS_ZH,
    one,
    parse_period,
    rows,
)

MONEY, POINTS, PV, RATIO, INT = "#,##0.00", "#,##0.0000", "0.000000", "0.0000", "#,##0"

#: summary columns: (header, key, number format); monthly and annual
MONTHLY_COLUMNS = [
    ("统筹区 region", "region_code", None), ("病例数 cases", "case_count", INT),
    ("总点数 points", "total_points", POINTS), ("月度点值 point value (元/点)", "point_value", PV),
    ("医疗总费用 total cost", "total_cost", MONEY), ("个人负担 personal paid", "personal_paid", MONEY),
    ("统筹支付 fund paid", "fund_paid", MONEY), ("预拨比例 ρ", "prepay_ratio", RATIO),
    ("预拨金额 prepayment", "prepayment", MONEY),
]
ANNUAL_COLUMNS = [
    ("统筹区 region", "region_code", None), ("病例数 cases", "case_count", INT),
    ("总点数 points", "total_points", POINTS), ("年度点值 point value (元/点)", "point_value", PV),
    ("考核得分 score", "assessment_score", "0.0"), ("考核系数 K", "assessment_coef", RATIO),
    ("个人负担 personal paid", "personal_paid", MONEY), ("应付 payable", "payable", MONEY),
    ("已预拨 prepaid", "prepaid", MONEY), ("清算 clearing", "clearing", MONEY),
    ("预拨月数 months prepaid", "months_prepaid", INT),
]
#: summed in the total row (point value, ratios and scores are per region, not summable)
SUMMED = {"case_count", "total_points", "total_cost", "personal_paid", "fund_paid", "prepayment", "payable",
          "prepaid", "clearing"}
TYPE_COLUMNS = [("统筹区 region", "region_code", None), ("病例类型 case type", "case_type_zh", None),
                ("病例数 cases", "cases", INT), ("点数 points", "points", POINTS),
                ("医疗总费用 total cost", "total_cost", MONEY)]
CASE_COLUMNS = [
    ("病例号 case id", "case_id", None), ("统筹区 region", "region_code", None), ("结算月份 month", "period", None),
    ("MDC", "mdc", None), ("ADRG", "adrg", None), ("DRG", "drg", None), ("入组状态 group status", "group_status", None),
    ("并发症 CC/MCC", "cc_level", None), ("病例类型 case type", "case_type", None), ("住院天数 LOS", "los_days", INT),
    ("医疗总费用 total cost C", "total_cost", MONEY), ("个人负担 personal", "personal_paid", MONEY),
    ("统筹支付 fund paid", "fund_paid", MONEY), ("基准点数 base points BP", "base_points", POINTS),
    ("差异系数 coefficient c", "coefficient", RATIO), ("病组均费 A_g", "mean_cost", MONEY),
    ("全部病组均费 A_all", "all_mean_cost", MONEY), ("费用倍率 C/A_g", "cost_ratio", RATIO),
    ("高倍率倍数 k", "high_ratio_multiple", "0.0"), ("床日类别 bed-day category", "bed_day_category", None),
    ("床日标准 per diem", "per_diem", MONEY), ("特病单议点数 special-review points", "special_review_points", POINTS),
    ("点数 points", "points", POINTS),
]
REJECT_COLUMNS = [
    ("批次 batch", "batch_id", INT), ("文件 file", "file_name", None), ("行号 row", "source_row", INT),
    ("病例号 case id", "case_id", None), ("结算日期 settle date", "settle_date", None), ("规则 rule", "rule", None),
    ("原因 reason", "message", None), ("已更正 resolved", "resolved", None),
    ("更正批次 resolved by batch", "resolved_by_batch", INT), ("接收时间 loaded at", "loaded_at", None),
]

HEAD_FILL = PatternFill("solid", fgColor="DCE6F0")
THIN = Side(style="thin", color="B7C4D1")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def statement_hospitals(conn: psycopg.Connection, period: str) -> list[str]:
    """Hospitals with a settlement row in the period, and registry hospitals whose rows of the period were all
    rejected (they get a statement too: the rejected sheet tells them what to correct)."""
    year, month = parse_period(period)
    if month:
        sql, args = "select distinct hospital_id from marts.settlement_monthly where period = %s", (period,)
    else:
        sql, args = "select distinct hospital_id from marts.settlement_annual where settlement_year = %s", (year,)
    settled = {r[0] for r in conn.execute(sql, args).fetchall()}
    registry = [r[0] for r in conn.execute("select hospital_id from staging.stg_raw__hospitals").fetchall()]
    rejected = {h for h in registry if h not in settled and rejected_rows(conn, h, period)}
    return sorted(settled | rejected)


def statement_data(conn: psycopg.Connection, hospital_id: str, period: str) -> dict[str, Any]:
    """Everything a statement shows, as dict rows with Decimal figures (the source of truth for both formats)."""
    year, month = parse_period(period)
    hospital = rows(conn, "select hospital_id, hospital_name, level, region_code from staging.stg_raw__hospitals "
                          "where hospital_id = %s", (hospital_id,))
    if month:
        summary = rows(conn, """select region_code, case_count, total_points, point_value, total_cost, personal_paid,
                                       fund_paid, prepay_ratio, prepayment, scheme_version
                                from marts.settlement_monthly where hospital_id = %s and period = %s
                                order by region_code""", (hospital_id, period))
        scope, args = "cp.settlement_year = %s and cp.period = %s", (year, period)
    else:
        summary = rows(conn, """select region_code, case_count, total_points, point_value, assessment_score,
                                       assessment_coef, personal_paid, payable, prepaid, clearing, months_prepaid,
                                       total_cost, fund_paid, scheme_version
                                from marts.settlement_annual where hospital_id = %s and settlement_year = %s
                                order by region_code""", (hospital_id, year))
        scope, args = "cp.settlement_year = %s", (year,)
    source = _case_source(conn, period if month else None)
    by_type = rows(conn, f"""select cp.region_code, cp.case_type, count(*) as cases, sum(cp.points) as points,
                                    sum(cp.total_cost) as total_cost
                             from {source} where cp.hospital_id = %s and {scope}
                             group by 1, 2""", (hospital_id, *args))
    order = {t: i for i, t in enumerate(CASE_TYPES)}
    by_type.sort(key=lambda r: (r["region_code"], order.get(r["case_type"], 99)))
    for r in by_type:
        r["case_type_zh"] = CASE_TYPE_ZH.get(r["case_type"], r["case_type"])
    cases = rows(conn, f"""select cp.case_id, cp.region_code, cp.period, cp.mdc, cp.adrg, cp.drg, cp.group_status,
                                  cp.cc_level, cp.case_type, cp.los_days, cp.total_cost, cp.personal_paid, cp.fund_paid,
                                  cp.base_points, cp.coefficient, cp.mean_cost, cp.all_mean_cost, cp.cost_ratio,
                                  cp.high_ratio_multiple, cp.bed_day_category, cp.per_diem,
                                  cp.special_review_points, cp.points
                           from {source}
                           where cp.hospital_id = %s and {scope}
                           order by cp.period, cp.case_id""", (hospital_id, *args))
    for c in cases:
        c["case_type"] = CASE_TYPE_ZH.get(c["case_type"], c["case_type"])
        c["group_status"] = GROUP_STATUS_ZH.get(c["group_status"], c["group_status"])
    rejected = rejected_rows(conn, hospital_id, period)
    columns = MONTHLY_COLUMNS if month else ANNUAL_COLUMNS
    total = {k: sum((r[k] or 0 for r in summary), Decimal(0)) for _, k, _ in columns if k in SUMMED}
    total["case_count"] = int(total.get("case_count", 0))
    total["region_code"] = "合计 total"
    type_total = {"region_code": "合计 total", "case_type_zh": "", "cases": sum(r["cases"] for r in by_type),
                  "points": sum((r["points"] for r in by_type), Decimal(0)),
                  "total_cost": sum((r["total_cost"] for r in by_type), Decimal(0))}
    return {"hospital_id": hospital_id, "hospital": hospital[0] if hospital else {}, "period": period,
            "year": year, "monthly": month is not None, "summary": summary, "total": total, "by_type": by_type,
            "type_total": type_total, "cases": cases, "rejected": rejected,
            "scheme_version": summary[0]["scheme_version"] if summary else None}


def _case_source(conn: psycopg.Connection, closed_month: str | None) -> str:
    """The case rows a statement shows, as a relation `cp` (case_points columns plus mdc, adrg, cc_level): for a
    closed month, the rows its close recorded (audit.closed_period_cases), so that the case sheet adds up to
    the month's frozen totals even after an annual run rebuilt case_points; otherwise case_points today."""
    if closed_month and one(conn, "select 1 from audit.periods p where p.period = %s and p.status = 'closed'"
                                  " and exists (select 1 from audit.closed_period_cases c where c.period = p.period"
                                  " and c.case_row is not null)", (closed_month,)):
        period = sql.Literal(closed_month).as_string(conn)
        return (f"""(select (jsonb_populate_record(null::marts.case_points, c.case_row)).*,
                            c.case_row ->> 'mdc' as mdc, c.case_row ->> 'adrg' as adrg,
                            c.case_row ->> 'cc_level' as cc_level
                     from audit.closed_period_cases c where c.period = {period}) cp""")
    return """(select cp.*, g.mdc, g.adrg, g.cc_level
              from marts.case_points cp
              left join marts.case_grouping g on g.scheme_version = cp.scheme_version
                   and g.hospital_id = cp.hospital_id and g.case_id = cp.case_id) cp"""


def rejected_rows(conn: psycopg.Connection, hospital_id: str, period: str) -> list[dict]:
    """Rejected rows (audit.quarantine, severity reject) of the hospital whose settle_date falls in the period;
    a row without a usable settle_date counts in the month it was loaded (as in the quality marts)."""
    found = rows(conn, """
        select q.batch_id, b.file_name, q.source_row, q.case_id, q.raw_record ->> 'settle_date' as settle_date,
               q.rule, q.message, q.resolved_at is not null as resolved, q.resolved_by_batch,
               to_char(b.loaded_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as loaded_at
        from audit.quarantine q join audit.batches b using (batch_id)
        where btrim(q.hospital_id) = %s and q.severity = 'reject'
          and (case when pg_input_is_valid(q.raw_record ->> 'settle_date', 'date')
                    then to_char((q.raw_record ->> 'settle_date')::date, 'YYYY-MM')
                    else to_char(b.loaded_at, 'YYYY-MM') end) like %s
        order by q.batch_id, q.source_row, q.rule""", (hospital_id, period + "%"))
    for r in found:
        r["resolved"] = "是 yes" if r["resolved"] else "否 no"
    return found


def rejected_count(d: dict) -> int:
    """Distinct rejected rows (a row failing two rules is listed twice in the sheet, counted once here)."""
    return len({(r["batch_id"], r["source_row"]) for r in d["rejected"]})


def _title(d: dict) -> str:
    kind = "月度预结算 monthly pre-settlement" if d["monthly"] else "年度清算 annual clearing"
    return f"医院结算单 Hospital statement · {d['hospital_id']} · {d['period']} · {kind}"


def _info(d: dict) -> list[tuple[str, Any]]:
    h = d["hospital"]
    return [("医院编码 hospital id", d["hospital_id"]), ("医院名称 name", h.get("hospital_name")),
            ("医院级别 level", h.get("level")), ("结算期间 period", d["period"]),
            ("结算类型 type", "月度预结算 (预拨) monthly prepayment" if d["monthly"] else "年度清算 annual clearing"),
            ("分组方案 scheme", d["scheme_version"]),
            ("生成时间 generated", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))]


def _header_row(ws, row: int, headers: list[str]) -> None:
    for i, h in enumerate(headers, start=1):
        cell = excel.write(ws, row, i, h)
        cell.font, cell.fill, cell.border = Font(bold=True), HEAD_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _data_rows(ws, row: int, columns: list[tuple[str, str, str | None]], data: list[dict],
               bold: bool = False) -> int:
    for r in data:
        for i, (_, key, number_format) in enumerate(columns, start=1):
            value = r.get(key)
            cell = excel.write(ws, row, i, value)
            cell.border = BORDER
            if number_format and isinstance(value, (int, Decimal)):
                cell.number_format = number_format
            if bold:
                cell.font = Font(bold=True)
        row += 1
    return row


def _name(wb: Workbook, name: str, sheet: str, col: int, row: int) -> None:
    """A workbook-level name for a total cell, so readers (and tests) find it without counting rows."""
    ref = f"'{sheet}'!${get_column_letter(col)}${row}"
    wb.defined_names[name] = DefinedName(name, attr_text=ref)


def write_workbook(d: dict, path: Path) -> Path:
    """The statement workbook: 汇总 summary, 病例明细 cases, 拒收病例 rejected rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总 Summary"
    excel.write(ws, 1, 1, _title(d)).font = Font(bold=True, size=13)
    r = 3
    for k, v in _info(d):
        excel.write(ws, r, 1, k).font = Font(bold=True)
        excel.write(ws, r, 2, v)
        r += 1
    r += 1
    columns = MONTHLY_COLUMNS if d["monthly"] else ANNUAL_COLUMNS
    excel.write(ws, r, 1, "结算汇总 Settlement summary").font = Font(bold=True, size=12)
    _header_row(ws, r + 1, [c[0] for c in columns])
    r = _data_rows(ws, r + 2, columns, d["summary"])
    _data_rows(ws, r, columns, [d["total"]], bold=True)
    keys = [c[1] for c in columns]
    for key in ("case_count", "total_points", "prepayment", "payable", "prepaid", "clearing", "personal_paid"):
        if key in keys:
            _name(wb, f"total_{key}", ws.title, keys.index(key) + 1, r)
    r += 3
    excel.write(ws, r, 1, "按病例类型 Points by case type").font = Font(bold=True, size=12)
    _header_row(ws, r + 1, [c[0] for c in TYPE_COLUMNS])
    r = _data_rows(ws, r + 2, TYPE_COLUMNS, d["by_type"])
    _data_rows(ws, r, TYPE_COLUMNS, [d["type_total"]], bold=True)
    _name(wb, "total_points_by_type", ws.title, 4, r)
    r += 3
    excel.write(ws, r, 1, "拒收病例数 rejected rows").font = Font(bold=True)
    excel.write(ws, r, 2, rejected_count(d)).number_format = INT
    excel.write(ws, r, 3, f"规则命中 rule hits: {len(d['rejected'])}")
    _name(wb, "rejected_rows", ws.title, 2, r)
    r += 2
    excel.write(ws, r, 1, _explanation(d)).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=min(len(columns), 9))
    ws.row_dimensions[r].height = 60
    ws.column_dimensions["A"].width = 24
    for i in range(2, len(columns) + 1):
        ws.column_dimensions[get_column_letter(i)].width = 18

    cs = wb.create_sheet("病例明细 Cases")
    _header_row(cs, 1, [c[0] for c in CASE_COLUMNS])
    end = _data_rows(cs, 2, CASE_COLUMNS, d["cases"])
    pts_col = len(CASE_COLUMNS)
    total_row = {"case_id": "合计 total", "points": sum((c["points"] for c in d["cases"]), Decimal(0)),
                 "total_cost": sum((c["total_cost"] for c in d["cases"]), Decimal(0)),
                 "personal_paid": sum((c["personal_paid"] for c in d["cases"]), Decimal(0)),
                 "fund_paid": sum((c["fund_paid"] for c in d["cases"]), Decimal(0))}
    _data_rows(cs, end, CASE_COLUMNS, [total_row], bold=True)
    _name(wb, "cases_total_points", cs.title, pts_col, end)
    cs.freeze_panes = "B2"
    cs.auto_filter.ref = f"A1:{get_column_letter(pts_col)}{max(end - 1, 1)}"
    for i, (h, _, _) in enumerate(CASE_COLUMNS, start=1):
        cs.column_dimensions[get_column_letter(i)].width = max(10, min(22, len(h) + 2))
    cs.row_dimensions[1].height = 32

    rs = wb.create_sheet("拒收病例 Rejected")
    _header_row(rs, 1, [c[0] for c in REJECT_COLUMNS])
    _data_rows(rs, 2, REJECT_COLUMNS, d["rejected"])
    rs.freeze_panes = "A2"
    for i, width in enumerate((8, 26, 8, 14, 13, 24, 60, 10, 10, 18), start=1):
        rs.column_dimensions[get_column_letter(i)].width = width
    for sheet in wb.worksheets:  # printed statements: landscape, one page wide
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    cs.print_title_rows = "1:1"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def adjusted_points(d: dict) -> Decimal:
    """Current case points minus the settled total: non-zero when cases of a settled (closed) month changed
    afterwards — the settlement rows keep what was paid, the case sheet shows today's cases."""
    return d["type_total"]["points"] - d["total"].get("total_points", Decimal(0))


def _explanation(d: dict) -> str:
    adjusted = adjusted_points(d)
    note = (f" 注意: 病例明细点数与结算点数相差 {adjusted:,.4f} 点 (结算后病例有调整, 于年终清算处理)。 "
            f"Case points differ from the settled points by {adjusted:,.4f}: cases changed after settlement; the "
            "annual clearing settles the difference." if adjusted else "")
    return _formula(d["monthly"]) + note


def _formula(monthly: bool) -> str:
    if monthly:
        return ("说明: 月度点值 = (统筹区年度可用预算/12 + 本月个人负担合计) / 本月总点数; "
                "预拨金额 = (点数 × 点值 − 个人负担) × ρ。"
                " Monthly point value = (U/12 + Σ personal) / Σ points of the region; prepayment = "
                "(points × PV − personal) × ρ, rounded to the cent.")
    return ("说明: 年度点值 = (可用预算 + 个人负担合计) / 年度总点数; 应付 = 点数 × 点值 × 考核系数 − 个人负担; "
            "清算 = 应付 − 已预拨"
            " (正数: 基金支付; 负数: 基金收回)。 payable = points × PV × K − personal; clearing = payable − prepaid "
            "(positive: the fund pays; negative: it recovers).")


def write_html(d: dict, path: Path) -> Path:
    """The HTML version of the summary sheet (same figures, same order), linking the workbook beside it."""
    cols = MONTHLY_COLUMNS if d["monthly"] else ANNUAL_COLUMNS
    places = {INT: None, MONEY: 2, POINTS: 4, PV: 6, RATIO: 4, "0.0": 1}
    columns = [(h, k, {"places": places.get(f)} if f else {}) for h, k, f in cols]
    tcols = [(h, k, {"places": places.get(f)} if f else {}) for h, k, f in TYPE_COLUMNS]
    info = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(html.fmt(v))}</td></tr>" for k, v in _info(d))
    body = (f"<table>{info}</table><h2>结算汇总 Settlement summary</h2>"
            + html.table(columns, d["summary"], d["total"])
            + "<h2>按病例类型 Points by case type</h2>" + html.table(tcols, d["by_type"], d["type_total"])
            + f"<p>拒收病例 rejected rows in this period: <b>{rejected_count(d)}</b> "
              f"(明细见工作簿 see the workbook, sheet 拒收病例). 病例明细 {len(d['cases'])} cases in the workbook: "
              f"<a href=\"{html.escape(path.with_suffix('.xlsx').name)}\">"
              f"{html.escape(path.with_suffix('.xlsx').name)}</a>"
              f"</p>"
            + f"<p class=\"note\">{html.escape(_explanation(d))}</p>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html.page(_title(d), body), encoding="utf-8")
    return path


def build_statements(conn: psycopg.Connection, period: str, out_dir: Path) -> dict[str, dict[str, Path]]:
    """Workbook and HTML summary for every hospital settled in the period: {hospital_id: {xlsx, html}}."""
    out: dict[str, dict[str, Path]] = {}
    for hospital_id in statement_hospitals(conn, period):
        d = statement_data(conn, hospital_id, period)
        stem = f"statement_{excel.safe_file_name(hospital_id)}_{period}"
        out[hospital_id] = {"xlsx": write_workbook(d, out_dir / f"{stem}.xlsx"),
                            "html": write_html(d, out_dir / f"{stem}.html")}
    return out
