"""Hospital data quality: the dbt quality marts and the feedback file the bureau sends each hospital
(数据质量反馈): every rejected or warned case row with its reasons, as Excel with Chinese headers."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from drgflow import db, excel, runs, transform
from drgflow.errors import UserError

SEVERITY_ZH = {"reject": "拒收", "warn": "警告"}
CASE_HEADERS = ("序号", "批次号", "文件名", "行号", "结算ID", "结算日期", "出院日期",
                "处理结果", "问题数", "问题说明", "规则编号", "状态")
RULE_HEADERS = ("规则编号", "级别", "规则说明", "病例数")


def build_quality_marts(url: str | None = None) -> None:
    """dbt build of the quality models (and their tests) only."""
    transform.run_dbt(["build", "--selector", runs.QUALITY], url=url)


def feedback_rows(url: str | None = None, batch_id: int | None = None,
                  include_resolved: bool = False) -> dict[str, list[dict]]:
    """hospital_id -> one dict per flagged case row (reasons joined), from audit.quarantine."""
    where = ["b.status = 'validated'"]
    params: dict = {}
    if batch_id is not None:
        where.append("q.batch_id = %(batch)s")
        params["batch"] = batch_id
    if not include_resolved and batch_id is None:
        where.append("q.resolved_at is null")
    with db.connect(url) as conn:
        if batch_id is not None and not conn.execute(
                "select 1 from audit.batches where batch_id = %s and file_kind = 'cases'", (batch_id,)).fetchone():
            raise UserError(f"batch {batch_id}: no cases batch with that id in audit.batches")
        rows = conn.execute(f"""
            select coalesce(nullif(q.hospital_id, ''), '(missing)') as hospital_id, q.batch_id, b.file_name,
                   q.source_row, q.case_id, q.raw_record ->> 'settle_date', q.raw_record ->> 'discharge_date',
                   bool_or(q.severity = 'reject') as rejected,
                   count(*) as problems,
                   string_agg(q.message, '；' order by q.severity, q.rule) as reasons,
                   string_agg(q.rule, ', ' order by q.severity, q.rule) as rules,
                   bool_and(q.resolved_at is not null) as resolved,
                   min(q.resolved_by_batch) as resolved_by
            from audit.quarantine q join audit.batches b using (batch_id)
            where {' and '.join(where)}
            group by 1, q.batch_id, b.file_name, q.source_row, q.case_id, 6, 7
            order by 1, q.batch_id, q.source_row
        """, params).fetchall()
    out: dict[str, list[dict]] = defaultdict(list)
    for (hid, bid, fname, row, case_id, settle, discharge, rejected, problems, reasons, rules, resolved,
         resolved_by) in rows:
        out[hid].append({
            "batch_id": bid, "file_name": fname, "source_row": row, "case_id": case_id or "",
            "settle_date": settle or "", "discharge_date": discharge or "",
            "outcome": SEVERITY_ZH["reject" if rejected else "warn"], "problems": problems,
            "reasons": reasons, "rules": rules,
            "status": f"已更正(批次{resolved_by})" if resolved else ("待更正" if rejected else "请核实"),
        })
    return dict(out)


def write_feedback(out_dir: Path, url: str | None = None, batch_id: int | None = None,
                   include_resolved: bool = False) -> list[Path]:
    """One .xlsx per hospital with flagged rows: sheet 退回病例 (one row per case row) and 规则汇总."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_hospital = feedback_rows(url, batch_id, include_resolved)
    tag = f"batch{batch_id}" if batch_id is not None else "open"
    written = []
    for hid, cases in sorted(by_hospital.items()):
        wb = Workbook()
        _case_sheet(wb.active, hid, batch_id, cases)
        _rule_sheet(wb.create_sheet("规则汇总"), _rule_summary(url, hid, batch_id, include_resolved))
        path = out_dir / f"feedback_{excel.safe_file_name(hid)}_{tag}.xlsx"
        wb.save(path)
        written.append(path)
    return written


def _case_sheet(ws: Worksheet, hospital_id: str, batch_id: int | None, cases: list[dict]) -> None:
    """Sheet 退回病例: a title row, the headers, one row per flagged case row (every value written as data)."""
    ws.title = "退回病例"
    title = (f"医保结算清单数据质量反馈 定点医疗机构：{hospital_id}"
             + (f" 批次：{batch_id}" if batch_id is not None else " 未更正问题"))
    excel.write(ws, 1, 1, title).font = Font(bold=True, size=13)
    for cell in excel.write_row(ws, 2, CASE_HEADERS):
        cell.font = Font(bold=True)
    for n, c in enumerate(cases, start=1):
        excel.write_row(ws, n + 2, [n, c["batch_id"], c["file_name"], c["source_row"], c["case_id"],
                                    c["settle_date"], c["discharge_date"], c["outcome"], c["problems"],
                                    c["reasons"], c["rules"], c["status"]])
    for width, col in zip((6, 8, 24, 7, 16, 12, 12, 9, 7, 90, 40, 16), "ABCDEFGHIJKL", strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=3, min_col=10, max_col=10):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A3"


def _rule_sheet(ws: Worksheet, summary: list[tuple[str, str, str, int]]) -> None:
    """Sheet 规则汇总: rows per rule."""
    for cell in excel.write_row(ws, 1, RULE_HEADERS):
        cell.font = Font(bold=True)
    for n, (rule, severity, message, count) in enumerate(summary, start=2):
        excel.write_row(ws, n, [rule, SEVERITY_ZH.get(severity, severity), message, count])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["C"].width = 70


def _rule_summary(url: str | None, hospital_id: str, batch_id: int | None,
                  include_resolved: bool) -> list[tuple[str, str, str, int]]:
    """(rule, severity, message without the row's detail, rows) for one hospital's feedback."""
    where = ["b.status = 'validated'", "coalesce(nullif(q.hospital_id, ''), '(missing)') = %(h)s"]
    params: dict = {"h": hospital_id}
    if batch_id is not None:
        where.append("q.batch_id = %(batch)s")
        params["batch"] = batch_id
    elif not include_resolved:
        where.append("q.resolved_at is null")
    with db.connect(url) as conn:
        return conn.execute(f"""
            select q.rule, min(q.severity), min(split_part(q.message, ': ', 1)), count(*)
            from audit.quarantine q join audit.batches b using (batch_id)
            where {' and '.join(where)}
            group by q.rule order by min(q.severity), count(*) desc, q.rule
        """, params).fetchall()
