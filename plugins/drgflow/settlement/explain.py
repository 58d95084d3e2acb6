"""One case in words a hospital can check: its group, case type, points and money, and the calibration used;
and the case types of settlement-spec §4."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from drgflow import db
from drgflow.errors import UserError

#: the case types of settlement-spec §4, in the order statements and checks show them
CASE_TYPES = ("normal", "high", "low", "unstable", "qy", "ungroupable", "bed_day", "special_review")


def explain_case(hospital_id: str, case_id: str, year: int | None = None, url: str | None = None) -> str:
    """How a case's group, type, points and money were computed, in words a hospital can check."""
    url = url or db.database_url()
    with db.connect(url) as conn:
        if not db.relation_exists(conn, "marts.case_points"):
            raise UserError("no case points yet: run drgflow settle first")
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        sql = "select * from marts.case_points where hospital_id = %s and case_id = %s"
        args: tuple = (hospital_id, case_id)
        if year:
            sql += " and settlement_year = %s"
            args += (year,)
        cp = cur.execute(sql + " order by settlement_year desc limit 1", args).fetchone()
        if cp is None:
            raise UserError(f"case {hospital_id}/{case_id} has no case points"
                            + (f" in {year}" if year else "") + " (not settled, or not an accepted case)")
        y = cp["settlement_year"]
        cal = cur.execute("select * from audit.calibrations where settlement_year = %s", (y,)).fetchone()
        lines = [f"Case {hospital_id}/{case_id}, settlement year {y}, period {cp['period']}, "
                 f"region {cp['region_code']}",
                 f"  grouping ({cp['scheme_version']}): status {cp['group_status'] or '—'}, DRG {cp['drg'] or '—'}"]
        # the rule trace of that grouping, each step naming the pack's rule text (MDC entry, ADRG rule, CC, DRG)
        grouped = cur.execute("select trace, reason from marts.case_grouping where scheme_version = %s and "
                              "hospital_id = %s and case_id = %s", (cp["scheme_version"], hospital_id,
                                                                   case_id)).fetchone()
        if grouped:
            lines += [f"    {step.strip()}" for step in (grouped["trace"] or "").split(" | ") if step.strip()]
            if grouped["reason"]:
                lines.append(f"    reason: {grouped['reason']}")
        lines += [f"  total cost {cp['total_cost']} yuan, personal payment {cp['personal_paid']}, "
                  f"LOS {cp['los_days']} days, hospital level {cp['level']}",
                  f"  case type: {cp['case_type']}"]
        a_all = cp["all_mean_cost"]
        t = cp["case_type"]
        if t == "special_review":
            lines.append(f"  特病单议: approved decision of {cp['special_review_points']} points (spec §4.1)")
        elif t == "bed_day":
            lines.append(f"  床日 category {cp['bed_day_category']}: per diem {cp['per_diem']} × {cp['los_days']} days "
                         f"/ A_all {_fmt(a_all)} × 100 (spec §4.2)")
        elif t in ("ungroupable", "qy", "unstable"):
            factor = {"ungroupable": " × q_ungroupable", "qy": " × q_qy", "unstable": ""}[t]
            lines.append(f"  cost {cp['total_cost']} / A_all {_fmt(a_all)} × 100{factor} (spec §4)")
        else:
            lines.append(f"  base points BP {cp['base_points']} (A_g {_fmt(cp['mean_cost'])} / A_all {_fmt(a_all)} "
                         f"× 100), cost ratio C/A_g {_fmt(cp['cost_ratio'])}, "
                         f"high-ratio multiple k {cp['high_ratio_multiple']}")
            if cp["coefficient"] is not None:
                hc = cur.execute("select * from marts.hospital_coefficients where settlement_year = %s and "
                                 "hospital_id = %s and drg = %s", (y, hospital_id, cp["drg"])).fetchone()
                if hc:
                    lines.append(f"  差异系数 c = {hc['coefficient']} (hospital ratio {_fmt(hc['hospital_ratio'])}, "
                                 f"level ratio {_fmt(hc['level_ratio'])}, spec §3)")
            formula = {"normal": "BP × c", "high": "BP × c + BP × (C/A_g − k) × β",
                       "low": "BP × C/A_g"}[t]
            lines.append(f"  points = {formula} (spec §4)")
        lines.append(f"  points: {cp['points']}")
        money = _case_money(cur, cp)
        lines.extend(money)
        if cal:
            lines.append(f"  calibration of {y}: run {cal['run_id']}, scheme {cal['scheme_version']}, "
                         f"parameter hash {cal['parameter_hash'][:12]}")
        return "\n".join(lines)


def _case_money(cur, cp: dict) -> list[str]:
    out = []
    if cur.execute("select to_regclass('marts.settlement_monthly') is not null").fetchone()["?column?"]:
        m = cur.execute("select point_value, prepay_ratio from marts.settlement_monthly where period = %s and "
                        "region_code = %s limit 1", (cp["period"], cp["region_code"])).fetchone()
        if m and m["point_value"] is not None:
            out.append(f"  monthly point value {cp['period']}: {_fmt(m['point_value'])} yuan/point → case worth "
                       f"{_money(cp['points'] * m['point_value'])} yuan before personal payment and "
                       f"ρ {m['prepay_ratio']}")
    if cur.execute("select to_regclass('marts.settlement_annual') is not null").fetchone()["?column?"]:
        a = cur.execute("select point_value, assessment_coef from marts.settlement_annual where settlement_year = %s "
                        "and region_code = %s and hospital_id = %s", (cp["settlement_year"], cp["region_code"],
                                                                     cp["hospital_id"])).fetchone()
        if a and a["point_value"] is not None:
            value = cp["points"] * a["point_value"] * a["assessment_coef"]
            out.append(f"  annual point value {cp['settlement_year']}: {_fmt(a['point_value'])} × K "
                       f"{a['assessment_coef']} → case worth {_money(value)} yuan; fund share "
                       f"{_money(value - cp['personal_paid'])} after the personal payment")
    return out


def _fmt(x: Any, places: int = 6) -> str:
    if x is None:
        return "—"
    return f"{Decimal(x):.{places}f}"


def _money(x: Any) -> str:
    return f"{Decimal(x):,.2f}"
