"""One DIP case in words a hospital can check: its codes after dip-spec §2, the candidate groups and the rule that
decided (§4), the group's score and statistics, and the coefficients that apply to it (§6)."""
from __future__ import annotations

from typing import Any

import psycopg

from drgflow import db


def dip_grouping_row(conn: psycopg.Connection, hospital_id: str, case_id: str, year: int | None) -> dict | None:
    """The case's marts.dip_case_grouping row (settlement year `year`, else the latest), or None."""
    if not db.relation_exists(conn, "marts.dip_case_grouping"):
        return None
    sql = "select * from marts.dip_case_grouping where hospital_id = %s and case_id = %s"
    args: tuple = (hospital_id, case_id)
    if year:
        sql += " and settlement_year = %s"
        args += (year,)
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(sql + " order by settlement_year desc limit 1", args).fetchone()


def explain_dip_case(hospital_id: str, case_id: str, year: int | None = None, url: str | None = None) -> str | None:
    """The DIP explanation of a case, or None when no DIP grouping holds it."""
    url = url or db.database_url()
    with db.connect(url) as conn:
        g = dip_grouping_row(conn, hospital_id, case_id, year)
        if g is None:
            return None
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        y = g["settlement_year"]
        lines = [f"Case {hospital_id}/{case_id} (year {g['year']}), DIP (按病种分值付费) of settlement year {y}, "
                 f"region {g['region_code']}",
                 f"  grouping: status {g['group_status']}" + (f", group {g['code']}" if g["code"] else "")
                 + (f", reason {g['reason']}" if g["reason"] else "")]
        lines += [f"    {step.strip()}" for step in (g["trace"] or "").split("; ") if step.strip()]
        if g["code"]:
            cat = cur.execute("select * from marts.dip_catalogue where settlement_year = %s and code = %s",
                              (y, g["code"])).fetchone()
            if cat:
                lines.append(f"  group {cat['code']} ({cat['group_type']}, catalogue {cat['source']}): score S_g "
                             f"{_fmt(cat['score'])}, mean cost {_fmt(cat['mean_cost'])}, n {cat['n']}, "
                             f"reference mean M {_fmt(cat['reference_mean'])} (PV_ref = M / 1000)")
            level = cur.execute("select h.level, c.coefficient, c.stratum from staging.stg_raw__hospitals as h"
                                " left join marts.dip_level_coefficients as c on c.settlement_year = %s"
                                " and split_part(c.stratum, ':', 1) = h.level::text where h.hospital_id = %s"
                                " limit 1", (y, hospital_id)).fetchone()
            if g["group_status"] == "basic":
                lines.append("  level coefficient λ = 1 (basic group, 同病同价; dip-spec §6.1)")
            elif level:
                lines.append(f"  level coefficient λ = {level['coefficient']} (stratum {level['stratum']}, "
                             f"hospital level {level['level']}; dip-spec §6.1)")
            aux = cur.execute("select subtype, coefficient from marts.dip_aux_coefficients where settlement_year = %s"
                              " and code = %s and triggered order by coefficient desc", (y, g["code"])).fetchall()
            if aux:
                listed = ", ".join(f"{a['subtype']} {a['coefficient']}" for a in aux)
                lines.append(f"  auxiliary subtypes triggered for the group: {listed}; a case takes the largest of "
                             f"those it belongs to, else a = 1 (dip-spec §6.2)")
            else:
                lines.append("  no auxiliary subtype is triggered for the group: a = 1 (dip-spec §6.2)")
        return "\n".join(lines)


def _fmt(x: Any) -> str:
    return "—" if x is None else f"{x:,.6f}".rstrip("0").rstrip(".")
