"""Regional settlement report (统筹区结算分析报告): one printable, self-contained HTML page per period covering
every pooling region — budget use, point values by month, points by hospital and case type, top DRGs,
cost structure, grouping quality and hospital indices, with charts where a picture reads better."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from drgflow.contract import FEE_COLUMNS, FEE_LABELS_ZH
from drgflow.reports import charts, html
from drgflow.reports.common import (
    CASE_TYPE_SHORT,
    CASE_TYPE_ZH,
    CASE_TYPES,
    parse_period,
    relation_exists,
    rows,
)

TOP_N = 10
NO_DATA = "<p class=\"note\">无数据 no data for this period.</p>"


def _scope(period: str) -> tuple[str, tuple]:
    year, month = parse_period(period)
    return ("cp.settlement_year = %s and cp.period = %s", (year, period)) if month else \
        ("cp.settlement_year = %s", (year,))


def scheme_of(conn: psycopg.Connection, year: int) -> str | None:
    """The scheme the year was calibrated (and its statistics built) with."""
    if relation_exists(conn, "audit.calibrations"):
        row = conn.execute("select scheme_version from audit.calibrations where settlement_year = %s",
                           (year,)).fetchone()
        if row:
            return row[0]
    row = conn.execute("select max(scheme_version) from marts.case_points where settlement_year = %s",
                       (year,)).fetchone()
    return row[0] if row else None


# ----------------------------------------------------------------------------------------------- data

def budget_use(conn: psycopg.Connection, period: str) -> list[dict]:
    """Per region: budget, what the period used of it (prepayments, or payable for the year)."""
    year, month = parse_period(period)
    if month:
        found = rows(conn, """
            select region_code, max(fund_budget) as fund_budget, max(usable_budget) as usable_budget,
                   max(usable_budget) / 12 as month_budget, count(distinct hospital_id) as hospitals,
                   sum(case_count) as cases, sum(total_points) as points, max(point_value) as point_value,
                   sum(personal_paid) as personal_paid, sum(fund_paid) as fund_paid, sum(prepayment) as prepayment
            from marts.settlement_monthly where period = %s group by 1 order by 1""", (period,))
        ytd = dict(conn.execute("select region_code, sum(prepayment) from marts.settlement_monthly "
                                "where settlement_year = %s and period <= %s group by 1", (year, period)).fetchall())
        for r in found:
            r["use_rate"] = r["prepayment"] / r["month_budget"] if r["month_budget"] else None
            r["ytd_prepayment"] = ytd.get(r["region_code"], Decimal(0))
            r["ytd_rate"] = r["ytd_prepayment"] / r["usable_budget"] if r["usable_budget"] else None
        return found
    found = rows(conn, """
        select region_code, max(fund_budget) as fund_budget, max(usable_budget) as usable_budget,
               count(distinct hospital_id) as hospitals, sum(case_count) as cases, sum(total_points) as points,
               max(point_value) as point_value, sum(personal_paid) as personal_paid, sum(fund_paid) as fund_paid,
               sum(payable) as payable, sum(prepaid) as prepaid, sum(clearing) as clearing
        from marts.settlement_annual where settlement_year = %s group by 1 order by 1""", (year,))
    for r in found:
        r["use_rate"] = r["payable"] / r["usable_budget"] if r["usable_budget"] else None
    return found


def point_values(conn: psycopg.Connection, year: int, upto: str | None = None
                 ) -> tuple[list[str], dict[str, dict[str, Decimal]], dict[str, Decimal]]:
    """(months, {region: {month: PV}}, {region: annual PV}) for the settlement year; a monthly report shows
    the months up to its own (`upto`), so rebuilding it later gives the same page."""
    monthly = conn.execute("select region_code, period, max(point_value) from marts.settlement_monthly "
                           "where settlement_year = %s and period <= %s group by 1, 2 order by 2, 1",
                           (year, upto or f"{year}-12")).fetchall()
    by_region: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for region, per, pv in monthly:
        by_region[region][per] = pv
    annual = {}
    if upto is None and relation_exists(conn, "marts.settlement_annual"):
        annual = dict(conn.execute("select region_code, max(point_value) from marts.settlement_annual "
                                   "where settlement_year = %s group by 1", (year,)).fetchall())
    months = sorted({per for _, per, _ in monthly})
    return months, dict(by_region), annual


def points_by_hospital(conn: psycopg.Connection, period: str) -> list[dict]:
    """One row per (region, hospital) with cases and points per case type and in total."""
    where, args = _scope(period)
    found = rows(conn, f"""select cp.region_code, cp.hospital_id, cp.case_type, count(*) as n, sum(cp.points) as points
                           from marts.case_points cp where {where} group by 1, 2, 3 order by 1, 2""", args)
    out: dict[tuple, dict] = {}
    for r in found:
        row = out.setdefault((r["region_code"], r["hospital_id"]),
                             {"region_code": r["region_code"], "hospital_id": r["hospital_id"], "cases": 0,
                              "points": Decimal(0), **{t: None for t in CASE_TYPES}})
        row[r["case_type"]] = r["points"]
        row["cases"] += r["n"]
        row["points"] += r["points"]
    return list(out.values())


def top_drgs(conn: psycopg.Connection, period: str, by: str) -> list[dict]:
    """Grouped DRGs of the period by case volume (`n`) or by total cost (`cost`)."""
    where, args = _scope(period)
    order = {"n": "n desc, cost desc", "cost": "cost desc, n desc"}[by]
    return rows(conn, f"""select cp.drg, count(*) as n, sum(cp.total_cost) as cost, avg(cp.total_cost) as mean_cost,
                                 sum(cp.points) as points, max(cp.base_points) as base_points
                          from marts.case_points cp where {where} and cp.group_status = 'grouped'
                          group by 1 order by {order}, 1 limit {TOP_N}""", args)


def cost_structure(conn: psycopg.Connection, period: str) -> list[dict]:
    """The 14 fee categories (费用结构) of the period's settled cases: amount and share of total cost."""
    where, args = _scope(period)
    sums = ", ".join(f"sum(s.{c}) as {c}" for c in FEE_COLUMNS)
    total = rows(conn, f"""select sum(s.total_cost) as total_cost, {sums}
                           from marts.case_points cp join staging.stg_raw__cases s
                             on s.hospital_id = cp.hospital_id and s.case_id = cp.case_id
                           where {where}""", args)[0]
    if not total["total_cost"]:
        return []
    return [{"category": f"{FEE_LABELS_ZH[c]} {c.removeprefix('fee_')}", "amount": total[c] or Decimal(0),
             "share": (total[c] or Decimal(0)) / total["total_cost"]} for c in FEE_COLUMNS]


def grouping_quality(conn: psycopg.Connection, scheme: str | None) -> list[dict]:
    """Grouping quality by year for the scheme (marts.grouping_quality), or [] before it exists."""
    if not relation_exists(conn, "marts.grouping_quality"):
        return []
    return rows(conn, """select year, n_cases, n_grouped, grouped_rate, qy_rate, ungroupable_rate, riv, riv_trimmed,
                                share_drg_cv_below_1
                         from marts.grouping_quality where scheme_version = %s order by year""", (scheme,))


def drg_cvs(conn: psycopg.Connection, scheme: str | None, year: int) -> tuple[int | None, list[Decimal]]:
    """(year used, CVs of its DRGs with n >= 2): the settlement year when it has statistics, else the latest."""
    if not relation_exists(conn, "marts.drg_year_stats"):
        return None, []
    row = conn.execute("select max(year) from marts.drg_year_stats where scheme_version = %s and year <= %s",
                       (scheme, year)).fetchone()
    if not row or row[0] is None:
        return None, []
    cvs = [r[0] for r in conn.execute("select cv from marts.drg_year_stats where scheme_version = %s and year = %s "
                                      "and cv is not null order by drg", (scheme, row[0])).fetchall()]
    return row[0], cvs


def unstable_drgs(conn: psycopg.Connection, year: int) -> dict[str, Any]:
    """The year's DRGs with base points: counts in all, stable and unstable; {} before they exist."""
    if not relation_exists(conn, "marts.drg_base_points"):
        return {}
    return rows(conn, """select count(*) as drgs, count(*) filter (where stable) as stable,
                                count(*) filter (where not stable) as unstable
                         from marts.drg_base_points where settlement_year = %s""", (year,))[0]


def hospital_indices(conn: psycopg.Connection, scheme: str | None, year: int) -> list[dict]:
    """CMI, CEI, TEI and low-risk mortality per hospital for the year, with last year's CMI to compare.

    Last year's CMI is recomputed with this year's weights (RW of the year's calibration): the published CMI
    of a year uses that year's own calibration, which an earlier year usually lacks, and a change measured
    with two different weight sets would mix case-mix change with recalibration."""
    if not relation_exists(conn, "marts.hospital_performance"):
        return []
    return rows(conn, """
        with prev as (
            select c.hospital_id, avg(b.rw) as cmi
            from staging.stg_raw__cases c
            join marts.case_grouping g on g.hospital_id = c.hospital_id and g.case_id = c.case_id
                 and g.scheme_version = %(scheme)s and g.group_status = 'grouped'
            join marts.drg_base_points b on b.settlement_year = %(year)s and b.drg = g.drg
                 and b.base_points is not null
            where c.settle_year = %(year)s - 1
            group by c.hospital_id)
        select p.hospital_id, h.hospital_name, h.level, p.n_cases, p.drg_count, p.cmi, prev.cmi as cmi_prev,
               p.cmi - prev.cmi as cmi_change, p.cei, p.tei, p.low_risk_cases, p.low_risk_deaths,
               p.low_risk_deaths::numeric / nullif(p.low_risk_cases, 0) as low_risk_mortality
        from marts.hospital_performance p
        left join prev on prev.hospital_id = p.hospital_id
        left join staging.stg_raw__hospitals h on h.hospital_id = p.hospital_id
        where p.scheme_version = %(scheme)s and p.year = %(year)s order by p.hospital_id""",
                {"scheme": scheme, "year": year})


# ------------------------------------------------------------------------------------------ the page

def _pct(places: int = 1) -> dict:
    return {"places": places, "pct": True}


def _budget_section(budget: list[dict], monthly: bool) -> str:
    if not budget:
        return NO_DATA
    if monthly:
        cols = [("统筹区 region", "region_code", {}), ("医院数 hospitals", "hospitals", {}),
                ("病例数 cases", "cases", {}), ("年度基金预算 fund budget", "fund_budget", {"places": 2}),
                ("可用预算 usable U", "usable_budget", {"places": 2}),
                ("本月额度 U/12", "month_budget", {"places": 2}), ("总点数 points", "points", {"places": 4}),
                ("月度点值 point value", "point_value", {"places": 6}),
                ("预拨合计 prepayment", "prepayment", {"places": 2}), ("本月使用率 use", "use_rate", _pct()),
                ("年累计预拨 YTD prepayment", "ytd_prepayment", {"places": 2}),
                ("年累计使用率 YTD use", "ytd_rate", _pct())]
    else:
        cols = [("统筹区 region", "region_code", {}), ("医院数 hospitals", "hospitals", {}),
                ("病例数 cases", "cases", {}),
                ("年度基金预算 fund budget", "fund_budget", {"places": 2}),
                ("可用预算 usable U", "usable_budget", {"places": 2}), ("总点数 points", "points", {"places": 4}),
                ("年度点值 point value", "point_value", {"places": 6}), ("应付合计 payable", "payable", {"places": 2}),
                ("已预拨 prepaid", "prepaid", {"places": 2}), ("清算合计 clearing", "clearing", {"places": 2}),
                ("预算使用率 use", "use_rate", _pct())]
    keys = ["hospitals", "cases", "fund_budget", "usable_budget", "month_budget", "points", "prepayment",
            "ytd_prepayment", "payable", "prepaid", "clearing"]
    total = {"region_code": "合计 total", **{k: sum(r[k] for r in budget) for k in keys if k in budget[0]}}
    used = total.get("prepayment", total.get("payable"))
    cards = [("可用预算 usable budget" + (" / 12" if monthly else ""),
              html.fmt(total["month_budget"] if monthly else total["usable_budget"], 2)),
             ("预拨合计 prepayment" if monthly else "应付合计 payable", html.fmt(used, 2)),
             ("病例数 cases", html.fmt(total["cases"])), ("总点数 points", html.fmt(total["points"], 1))]
    if not monthly:
        cards.append(("清算合计 clearing", html.fmt(total["clearing"], 2)))
    note = ("本月使用率 = 预拨合计 / (U/12); 预拨已扣除个人负担并乘以 ρ, 因此低于 100%。 Use = prepayments / (U/12); "
            "prepayments are net of personal payments and scaled by ρ." if monthly else
            "预算使用率 = 应付合计 / U (考核系数 K 使其偏离 100%)。 Use = Σ payable / U; with every K = 1 the fund "
            "share equals U exactly (spec §5 invariant).")
    return html.cards(cards) + html.table(cols, budget, total) + f"<p class=\"note\">{html.escape(note)}</p>"


def _pv_section(conn: psycopg.Connection, year: int, upto: str | None) -> str:
    months, by_region, annual = point_values(conn, year, upto)
    if not months:
        return NO_DATA
    regions = sorted(by_region)
    svg = charts.line_chart(months, {r: [by_region[r].get(m) for m in months] for r in regions},
                            charts.label(f"{year} 月度点值 (元/点)", f"{year} monthly point value (yuan/point)"),
                            hlines={charts.label(f"{r} 年度点值", f"{r} annual PV"): annual[r]
                                    for r in regions if annual.get(r) is not None})
    cols = [("月份 month", "month", {})] + [(f"{r} 点值 PV", r, {"places": 6}) for r in regions]
    data = [{"month": m, **{r: by_region[r].get(m) for r in regions}} for m in months]
    total = {"month": "年度 annual", **annual} if annual else None
    caption = "每月点值按统筹区; 虚线为年度点值。 Monthly point value per region; dashed: annual." if annual else \
        "每月点值按统筹区 (截至本月)。 Monthly point value per region, up to this month."
    return html.figure(svg, caption) + \
        html.table(cols, data, total)


def _points_section(hosp: list[dict]) -> str:
    if not hosp:
        return NO_DATA
    present = [t for t in CASE_TYPES if any(r[t] is not None for r in hosp)]
    names = [f"{r['hospital_id']} ({r['region_code']})" for r in hosp]
    svg = charts.stacked_bars(names, {charts.label(CASE_TYPE_SHORT[t], t): [r[t] for r in hosp] for t in present},
                              charts.label("各医院点数构成", "Points by hospital and case type"),
                              charts.label("点数", "points"), horizontal=True)
    cols = ([("统筹区 region", "region_code", {}), ("医院 hospital", "hospital_id", {}), ("病例数 cases", "cases", {})]
            + [(CASE_TYPE_ZH[t], t, {"places": 2}) for t in present] + [("总点数 points", "points", {"places": 4})])
    total = {"region_code": "合计 total", "cases": sum(r["cases"] for r in hosp),
             "points": sum(r["points"] for r in hosp),
             **{t: sum(r[t] or 0 for r in hosp) for t in present}}
    return html.figure(svg, "点数按病例类型堆叠。 Points stacked by case type.") + html.table(cols, hosp, total)


def _top_section(conn: psycopg.Connection, period: str) -> str:
    by_n, by_cost = top_drgs(conn, period, "n"), top_drgs(conn, period, "cost")
    if not by_n:
        return NO_DATA
    cols = [("DRG", "drg", {}), ("病例数 cases", "n", {}), ("总费用 total cost", "cost", {"places": 2}),
            ("次均费用 mean cost", "mean_cost", {"places": 2}), ("基准点数 base points", "base_points", {"places": 4}),
            ("总点数 points", "points", {"places": 2})]
    svg = charts.stacked_bars([r["drg"] for r in by_cost], {"cost": [r["cost"] for r in by_cost]},
                              charts.label(f"费用最高的 {TOP_N} 个 DRG", f"Top {TOP_N} DRGs by total cost"),
                              charts.label("总费用 (元)", "total cost (yuan)"), horizontal=True)
    return (f"<h3>按病例数 by volume (top {TOP_N})</h3>" + html.table(cols, by_n)
            + f"<h3>按总费用 by cost (top {TOP_N})</h3>" + html.figure(svg, "总费用 total cost by DRG")
            + html.table(cols, by_cost))


def _cost_section(conn: psycopg.Connection, period: str) -> str:
    cs = cost_structure(conn, period)
    if not cs:
        return NO_DATA
    svg = charts.stacked_bars([c["category"].split()[0] if charts.cjk_available() else c["category"].split()[1]
                               for c in cs], {"share": [c["share"] * 100 for c in cs]},
                              charts.label("费用结构 (占总费用 %)", "Cost structure (% of total cost)"), "%",
                              horizontal=True)
    cols = [("费用类别 fee category", "category", {}), ("金额 amount", "amount", {"places": 2}),
            ("占比 share", "share", _pct())]
    total = {"category": "合计 total", "amount": sum(c["amount"] for c in cs), "share": sum(c["share"] for c in cs)}
    return html.figure(svg, "14 类费用占总费用的比例。 The 14 fee categories as shares of total cost.") + \
        html.table(cols, cs, total)


def _quality_section(conn: psycopg.Connection, scheme: str | None, year: int) -> str:
    gq = grouping_quality(conn, scheme)
    if not gq:
        return NO_DATA
    cols = [("年度 year", "year", {"sep": False}), ("病例数 cases", "n_cases", {}), ("入组数 grouped", "n_grouped", {}),
            ("入组率 grouped rate", "grouped_rate", _pct(2)), ("歧义率 QY rate", "qy_rate", _pct(2)),
            ("无法入组率 0000 rate", "ungroupable_rate", _pct(2)), ("RIV", "riv", {"places": 4}),
            ("RIV (剔除异常 trimmed)", "riv_trimmed", {"places": 4}),
            ("CV<1 病组占比 share of DRGs with CV<1", "share_drg_cv_below_1", _pct(1))]
    out = html.table(cols, gq)
    cv_year, cvs = drg_cvs(conn, scheme, year)
    if cvs:
        top = max(2.0, float(max(cvs)) + 0.1)
        bins = [i * 0.1 for i in range(int(top / 0.1) + 2)]
        svg = charts.histogram(cvs, bins,
                               charts.label(f"{cv_year} 年各 DRG 费用变异系数分布", f"{cv_year}: CV of cost per DRG"),
                               "CV", charts.label("DRG 数", "DRGs"), marker=1.0)
        below = sum(1 for c in cvs if c < 1)
        out += html.figure(svg, f"{cv_year} 年 {len(cvs)} 个 DRG (n ≥ 2), 其中 {below} 个 CV < 1 (虚线)。 "
                                f"{len(cvs)} DRGs with n ≥ 2, {below} below CV 1 (dashed).")
    st = unstable_drgs(conn, year)
    if st:
        out += (f"<p>{year} 年度测算: {st['drgs']} 个 DRG 有基准点数, 稳定 {st['stable']}, 非稳定 {st['unstable']}。 "
                f"Calibration of {year}: {st['drgs']} DRGs, {st['stable']} stable, {st['unstable']} unstable.</p>")
    return out


def _indices_section(conn: psycopg.Connection, scheme: str | None, year: int) -> str:
    hi = hospital_indices(conn, scheme, year)
    if not hi:
        return NO_DATA
    cols = [("医院 hospital", "hospital_id", {}), ("名称 name", "hospital_name", {}), ("级别 level", "level", {}),
            ("病例数 cases", "n_cases", {}), ("DRG 组数", "drg_count", {}), ("CMI", "cmi", {"places": 4}),
            (f"CMI {year - 1} (按{year}权重 at {year} RW)", "cmi_prev", {"places": 4}),
            ("CMI 变化 change", "cmi_change", {"places": 4}),
            ("费用消耗指数 CEI", "cei", {"places": 3}), ("时间消耗指数 TEI", "tei", {"places": 3}),
            ("低风险组死亡率 low-risk mortality", "low_risk_mortality", _pct(2))]
    out = ""
    with_cmi = [r for r in hi if r["cmi"] is not None]
    if with_cmi:
        out += html.figure(charts.stacked_bars([r["hospital_id"] for r in with_cmi],
                                               {"CMI": [r["cmi"] for r in with_cmi]},
                                               charts.label(f"{year} 各医院 CMI", f"{year} CMI by hospital"), "CMI"),
                           "病例组合指数 case-mix index (RW of the year's calibration)")
    out += html.figure(charts.scatter([r["cei"] for r in hi], [r["tei"] for r in hi], [r["hospital_id"] for r in hi],
                                      charts.label("费用与时间消耗指数", "Cost vs time efficiency"),
                                      charts.label("费用消耗指数 CEI", "CEI"), charts.label("时间消耗指数 TEI", "TEI")),
                       "1 = 全市平均; 右上方: 费用高且住院时间长。 "
                       "1 = city average; top right: costlier and longer stays.")
    return out + html.table(cols, hi)


def transition(conn: psycopg.Connection, year: int, scheme: str | None) -> dict[str, Any] | None:
    """The year's transition report against the year's scheme (marts.grouping_transition*), or None when
    `drgflow transition` has not built it: the version pair, per-version 入组率 and CMI per hospital, the largest
    flows between groups and the count of changed cases by kind of change."""
    if conn.execute("select to_regclass('marts.grouping_transition_hospitals') is null").fetchone()[0]:
        return None
    pair = conn.execute("select from_version, to_version from marts.grouping_transition where year = %s"
                        " and %s in (from_version, to_version) group by 1, 2 order by 1, 2 limit 1",
                        (year, scheme)).fetchone()
    if pair is None:
        return None
    args = (year, *pair)
    hospitals = [dict(zip(("hospital_id", "scheme_version", "cases", "grouping_rate", "cmi"), r, strict=True))
                 for r in conn.execute("select hospital_id, scheme_version, cases, grouping_rate, cmi"
                                       " from marts.grouping_transition_hospitals where year = %s"
                                       " and from_version = %s and to_version = %s order by 1, 2", args)]
    flows = [dict(zip(("from_drg", "to_drg", "cases"), r, strict=True))
             for r in conn.execute("select from_drg, to_drg, cases from marts.grouping_transition where year = %s"
                                   " and from_version = %s and to_version = %s and drg_changed"
                                   " order by cases desc, from_drg, to_drg limit 20", args)]
    kinds = dict(conn.execute("select change_kind, count(*) from marts.grouping_transition_cases where year = %s"
                              " and from_version = %s and to_version = %s group by 1", args).fetchall())
    total = conn.execute("select coalesce(sum(cases), 0) from marts.grouping_transition where year = %s"
                         " and from_version = %s and to_version = %s", args).fetchone()[0]
    return {"from": pair[0], "to": pair[1], "hospitals": hospitals, "flows": flows, "kinds": kinds,
            "cases": total}


def _transition_section(conn: psycopg.Connection, year: int, scheme: str | None) -> str:
    t = transition(conn, year, scheme)
    if t is None:
        return ("<p>尚未生成新旧版本对照。 No transition report for this year: "
                "<code>drgflow transition --year YEAR</code> builds it.</p>")
    a, b = t["from"], t["to"]
    by_hospital: dict[str, dict] = {}
    for r in t["hospitals"]:
        row = by_hospital.setdefault(r["hospital_id"], {"hospital_id": r["hospital_id"], "cases": r["cases"]})
        side = "a" if r["scheme_version"] == a else "b"
        row[f"rate_{side}"], row[f"cmi_{side}"] = r["grouping_rate"], r["cmi"]
    rows = list(by_hospital.values())
    changed = sum(t["kinds"].values())
    out = (f"<p>{year} 年 {t['cases']:,} 例分别按 {html.escape(a)} 与 {html.escape(b)} 分组, {changed:,} 例 DRG 改变"
           f" (MDC {t['kinds'].get('mdc', 0):,}, ADRG {t['kinds'].get('adrg', 0):,}, 细分组 split "
           f"{t['kinds'].get('split', 0):,}, 入组状态 status {t['kinds'].get('status', 0):,})。 "
           f"{t['cases']:,} cases of {year} grouped under both versions; {changed:,} changed DRG. "
           "Each changed case with the rule trace of both versions is in marts.grouping_transition_cases.</p>")
    cols = [("医院 hospital", "hospital_id", {}), ("病例数 cases", "cases", {}),
            (f"入组率 {a}", "rate_a", _pct(2)), (f"入组率 {b}", "rate_b", _pct(2)),
            (f"CMI {a}", "cmi_a", {"places": 4}), (f"CMI {b}", "cmi_b", {"places": 4})]
    out += html.table(cols, rows)
    if t["flows"]:
        out += "<p>最大的病组迁移 Largest flows between groups:</p>" + html.table(
            [(f"{a} DRG", "from_drg", {}), (f"{b} DRG", "to_drg", {}), ("病例数 cases", "cases", {})], t["flows"])
    return out + ("<p>CMI 为描述性指标: 各 DRG 权重取本年同一批病例在该版本下的例均费用 / 全部入组病例例均费用。 "
                  "CMI here is descriptive: each DRG's weight is its mean cost over the mean cost of all grouped "
                  "cases of the year under that version.</p>")


def build_regional(conn: psycopg.Connection, period: str, out_dir: Path) -> Path:
    """Write regional_<period>.html into out_dir and return its path."""
    year, month = parse_period(period)
    monthly = month is not None
    scheme = scheme_of(conn, year)
    kind = "月度预结算 monthly pre-settlement" if monthly else "年度清算 annual settlement"
    sections = [
        ("budget", "1. 预算使用 Budget use", _budget_section(budget_use(conn, period), monthly)),
        ("pv", f"2. 点值 Point values by month ({year})", _pv_section(conn, year, period if monthly else None)),
        ("points", "3. 医院点数与病例类型 Points by hospital and case type",
         _points_section(points_by_hospital(conn, period))),
        ("drgs", "4. 主要病组 Top DRGs", _top_section(conn, period)),
        ("cost", "5. 费用结构 Cost structure", _cost_section(conn, period)),
        ("quality", "6. 分组质量 Grouping quality (入组率, RIV, CV)", _quality_section(conn, scheme, year)),
        ("indices", f"7. 医院 CMI 与效率指数 CMI and efficiency indices ({year})",
         _indices_section(conn, scheme, year)),
        ("transition", f"8. 分组版本过渡 Scheme transition ({year})", _transition_section(conn, year, scheme)),
    ]
    nav = ("<nav><a href=\"../index.html\">← 报告目录 index</a>"
           + "".join(f"<a href=\"#{k}\">{html.escape(t.split(' ', 1)[1].split(' ')[0])}</a>" for k, t, _ in sections)
           + "</nav>")
    body = nav + "".join(f"<section id=\"{k}\"><h2>{html.escape(t)}</h2>{s}</section>" for k, t, s in sections)
    title = f"统筹区结算分析报告 Regional settlement report · {period}"
    subtitle = f"{kind} · 全部统筹区 all pooling regions · 分组方案 scheme {scheme or '—'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"regional_{period}.html"
    path.write_text(html.page(title, body, subtitle), encoding="utf-8")
    return path
