"""A small multi-year city for the settlement tests, and an independent re-computation of settlement-spec
§2–§5 in Python Decimal (written from the spec, sharing no code with the dbt models)."""
from __future__ import annotations

import csv
import math
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import psycopg

from drgflow.contract import CASE_COLUMNS, FEE_COLUMNS

D = Decimal
HOSPITALS = [  # id, level, region
    ("H1", 3, "R1"), ("H2", 3, "R1"), ("H5", 2, "R1"), ("H3", 2, "R2"), ("H4", 1, "R2"),
]
# drg -> (median cost, spread, cases per year); "NEW1" appears only in 2024
DRGS = {"GB25": (40000, 0.35, 26), "ES31": (9000, 0.30, 22), "FM19": (15000, 0.25, 8),
        "WILD": (20000, 1.6, 3), "RARE": (30000, 0.2, 0), "NEW1": (12000, 0.2, 0)}
YEARS = [2021, 2022, 2023, 2024]
BUDGETS = {("R1", 2023): "900000.00", ("R1", 2024): "1150000.00", ("R2", 2024): "430000.00",
           ("R2", 2023): "400000.00"}
SCORES = [("H1", 2024, "95"), ("H2", 2024, "75"), ("H3", 2024, "60"), ("H5", 2024, "91"), ("H5", 2024, "89.5")]


def _money(x: float) -> str:
    return f"{max(x, 50.0):.2f}"


def build_city(out: Path, seed: int = 7) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """Write hospitals/budgets/scores/special_review/cases CSVs; return (case rows, grouping rows)."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    cases: list[dict] = []
    groups: list[tuple[str, str, str | None, str]] = []  # hospital, case, drg, status
    n = 0

    def add(year: int, hosp: tuple, drg: str | None, status: str, cost: float, dx: str = "K35.800",
            los: int | None = None, month: int | None = None, way: int = 1) -> dict:
        nonlocal n
        n += 1
        hid, level, region = hosp
        month = month or rng.randint(1, 12)
        los = los if los is not None else rng.randint(2, 20)
        c = D(_money(cost))
        fund = (c * D("0.7")).quantize(D("0.01"))
        fees = [c * D(w) for w in ("0.05", "0.02", "0.1", "0.08", "0.1", "0.1", "0.05", "0.15", "0.2", "0.05", "0.05",
                                   "0.02", "0.01", "0.02")]
        row = {k: "" for k in CASE_COLUMNS}
        row.update(case_id=f"C{n:05d}", hospital_id=hid, region_code=region, insurance_type="1",
                   patient_id=f"P{n:05d}", sex=str(rng.randint(1, 2)), age_years=str(rng.randint(20, 80)),
                   admit_date=f"{year}-{month:02d}-01",
                   discharge_date=f"{year}-{month:02d}-{min(28, 1 + los % 27):02d}",
                   los_days=str(los), discharge_way=str(way), dx_codes=dx, px_codes="", total_cost=str(c),
                   fund_paid=str(fund), settle_date=f"{year}-{month:02d}-{rng.randint(1, 28):02d}")
        for col, v in zip(FEE_COLUMNS, fees, strict=True):
            row[col] = str(v.quantize(D("0.01")))
        cases.append(row)
        groups.append((hid, row["case_id"], drg, status))
        return row

    for year in YEARS:
        for drg, (med, spread, per_year) in DRGS.items():
            k = per_year if year < 2024 else max(per_year // 2, 2)
            if drg == "RARE":
                k = 1 if year in (2022, 2024) else 0
            if drg == "NEW1":
                k = 4 if year == 2024 else 0
            for i in range(k):
                hosp = HOSPITALS[(i + year) % len(HOSPITALS)] if drg != "GB25" else HOSPITALS[i % 4]
                hosp_factor = {"H1": 1.1, "H2": 1.0, "H5": 0.95, "H3": 0.9, "H4": 0.8}[hosp[0]]
                cost = med * hosp_factor * math.exp(rng.gauss(0, spread))
                way = 5 if rng.random() < 0.06 else 1
                add(year, hosp, drg, "grouped", cost, los=70 if (i == 3 and drg == "ES31") else None, way=way)
        # the tails: one extreme case per big group and year (trimmed), special cases
        add(year, HOSPITALS[0], "GB25", "grouped", 150000)
        add(year, HOSPITALS[1], "ES31", "grouped", 60)
        add(year, HOSPITALS[2], None, "qy", 23000)
        add(year, HOSPITALS[3], None, "ungroupable", 8000)
        add(year, HOSPITALS[0], "GB25", "grouped", 41000, dx="F20.000", los=45)      # bed-day, grouped: out of §2
        add(year, HOSPITALS[4], None, "ungroupable", 6000, dx="Z51.500x001", los=12)  # bed-day outranks 0000
        add(year, HOSPITALS[3], "ES31", "grouped", 7000, dx="F41.100", los=30)       # psychiatric class 2
        add(year, HOSPITALS[2], "FM19", "grouped", 9000, dx="Z50.100", los=20)       # rehabilitation
    # 2024: high and low ratio cases, LOS > 60 (settled normally), special review
    add(2024, HOSPITALS[0], "GB25", "grouped", 250000, month=3)
    add(2024, HOSPITALS[1], "GB25", "grouped", 5000, month=3)
    add(2024, HOSPITALS[3], "ES31", "grouped", 30000, month=3)
    add(2024, HOSPITALS[4], "ES31", "grouped", 9500, los=80, month=3)
    sr1 = add(2024, HOSPITALS[1], "GB25", "grouped", 180000, month=3)
    sr2 = add(2024, HOSPITALS[2], None, "qy", 50000, month=3)
    old = next(c for c in cases if c["settle_date"].startswith("2023"))

    _write(out / "hospitals.csv", ["hospital_id", "hospital_name", "level", "hospital_type", "region_code"],
           [[h, f"Hospital {h}", lvl, "general", r] for h, lvl, r in HOSPITALS])
    _write(out / "budgets.csv", ["region_code", "year", "fund_budget"],
           [[r, y, b] for (r, y), b in BUDGETS.items()])
    _write(out / "assessment_scores.csv", ["hospital_id", "year", "score"], [list(s) for s in SCORES])
    _write(out / "special_review.csv", ["hospital_id", "case_id", "approved_points", "reason"],
           [[sr1["hospital_id"], sr1["case_id"], "900", "pending"],
            [sr1["hospital_id"], sr1["case_id"], "512.34567", "approved by panel (last row wins)"],
            [sr2["hospital_id"], sr2["case_id"], "", "refused"],
            [old["hospital_id"], old["case_id"], "777", "outside the settlement year: ignored"]])
    _write(out / "cases.csv", list(CASE_COLUMNS), [[c[k] for k in CASE_COLUMNS] for c in cases])
    return cases, groups


def write_case_grouping(url: str, scheme: str, groups: list[tuple[str, str, str, str]]) -> None:
    """Fill the grouper's output table (marts.case_grouping) with the city's groups, for tests where grouping
    is not under test; each row names the loaded case version it groups, as the grouper's rows do."""
    with psycopg.connect(url) as conn:
        conn.execute("""create table if not exists marts.case_grouping (scheme_version text, hospital_id text,
                        case_id text, mdc text, adrg text, drg text, group_status text, cc_level text, reason text,
                        trace text, batch_id bigint, source_row bigint,
                        primary key (scheme_version, hospital_id, case_id))""")
        with conn.cursor().copy("copy marts.case_grouping (scheme_version, hospital_id, case_id, drg, group_status)"
                                " from stdin") as cp:
            for h, c, drg, st in groups:
                cp.write_row((scheme, h, c, drg if st == "grouped" else {"qy": "AQY", "ungroupable": "0000"}[st], st))
    regroup_fixture(url)


def regroup_fixture(url: str) -> None:
    """What `drgflow group` does to the fixture's groups: each row names the latest loaded case version."""
    with psycopg.connect(url) as conn:
        conn.execute("""update marts.case_grouping g set batch_id = r.batch_id, source_row = r.source_row
                        from (select distinct on (btrim(hospital_id), btrim(case_id)) btrim(hospital_id) as h,
                                     btrim(case_id) as c, batch_id, source_row
                              from raw.cases order by btrim(hospital_id), btrim(case_id), batch_id desc,
                                       source_row desc) as r
                        where g.hospital_id = r.h and g.case_id = r.c""")


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


# ---------------------------------------------------------------------------------------------------------
# Independent re-computation (settlement-spec §2–§5, §8), Decimal throughout.

DEFAULTS = dict(base_years=3, base_weights=[D(1), D(2), D(7)], stats_max_los=60, trim_method="percentile",
                trim_low_pct=D("2.5"), trim_high_pct=D("97.5"), trim_min_n=20, stable_min_n=5,
                stable_max_cv=D("1.0"), coef_alpha=D("0.5"), coef_min_n=5, coef_min=D("0.8"), coef_max=D("1.2"),
                beta=D(1), low_ratio=D("0.4"), q_ungroupable=D(1), q_qy=D(1), reserve_ratio=D("0.05"),
                prepay_ratio=D("0.9"))
PER_DIEM = {("psychiatric_1", 3): 420, ("psychiatric_1", 2): 310, ("psychiatric_1", 1): 205,
            ("psychiatric_2", 3): 320, ("psychiatric_2", 2): 285, ("psychiatric_2", 1): 170,
            ("rehabilitation", 3): 395, ("rehabilitation", 2): 295, ("rehabilitation", 1): 295,
            ("hospice", 3): 395, ("hospice", 2): 295, ("hospice", 1): 295}


def r4(x: Decimal) -> Decimal:
    return x.quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def r2(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def bed_day_category(dx: str) -> str | None:
    code = dx.split("|")[0].strip().upper().replace(".", "")
    if code[:3] >= "F20" and code[:3] <= "F39" and len(code) >= 3:
        return "psychiatric_1"
    if code.startswith("F"):
        return "psychiatric_2"
    if code.startswith("Z50"):
        return "rehabilitation"
    if code.startswith("Z515"):
        return "hospice"
    return None


def percentile(sorted_vals: list[Decimal], f: Decimal) -> Decimal:
    h = (len(sorted_vals) - 1) * f
    lo = int(h)  # h >= 0
    frac = h - lo
    hi = lo + 1 if frac else lo
    return sorted_vals[lo] + frac * (sorted_vals[hi] - sorted_vals[lo])


def kept_flags(costs: list[Decimal], p: dict) -> list[bool]:
    n = len(costs)
    if n < p["trim_min_n"] or p["trim_method"] == "none":
        return [True] * n
    s = sorted(costs)
    if p["trim_method"] == "percentile":
        lo, hi = percentile(s, p["trim_low_pct"] / 100), percentile(s, p["trim_high_pct"] / 100)
        return [lo <= c <= hi for c in costs]
    if p["trim_method"] == "iqr":
        q1, q3 = percentile(s, D("0.25")), percentile(s, D("0.75"))
        return [q1 - D("1.5") * (q3 - q1) <= c <= q3 + D("1.5") * (q3 - q1) for c in costs]
    logs = [c.ln() for c in costs]
    mean = sum(logs) / n
    sd = (sum((x - mean) ** 2 for x in logs) / (n - 1)).sqrt()
    return [abs(x - mean) <= 3 * sd for x in logs]


def sample_cv(vals: list[Decimal]) -> Decimal | None:
    if len(vals) < 2:
        return None
    m = sum(vals) / len(vals)
    sd = (sum((v - m) ** 2 for v in vals) / (len(vals) - 1)).sqrt()
    return sd / m


def recompute(cases: list[dict], groups: list[tuple], year: int, p: dict | None = None,
              special: dict | None = None, scores: dict | None = None, budgets: dict | None = None,
              prepaid: dict | None = None, hospitals: list[tuple] | None = None) -> dict:
    """Base points, coefficients, case points, monthly and annual money for settlement year `year`.
    hospitals: (id, level, region) of the registry (default: the fixture city's)."""
    p = {**DEFAULTS, **(p or {})}
    with localcontext() as ctx:
        ctx.prec = 40
        return _recompute(cases, groups, year, p, special or {}, scores or {}, budgets or {}, prepaid,
                          hospitals or HOSPITALS)


def _recompute(cases, groups, year, p, special, scores, budgets, prepaid, hospitals) -> dict:
    level = {h: lvl for h, lvl, _ in hospitals}
    group = {(h, c): (drg, st) for h, c, drg, st in groups}
    first = year - p["base_years"]
    weight = {first + i: w for i, w in enumerate(p["base_weights"])}
    # §2 population
    pop = []
    for c in cases:
        y = int(c["settle_date"][:4])
        drg, st = group[(c["hospital_id"], c["case_id"])]
        if y in weight and st == "grouped" and int(c["los_days"]) <= p["stats_max_los"] \
                and bed_day_category(c["dx_codes"]) is None:
            pop.append((c["hospital_id"], drg, y, D(c["total_cost"])))
    if not pop:
        raise ValueError("empty base period")
    by_gy = defaultdict(list)
    for h, g, y, cost in pop:
        by_gy[(g, y)].append((h, cost))
    kept = []
    for (g, y), rows in by_gy.items():
        for (h, cost), k in zip(rows, kept_flags([r[1] for r in rows], p), strict=True):
            if k:
                kept.append((h, g, y, cost))

    def wmean(rows) -> tuple[Decimal | None, int]:
        per_year = defaultdict(list)
        for y, cost in rows:
            per_year[y].append(cost)
        if not per_year:
            return None, 0
        num = sum(weight[y] * (sum(v) / len(v)) for y, v in per_year.items())
        return num / sum(weight[y] for y in per_year), sum(len(v) for v in per_year.values())

    a_all, _ = wmean([(y, c) for _, _, y, c in kept])
    drgs = sorted({g for _, g, _, _ in pop})
    bp = {}
    for g in drgs:
        a_g, nk = wmean([(y, c) for _, gg, y, c in kept if gg == g])
        costs = [c for _, gg, _, c in pop if gg == g]
        cv = sample_cv(costs)
        b = r4(a_g / a_all * 100) if a_g is not None else None
        k = None if b is None else (D(3) if b <= 100 else D(2) if b <= 300 else D("1.5"))
        bp[g] = dict(base_points=b, mean_cost=a_g, n_base=len(costs), cv_base=cv, high_ratio_multiple=k,
                     stable=len(costs) >= p["stable_min_n"] and cv is not None and cv <= p["stable_max_cv"])
    coef = {}
    for h, lvl, _ in hospitals:
        for g in drgs:
            if bp[g]["base_points"] is None:
                continue
            a_g = bp[g]["mean_cost"]
            a_h, n_h = wmean([(y, c) for hh, gg, y, c in kept if hh == h and gg == g])
            a_l, n_l = wmean([(y, c) for hh, gg, y, c in kept if level.get(hh) == lvl and gg == g])
            eta = a_h / a_g if n_h >= p["coef_min_n"] else None
            lam = a_l / a_g if n_l >= p["coef_min_n"] else D(1)
            c = p["coef_alpha"] * eta + (1 - p["coef_alpha"]) * lam if eta is not None else lam
            coef[(h, g)] = dict(coefficient=r4(min(max(c, p["coef_min"]), p["coef_max"])), hospital_ratio=eta,
                                level_ratio=lam)
    # §4 case points
    points = {}
    for c in cases:
        if int(c["settle_date"][:4]) != year:
            continue
        h, cid = c["hospital_id"], c["case_id"]
        drg, st = group[(h, cid)]
        cost = D(c["total_cost"])
        cat = bed_day_category(c["dx_codes"])
        b = bp.get(drg) if drg else None
        if (h, cid) in special:
            t, pts = "special_review", special[(h, cid)]
        elif cat:
            t, pts = "bed_day", D(PER_DIEM[(cat, level[h])]) * int(c["los_days"]) / a_all * 100
        elif st == "ungroupable":
            t, pts = "ungroupable", cost / a_all * 100 * p["q_ungroupable"]
        elif st == "qy":
            t, pts = "qy", cost / a_all * 100 * p["q_qy"]
        elif b is None or b["base_points"] is None or not b["stable"]:
            t, pts = "unstable", cost / a_all * 100
        elif cost > b["high_ratio_multiple"] * b["mean_cost"]:
            t = "high"
            pts = b["base_points"] * coef[(h, drg)]["coefficient"] + \
                b["base_points"] * (cost / b["mean_cost"] - b["high_ratio_multiple"]) * p["beta"]
        elif cost < p["low_ratio"] * b["mean_cost"]:
            t, pts = "low", b["base_points"] * cost / b["mean_cost"]
        else:
            t, pts = "normal", b["base_points"] * coef[(h, drg)]["coefficient"]
        points[(h, cid)] = dict(case_type=t, points=r4(pts), region=c["region_code"], period=c["settle_date"][:7],
                                personal=cost - D(c["fund_paid"]), cost=cost)
    # §5 money
    usable = {r: D(b) * (1 - p["reserve_ratio"]) for (r, y), b in budgets.items() if y == year}
    monthly, region_month = {}, defaultdict(lambda: [D(0), D(0)])
    hosp_month = defaultdict(lambda: [D(0), D(0)])
    for (h, _), v in points.items():
        region_month[(v["region"], v["period"])][0] += v["points"]
        region_month[(v["region"], v["period"])][1] += v["personal"]
        hosp_month[(v["region"], h, v["period"])][0] += v["points"]
        hosp_month[(v["region"], h, v["period"])][1] += v["personal"]
    for (r, h, per), (pts, pers) in hosp_month.items():
        rp, rpers = region_month[(r, per)]
        pv = (usable[r] / 12 + rpers) / rp
        monthly[(r, h, per)] = dict(point_value=pv, prepayment=r2((pts * pv - pers) * p["prepay_ratio"]),
                                    total_points=pts, personal_paid=pers)
    region_year, hosp_year = defaultdict(lambda: [D(0), D(0)]), defaultdict(lambda: [D(0), D(0)])
    for (h, _), v in points.items():
        for acc in (region_year[v["region"]], hosp_year[(v["region"], h)]):
            acc[0] += v["points"]
            acc[1] += v["personal"]
    annual = {}
    for (r, h), (pts, pers) in hosp_year.items():
        pv = (usable[r] + region_year[r][1]) / region_year[r][0]
        s = scores.get(h)
        k = D(1) if s is None else D("1.05") if s >= 90 else D("1.00") if s >= 70 else D("0.90")
        pay = r2(pts * pv * k - pers)
        pre = (prepaid if prepaid is not None else
               {key: sum(m["prepayment"] for (rr, hh, _), m in monthly.items() if (rr, hh) == key)
                for key in hosp_year}).get((r, h), D(0))
        annual[(r, h)] = dict(point_value=pv, assessment_coef=k, payable=pay, prepaid=pre, clearing=pay - pre,
                              total_points=pts, personal_paid=pers)
    return dict(a_all=a_all, base_points=bp, coefficients=coef, case_points=points, monthly=monthly,
                annual=annual)


def _mean(v: list[Decimal]) -> Decimal:
    return sum(v) / len(v)


def _sd(v: list[Decimal]) -> Decimal | None:
    if len(v) < 2:
        return None
    m = _mean(v)
    return (sum((x - m) ** 2 for x in v) / (len(v) - 1)).sqrt()


def recompute_statistics(cases: list[dict], groups: list[tuple], rw: dict[int, dict[str, Decimal]],
                         p: dict | None = None) -> dict:
    """§6 per-DRG statistics, grouping quality and hospital performance for every year with cases;
    rw[year] = {drg: RW} of the calibration of settlement year = year (absent = no calibration)."""
    p = {**DEFAULTS, **(p or {})}
    with localcontext() as ctx:
        ctx.prec = 40
        return _recompute_statistics(cases, groups, rw, p)


def _recompute_statistics(cases, groups, rw, p) -> dict:
    status = {(h, c): (drg, st) for h, c, drg, st in groups}
    by_year = defaultdict(list)
    for c in cases:
        drg, st = status[(c["hospital_id"], c["case_id"])]
        by_year[int(c["settle_date"][:4])].append(dict(c, drg=drg, status=st, cost=D(c["total_cost"])))
    stats, quality, perf = {}, {}, {}
    for y, rows in by_year.items():
        grouped = [r for r in rows if r["status"] == "grouped"]
        per = defaultdict(list)
        for r in grouped:
            per[r["drg"]].append(r)
        kept_rows = []
        for g, rs in per.items():
            flags = kept_flags([r["cost"] for r in rs], p)
            kept = [r for r, k in zip(rs, flags, strict=True) if k]
            kept_rows += kept
            costs, kc = [r["cost"] for r in rs], [r["cost"] for r in kept]
            deaths = sum(1 for r in rs if r["discharge_way"] == "5")
            tot = sum(costs)
            sd = _sd(costs)
            stats[(y, g)] = dict(
                n=len(rs), mean_cost=_mean(costs), sd_cost=sd, cv=None if sd is None else sd / _mean(costs),
                n_trimmed=len(kept), mean_cost_trimmed=_mean(kc),
                cv_trimmed=None if _sd(kc) is None else _sd(kc) / _mean(kc),
                mean_los=_mean([D(r["los_days"]) for r in rs]), deaths=deaths, mortality=D(deaths) / len(rs),
                drug_share=sum(D(r["fee_western_drug"]) + D(r["fee_chinese_patent"]) + D(r["fee_herbal"])
                               for r in rs) / tot,
                material_share=sum(D(r["fee_material"]) for r in rs) / tot)
        # mortality grading (same year, all hospitals)
        xs = {g: (D(s["deaths"]) / s["n"]).ln() for (yy, g), s in stats.items() if yy == y and s["deaths"]}
        mu = _mean(list(xs.values())) if xs else None
        sigma = (_sd(list(xs.values())) or D(0)) if xs else None
        for (yy, g), s in stats.items():
            if yy != y:
                continue
            x = xs.get(g)
            s["mortality_risk"] = ("low" if x is None or x < mu - sigma else "medium_low" if x < mu
                                   else "medium_high" if x < mu + sigma else "high")

        def riv(rs):
            m = _mean([r["cost"] for r in rs])
            gm = defaultdict(list)
            for r in rs:
                gm[r["drg"]].append(r["cost"])
            sst = sum((r["cost"] - m) ** 2 for r in rs)
            ssw = sum((r["cost"] - _mean(gm[r["drg"]])) ** 2 for r in rs)
            return 1 - ssw / sst
        multi = [s for (yy, _), s in stats.items() if yy == y and s["n"] >= 2]
        quality[y] = dict(n_cases=len(rows), grouped_rate=D(len(grouped)) / len(rows),
                          qy_rate=D(sum(r["status"] == "qy" for r in rows)) / len(rows),
                          ungroupable_rate=D(sum(r["status"] == "ungroupable" for r in rows)) / len(rows),
                          riv=riv(grouped), riv_trimmed=riv(kept_rows),
                          share_drg_cv_below_1=D(sum(s["cv"] < 1 for s in multi)) / len(multi))
        for h in {r["hospital_id"] for r in rows}:
            mine = [r for r in grouped if r["hospital_id"] == h]
            hg = defaultdict(list)
            for r in mine:
                hg[r["drg"]].append(r)
            n = len(mine)
            cal = rw.get(y)
            with_rw = [r for r in mine if cal is not None and r["drg"] in cal]
            low = [r for r in mine if stats[(y, r["drg"])]["mortality_risk"] == "low"]
            perf[(y, h)] = dict(
                n_cases=sum(r["hospital_id"] == h for r in rows), drg_count=len(hg),
                cmi=(sum(cal[r["drg"]] for r in with_rw) / len(with_rw)) if with_rw else None,
                cei=sum(len(v) * (_mean([r["cost"] for r in v]) / stats[(y, g)]["mean_cost"])
                        for g, v in hg.items()) / n if n else None,
                tei=sum(len(v) * (_mean([D(r["los_days"]) for r in v]) / stats[(y, g)]["mean_los"])
                        for g, v in hg.items()) / n if n else None,
                low_risk_deaths=sum(r["discharge_way"] == "5" for r in low), low_risk_cases=len(low))
    return dict(drg_year_stats=stats, grouping_quality=quality, hospital_performance=perf)
