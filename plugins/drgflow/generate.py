"""Synthetic city: hospitals, case files in the input contract, budgets, scores, special reviews, defects.

The case mix is drawn from the active grouping scheme's own tables (principal diagnoses and procedures
of each ADRG, CC/MCC lists), so every later stage is exercised on codes the grouper knows. Costs and
stays are log-normal by ADRG severity, CC level and hospital level, with heavy tails and yearly growth.
Everything is vectorised with numpy and deterministic for a seed.
"""
from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from drgflow import config, contract
from drgflow.errors import UserError
from drgflow.schemes.pack import Pack, is_dx, load_pack

EPOCH = date(1970, 1, 1)
DEFECT_KINDS = (
    "missing_required", "unknown_dx_code", "unknown_px_code", "sex_dx_conflict", "discharge_before_admit",
    "los_mismatch", "fee_sum_mismatch", "fund_paid_exceeds_total", "negative_money", "impossible_date",
    "non_numeric_amount", "settle_before_discharge", "newborn_missing_weight", "invalid_principal_dx",
    "duplicate_row", "unknown_hospital", "bad_sex_value",
)
# mean fee shares (14 categories, contract order) by ADRG kind: surgery and materials weigh on surgical cases
FEE_SHARES = {
    "surgical": [4, 1, 8, 7, 8, 14, 4, 22, 22, 1, 4, 1, 0.2, 3.8],
    "non_or":   [5, 1, 10, 9, 14, 5, 5, 16, 25, 1, 4, 1, 0.2, 3.8],
    "medical":  [7, 2, 12, 12, 12, 0.5, 6, 6, 30, 2, 6, 1.5, 0.2, 2.8],
}
LEVEL_COST = {1: 0.72, 2: 0.95, 3: 1.22}
LEVEL_MIX = {1: 0.45, 2: 1.0, 3: 1.7}     # weight on surgical / severe ADRGs
# approximate share of inpatient stays by MDC in a Chinese city; ADRGs share their MDC's volume
MDC_SHARE = {"A": 0.5, "B": 9, "C": 3, "D": 4, "E": 11, "F": 12, "G": 10, "H": 4, "I": 9, "J": 3, "K": 4,
             "L": 5, "M": 1.5, "N": 3, "O": 8, "P": 3, "Q": 1.5, "R": 3, "S": 1, "T": 1.5, "U": 0.5, "V": 2,
             "W": 0.3, "X": 3, "Y": 0.1, "Z": 0.3}
REGION_NAMES = ["市本级", "东湖县", "西山县", "南江区", "北港区"]


@dataclass
class Template:
    """What a case of one ADRG looks like: codes to draw from and its cost/LOS profile."""
    adrg: str
    mdc: str
    kind: str
    dx: np.ndarray
    px_sections: list[np.ndarray]
    weight: float
    cost: float
    los: float
    sex: int | None = None
    newborn: str | None = None          # None, "neonate", "infant"
    weight_band: tuple[int, int] | None = None
    ventilation: bool = False
    regions: list[np.ndarray] = field(default_factory=list)   # MDCZ body regions
    long_stay: bool = False


def parse_years(text: str) -> list[int]:
    """'2021-2024' or '2021,2023' -> [years]."""
    try:
        if "-" in text:
            a, b = (int(x) for x in text.split("-", 1))
            years = list(range(a, b + 1))
        else:
            years = [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"--years {text!r}: expected a range like 2021-2024 or a list like 2021,2023") from None
    if not years or any(y < 1900 or y > 2200 for y in years):
        raise UserError(f"--years {text!r}: end before start or a year out of range")
    return years


def _section_kind(codes: list[str]) -> str:
    dx = sum(1 for c in codes if is_dx(c))
    return "dx" if dx * 2 >= len(codes) else "px"


def build_templates(pack: Pack, rng: np.random.Generator) -> list[Template]:
    """One case template per ADRG of the pack: its codes, volume weight, cost and LOS profile."""
    general = [c for m in pack.mdcs.values() if m.code not in "APYZ" for c in m.principal_dx]
    general_arr = np.array(sorted(set(general)) or ["I10.x00"])
    ss_valid = np.array(sorted(pack.ss_valid) or ["00.0000"])
    templates: list[Template] = []
    order = list(pack.adrgs.values())
    ranks = rng.permutation(len(order)) + 1
    for adrg, rank in zip(order, ranks, strict=True):
        dx: list[str] = []
        px_sections: list[np.ndarray] = []
        regions: list[np.ndarray] = []
        for s in adrg.sections:
            if not s.codes:
                if "全部手术" in s.title:
                    px_sections.append(ss_valid)
                continue
            if _section_kind(s.codes) == "dx":
                dx.extend(c for c in s.codes if is_dx(c))
            else:
                px_sections.append(np.array([c for c in s.codes if not is_dx(c)]))
        mdc = pack.mdcs.get(adrg.mdc)
        if adrg.mdc == "Z" and mdc is not None:
            regions = [np.array(s.codes) for s in mdc.sections if s.codes]
        if not dx:
            pool = mdc.principal_dx if mdc is not None and mdc.principal_dx else []
            dx = list(pool) if pool else list(general_arr)
        kind = adrg.kind
        if kind == "medical":
            px_sections = []
        elif not px_sections:
            px_sections = [ss_valid]
        # skewed volume: a few ADRGs carry most cases; medical ADRGs are commoner
        weight = (1.0 / rank ** 0.9) * (1.6 if kind == "medical" else 1.0)
        base = {"surgical": 17000.0, "non_or": 9000.0, "medical": 6500.0}[kind]
        cost = base * float(np.exp(rng.normal(0, 0.55)))
        los = {"surgical": 9.0, "non_or": 7.0, "medical": 7.5}[kind] * float(np.exp(rng.normal(0, 0.3)))
        t = Template(adrg.code, adrg.mdc, kind, np.array(sorted(set(dx))), px_sections, weight, cost, los,
                     regions=regions)
        if adrg.mdc == "M":
            t.sex = 1
        elif adrg.mdc in ("N", "O"):
            t.sex = 2
        if adrg.mdc == "A":
            t.cost *= 8
            t.los *= 2.5
            t.ventilation = "呼吸机" in adrg.name
        if adrg.mdc == "P":
            t.newborn = "infant" if adrg.code.startswith("PV") else "neonate"
            band = {"PS1": (700, 1499), "PS2": (1500, 1999), "PS3": (2000, 2499), "PS4": (2500, 3400)}
            t.weight_band = band.get(adrg.code)
        if adrg.mdc == "T" or any(c.startswith("Z50") for c in dx[:5]):
            t.long_stay = True
        templates.append(t)
    by_mdc: dict[str, float] = {}
    for t in templates:
        by_mdc[t.mdc] = by_mdc.get(t.mdc, 0.0) + t.weight
    for t in templates:
        t.weight = t.weight / by_mdc[t.mdc] * MDC_SHARE.get(t.mdc, 1.0)
    return templates


def _make_hospitals(n: int, regions: int, rng: np.random.Generator) -> list[dict]:
    region_codes = [f"3301{i:02d}" for i in range(2, 2 + regions)]
    hospitals = []
    for i in range(n):
        # the first region is the city: it gets more hospitals and most level-3 ones
        region_idx = 0 if (i % 3 != 2 or regions == 1) else 1 + (i // 3) % max(regions - 1, 1)
        level = 3 if i % 5 == 0 else (2 if i % 5 in (1, 2) else 1)
        if region_idx > 0 and level == 3 and i % 2:
            level = 2
        htype = ["general", "general", "tcm", "specialty", "maternal_child"][int(rng.integers(0, 5))]
        name = f"{REGION_NAMES[region_idx % len(REGION_NAMES)]}第{i + 1}{'中医' if htype == 'tcm' else ''}医院"
        hospitals.append({"hospital_id": f"H{330000 + i + 1:06d}", "hospital_name": name, "level": level,
                          "hospital_type": htype, "region_code": region_codes[region_idx]})
    if not any(h["level"] == 3 for h in hospitals):
        hospitals[0]["level"] = 3
    return hospitals


def _catalogue_codes() -> set[str]:
    """Codes of the terminology catalogue in use, so injected 'unknown' codes are really unknown."""
    folders = []
    shared = config.shared_dir()
    if shared is not None:
        folders.append(shared / "terminology")
    folders.append(config.PACKAGE_DIR / "sample_scheme" / "terminology")
    codes: set[str] = set()
    for folder in folders:
        for f in folder.glob("*.txt") if folder.is_dir() else []:
            with f.open(encoding="utf-8") as handle:
                for line in handle:
                    parts = line.split()
                    codes.update(parts[:2] if "variant" in f.name else parts[:1])
    return codes


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" if c >= 0 else f"-{(-c) // 100}.{(-c) % 100:02d}" for c in cents.tolist()]


def _draw(rng: np.random.Generator, arrays: list[np.ndarray], idx: np.ndarray) -> list[str]:
    """One code per row from the array chosen by idx."""
    out = []
    u = rng.random(len(idx))
    for i, k in enumerate(idx.tolist()):
        arr = arrays[k]
        out.append(str(arr[int(u[i] * len(arr))]))
    return out


def generate_year(year: int, n: int, first_year: int, templates: list[Template], hospitals: list[dict],
                  pack: Pack, rng: np.random.Generator) -> list[list[str]]:
    """Rows (as lists of strings in contract order) of one settlement year, sorted by settle date."""
    levels = np.array([h["level"] for h in hospitals])
    volume = np.array([{1: 1.0, 2: 2.2, 3: 4.5}[lv] for lv in levels])
    hosp = rng.choice(len(hospitals), size=n, p=volume / volume.sum())
    lvl = levels[hosp]

    # case mix per hospital level: heavier (surgical, costly) ADRGs weigh more at level 3
    base_w = np.array([t.weight for t in templates])
    severity = np.array([t.cost for t in templates])
    sev_rank = severity.argsort().argsort() / max(len(templates) - 1, 1)
    tmpl = np.empty(n, dtype=np.int64)
    for lv in (1, 2, 3):
        mask = lvl == lv
        w = base_w * np.where(np.array([t.kind for t in templates]) == "medical", 1.0, LEVEL_MIX[lv])
        w = w * (1 + (LEVEL_MIX[lv] - 1) * sev_rank)
        tmpl[mask] = rng.choice(len(templates), size=int(mask.sum()), p=w / w.sum())

    kinds = np.array([templates[k].kind for k in tmpl])
    sex = np.where(rng.random(n) < 0.5, 1, 2)
    for k, t in enumerate(templates):
        if t.sex:
            sex[tmpl == k] = t.sex
    age = np.clip(rng.gamma(4.0, 13.0, n).astype(int), 1, 98)
    age_days = np.full(n, -1)
    weight = np.full(n, -1)
    is_p = np.array([templates[k].newborn is not None for k in tmpl])
    pregnant = np.array([templates[k].mdc == "O" for k in tmpl])
    age[pregnant] = rng.integers(19, 44, int(pregnant.sum()))
    if is_p.any():
        age[is_p] = 0
        infant = np.array([templates[k].newborn == "infant" for k in tmpl]) & is_p
        age_days[is_p] = rng.integers(0, 28, int(is_p.sum()))
        age_days[infant] = rng.integers(29, 365, int(infant.sum()))
        neo = is_p & ~infant
        weight[neo] = np.clip(rng.normal(3300, 420, int(neo.sum())), 2500, 4800).astype(int)
        for k, t in enumerate(templates):
            if t.weight_band:
                m = tmpl == k
                weight[m] = rng.integers(t.weight_band[0], t.weight_band[1] + 1, int(m.sum()))

    # secondary diagnoses: comorbidities rise with age; MCC/CC codes from the scheme's own lists
    mcc = np.array(sorted(pack.mcc)) if pack.mcc else np.array(["J96.000"])
    cc = np.array(sorted(pack.cc)) if pack.cc else np.array(["E11.900"])
    common = np.array(sorted({c for m in pack.mdcs.values() if m.code not in "APYZO" for c in m.principal_dx}))
    n_sec = np.minimum(rng.poisson(0.4 + age / 35.0), 8)
    p_mcc = np.clip(0.04 + age / 900.0, 0, 0.2) * np.where(lvl == 3, 1.5, 1.0)
    has_mcc = rng.random(n) < p_mcc
    has_cc = rng.random(n) < (0.18 + age / 400.0)
    cc_factor = np.where(has_mcc, 1.55, np.where(has_cc, 1.2, 1.0))

    year_growth = 1.045 ** (year - first_year)
    t_cost = np.array([templates[k].cost for k in tmpl])
    t_los = np.array([templates[k].los for k in tmpl])
    noise = rng.lognormal(0.0, 0.42, n)
    tail = np.where(rng.random(n) < 0.02, rng.uniform(2.5, 6.0, n), 1.0)      # heavy right tail
    low = np.where(rng.random(n) < 0.03, rng.uniform(0.15, 0.45, n), 1.0)     # short, cheap stays
    lvl_cost = np.vectorize(LEVEL_COST.get)(lvl)
    cost = t_cost * cc_factor * lvl_cost * year_growth * noise * tail * low
    los = np.maximum(1, np.round(t_los * np.sqrt(cc_factor) * rng.lognormal(0, 0.45, n) * np.sqrt(tail * low)))
    long_stay = np.array([templates[k].long_stay for k in tmpl])
    los[long_stay] = rng.integers(20, 150, int(long_stay.sum()))
    cost[long_stay] = los[long_stay] * rng.uniform(280, 520, int(long_stay.sum())) * year_growth
    los = los.astype(int)
    total_cents = np.maximum(np.round(cost * 100), 30000).astype(np.int64)

    # the 14 fee categories, in cents, summing exactly to the total
    fees = np.zeros((n, 14), dtype=np.int64)
    for kind, shares in FEE_SHARES.items():
        m = kinds == kind
        if not m.any():
            continue
        alpha = np.array(shares) / sum(shares) * 40
        s = rng.dirichlet(alpha, int(m.sum()))
        part = np.floor(s * total_cents[m, None]).astype(np.int64)
        part[np.arange(part.shape[0]), s.argmax(axis=1)] += total_cents[m] - part.sum(axis=1)
        fees[m] = part
    insurance = np.where(rng.random(n) < 0.55, "310", "390")
    ratio = np.where(insurance == "310", rng.uniform(0.78, 0.9, n), rng.uniform(0.55, 0.7, n))
    deductible = np.where(lvl == 3, 120000, np.where(lvl == 2, 80000, 40000))
    fund_cents = np.clip(np.round((total_cents - deductible) * ratio), 0, None).astype(np.int64)

    discharge_way = rng.choice([1, 2, 3, 4, 9], size=n, p=[0.93, 0.025, 0.01, 0.025, 0.01])
    p_death = 0.004 * np.where(has_mcc, 6, 1) * np.where(age > 75, 3, 1)
    discharge_way[rng.random(n) < p_death] = 5

    # settlement dates spread over the year (a little busier in spring and autumn)
    day_of_year = rng.integers(0, 365 if year % 4 else 366, n)
    settle = np.array([(date(year, 1, 1) - EPOCH).days]) + day_of_year
    settle.sort()
    gap = rng.integers(0, 4, n)
    discharge = np.maximum(settle - gap, (date(year, 1, 1) - EPOCH).days)
    admit = discharge - los + np.where(rng.random(n) < 0.02, 1, 0) * (los == 1)
    los_check = np.maximum(discharge - admit, 1)
    los = los_check

    vent = np.full(n, -1)
    vent_tmpl = np.array([templates[k].ventilation for k in tmpl])
    vent[vent_tmpl] = rng.integers(96, 400, int(vent_tmpl.sum()))
    icu = (~vent_tmpl) & (rng.random(n) < 0.03)
    vent[icu] = rng.integers(2, 90, int(icu.sum()))

    principal = _draw(rng, [t.dx for t in templates], tmpl)
    zmask = np.array([bool(templates[k].regions) for k in tmpl])
    male_only, female_only = _sex_specific(pack)
    rows: list[list[str]] = []
    patients = max(int(n * 0.75), 1)
    patient_no = rng.integers(0, patients, n)
    sec_pick = rng.random((n, 8))
    px_pick = rng.random((n, 4))
    dept = {m: f"{ord(m) - 64:02d}" for m in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    for i in range(n):
        t = templates[tmpl[i]]
        dx = [principal[i]]
        if zmask[i] and len(t.regions) >= 2:
            a, b = rng.choice(len(t.regions), 2, replace=False)
            dx = [str(t.regions[a][int(sec_pick[i, 0] * len(t.regions[a]))]),
                  str(t.regions[b][int(sec_pick[i, 1] * len(t.regions[b]))])]
        # a principal diagnosis that only the male (MDCM) or female (MDCN, MDCO) lists hold decides the sex
        if dx[0] in male_only:
            sex[i] = 1
        elif dx[0] in female_only or dx[0].startswith("O"):
            sex[i] = 2
        if dx[0].startswith("P") and age[i] != 0:   # perinatal conditions are diagnosed in infants
            age[i], age_days[i] = 0, int(sec_pick[i, 7] * 28)
            weight[i] = 2500 + int(sec_pick[i, 6] * 1800)
        for j in range(int(n_sec[i])):
            pool = common
            if j == 0 and has_mcc[i]:
                pool = mcc
            elif j <= 1 and has_cc[i]:
                pool = cc
            code = str(pool[int(sec_pick[i, j] * len(pool))])
            if code not in dx:
                dx.append(code)
        px = [str(sec[int(px_pick[i, j % 4] * len(sec))]) for j, sec in enumerate(t.px_sections[:4])]
        h = hospitals[hosp[i]]
        fee_strs = _money(fees[i])
        ad = age_days[i]
        rows.append([
            f"{year}{i + 1:07d}", h["hospital_id"], h["region_code"], str(insurance[i]),
            f"P{(patient_no[i] * 2654435761 + year) % 10**10:010d}", str(sex[i]), str(age[i]),
            str(ad) if ad >= 0 else "", str(weight[i]) if weight[i] >= 0 and ad <= 28 else "",
            (EPOCH + timedelta(days=int(admit[i]))).isoformat(),
            (EPOCH + timedelta(days=int(discharge[i]))).isoformat(), str(los[i]), str(discharge_way[i]),
            dept.get(t.mdc, "00") + f"{int(lvl[i])}", "|".join(dx), "|".join(dict.fromkeys(px)),
            str(vent[i]) if vent[i] >= 0 else "",
            _money(total_cents[i:i + 1])[0], _money(fund_cents[i:i + 1])[0], *fee_strs,
            (EPOCH + timedelta(days=int(settle[i]))).isoformat(),
        ])
    return rows


COL = {c: i for i, c in enumerate(contract.CASE_COLUMNS)}


def _sex_specific(pack: Pack) -> tuple[set[str], set[str]]:
    """Principal diagnoses that only a sex-specific MDC accepts (a case of the other sex cannot group)."""
    other = {c for m in pack.mdcs.values() if m.code not in "AMNOPYZ" for c in m.principal_dx}
    male = set(pack.mdcs["M"].principal_dx) if "M" in pack.mdcs else set()
    female = set(pack.mdcs["N"].principal_dx) if "N" in pack.mdcs else set()
    female |= set(pack.mdcs["O"].principal_dx) if "O" in pack.mdcs else set()
    return male - other - female, female - other - male


def _inject(rows: list[list[str]], kind: str, i: int, rng: np.random.Generator, ctx: dict) -> tuple[str, str]:
    """Apply one defect to rows[i] in place; returns (column, detail)."""
    r = rows[i]
    if kind == "missing_required":
        col = ["sex", "age_years", "admit_date", "discharge_date", "dx_codes", "total_cost", "settle_date",
               "los_days", "discharge_way", "insurance_type", "patient_id", "region_code",
               "case_id"][int(rng.integers(0, 13))]
        r[COL[col]] = ""
        return col, "value removed"
    if kind == "unknown_dx_code":
        r[COL["dx_codes"]] += "|" + ctx["unknown_dx"]
        return "dx_codes", ctx["unknown_dx"]
    if kind == "unknown_px_code":
        r[COL["px_codes"]] = "|".join(filter(None, [r[COL["px_codes"]], ctx["unknown_px"]]))
        return "px_codes", ctx["unknown_px"]
    if kind == "sex_dx_conflict":
        code, sex = ctx["sex_codes"][int(rng.integers(0, len(ctx["sex_codes"])))]
        dx = r[COL["dx_codes"]].split("|")
        r[COL["dx_codes"]] = "|".join([code, *dx[1:]])
        r[COL["sex"]] = "2" if sex == 1 else "1"
        return "sex", f"principal {code} is for sex {sex}"
    if kind == "discharge_before_admit":
        a, d = r[COL["admit_date"]], r[COL["discharge_date"]]
        if a == d:
            d = (date.fromisoformat(a) - timedelta(days=2)).isoformat()
        r[COL["admit_date"]], r[COL["discharge_date"]] = d, a
        return "discharge_date", "discharge before admission"
    if kind == "los_mismatch":
        r[COL["los_days"]] = str(int(r[COL["los_days"]]) + 5)
        return "los_days", "los 5 days longer than the dates"
    if kind == "fee_sum_mismatch":
        fee = COL["fee_other"]
        r[fee] = str(Decimal(r[fee]) + Decimal("10.00"))
        return "fee_other", "fees exceed total by 10.00"
    if kind == "fund_paid_exceeds_total":
        r[COL["fund_paid"]] = str(Decimal(r[COL["total_cost"]]) + Decimal("100.00"))
        return "fund_paid", "fund_paid above total_cost"
    if kind == "negative_money":
        reg, other = COL["fee_registration"], COL["fee_other"]
        r[other] = str(Decimal(r[other]) + Decimal(r[reg]) + Decimal("5.00"))
        r[reg] = "-5.00"
        return "fee_registration", "negative fee (sum kept)"
    if kind == "impossible_date":
        y = r[COL["admit_date"]][:4]
        r[COL["admit_date"]] = f"{y}-02-30"
        return "admit_date", "February 30th"
    if kind == "non_numeric_amount":
        r[COL["total_cost"]] = "一万二千元"
        return "total_cost", "not a number"
    if kind == "settle_before_discharge":
        r[COL["settle_date"]] = (date.fromisoformat(r[COL["discharge_date"]]) - timedelta(days=3)).isoformat()
        return "settle_date", "settled 3 days before discharge"
    if kind == "newborn_missing_weight":
        r[COL["age_years"]], r[COL["age_days"]], r[COL["birth_weight_g"]] = "0", "5", ""
        return "birth_weight_g", "newborn (5 days) without birth weight"
    if kind == "invalid_principal_dx":
        dx = r[COL["dx_codes"]].split("|")
        r[COL["dx_codes"]] = "|".join([ctx["invalid_principal"], *dx])
        return "dx_codes", f"{ctx['invalid_principal']} cannot be a principal diagnosis"
    if kind == "unknown_hospital":
        r[COL["hospital_id"]] = "H999999"
        return "hospital_id", "not in the registry"
    if kind == "bad_sex_value":
        r[COL["sex"]] = "3"
        return "sex", "sex must be 1 or 2"
    raise ValueError(kind)


def _defect_context(pack: Pack, rng: np.random.Generator) -> tuple[dict, list[str]]:
    known = _catalogue_codes() | set(pack.names) | set(pack.mcc) | set(pack.cc)
    ctx: dict = {}
    for i in range(1000):
        cand = f"Q{89 + i % 10}.{900 + i % 100}x{900 + i:03d}"
        if cand not in known:
            ctx["unknown_dx"] = cand
            break
    for i in range(1000):
        cand = f"99.{9900 + i % 100}x{900 + i:03d}"
        if cand not in known:
            ctx["unknown_px"] = cand
            break
    male_only, female_only = _sex_specific(pack)
    sex_codes = [(c, 1) for c in sorted(male_only)[:50]] + [(c, 2) for c in sorted(female_only)[:50]]
    ctx["sex_codes"] = sex_codes
    invalid = sorted(c for c in known if c[:3] in ("B95", "B96", "B97", "B98") and len(c) >= 7)
    ctx["invalid_principal"] = invalid[0] if invalid else None
    kinds = [k for k in DEFECT_KINDS
             if not (k == "sex_dx_conflict" and not sex_codes)
             and not (k == "invalid_principal_dx" and not invalid)]
    return ctx, kinds


def _budget(rows_by_region_year: dict, region: str, year: int, growth: float) -> str:
    fund = rows_by_region_year.get((region, year), 0)
    return f"{Decimal(int(fund * growth)) / 100:.2f}"


def _check_arguments(cases_per_year: int, hospitals: int, regions: int, seed: int, defect_rate: float) -> None:
    """UserError naming the option when a generate argument is out of range (never numpy's error)."""
    if cases_per_year < 1:
        raise UserError(f"--cases-per-year must be at least 1 (got {cases_per_year})")
    if seed < 0:
        raise UserError(f"--seed must be 0 or more (got {seed})")
    if not 0 <= defect_rate < 0.5:
        raise UserError("--defect-rate must be in [0, 0.5)")
    if hospitals < 3 or regions < 1 or regions > len(REGION_NAMES):
        raise UserError(f"need at least 3 hospitals and 1–{len(REGION_NAMES)} regions")


def generate_city(out: Path, years: list[int], cases_per_year: int = 20000, hospitals: int = 24,
                  regions: int = 2, seed: int = 42, defect_rate: float = 0.01,
                  scheme_dir: str | Path | None = None, split: str = "month", progress: bool = False) -> dict:
    """Write a synthetic city to `out`; returns a summary (files, counts, timings)."""
    started = time.monotonic()
    _check_arguments(cases_per_year, hospitals, regions, seed, defect_rate)
    if scheme_dir is None:
        version, folder = config.default_scheme()
    else:
        folder = Path(scheme_dir)
        version = folder.name
    pack = load_pack(folder, version)
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("cases_*.csv"):   # a new city replaces an earlier one in the same folder
        stale.unlink()
    templates = build_templates(pack, rng)
    hosp = _make_hospitals(hospitals, regions, rng)
    ctx, kinds = _defect_context(pack, rng)

    files: dict[str, int] = {}
    defects: list[list[str]] = []
    fund_by_region_year: dict[tuple[str, int], int] = {}
    big_cases: list[tuple[str, str, int]] = []
    for year in years:
        t0 = time.monotonic()
        rows = generate_year(year, cases_per_year, years[0], templates, hosp, pack, rng)
        for r in rows:
            key = (r[COL["region_code"]], year)
            fund_by_region_year[key] = fund_by_region_year.get(key, 0) + int(Decimal(r[COL["fund_paid"]]) * 100)
        # a few special-review candidates: the costliest cases of the year
        costs = np.array([float(r[COL["total_cost"]]) for r in rows])
        for i in np.argsort(costs)[-max(3, len(rows) // 2000):]:
            big_cases.append((rows[i][COL["hospital_id"]], rows[i][COL["case_id"]], int(costs[i])))

        n_def = int(round(len(rows) * defect_rate))
        victims = rng.choice(len(rows), size=min(n_def, len(rows)), replace=False) if n_def else []
        marks: dict[int, tuple[str, str, str]] = {}
        dup_rows: list[int] = []
        for j, i in enumerate(sorted(int(v) for v in victims)):
            kind = kinds[j % len(kinds)]
            if kind == "duplicate_row":
                dup_rows.append(i)
                continue
            column, detail = _inject(rows, kind, i, rng, ctx)
            marks[i] = (kind, column, detail)
        dup_set = set(dup_rows)
        groups: dict[str, list[tuple[list[str], tuple | None]]] = {}
        for i, row in enumerate(rows):
            entries = [(row, marks.get(i))]
            if i in dup_set:   # the copy right after the original is the defect
                entries.append((list(row), ("duplicate_row", "case_id", "same row twice in the file")))
            settle = row[COL["settle_date"]]
            month_key = settle[:7] if settle[:4].isdigit() and len(settle) >= 7 else f"{year}-12"
            if split == "year":
                name = f"cases_{year}.csv"
            elif split == "hospital-month":
                name = f"cases_{row[COL['hospital_id']] or 'unknown'}_{month_key.replace('-', '_')}.csv"
            else:
                name = f"cases_{month_key.replace('-', '_')}.csv"
            groups.setdefault(name, []).extend(entries)
        for name, entries in groups.items():
            path = out / name
            started_before = name in files
            with path.open("a" if started_before else "w", newline="", encoding="utf-8") as handle:
                w = csv.writer(handle, lineterminator="\n")
                if not started_before:
                    w.writerow(contract.CASE_COLUMNS)
                    files[name] = 0
                for row, m in entries:
                    w.writerow(row)
                    files[name] += 1
                    if m:
                        defects.append([name, str(files[name]), row[COL["hospital_id"]], row[COL["case_id"]], *m])
        if progress:
            print(f"  {year}: {len(rows)} cases in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)

    _write(out / "hospitals.csv", contract.FILE_KINDS["hospitals"],
           [[h[c] for c in contract.FILE_KINDS["hospitals"]] for h in hosp])
    region_codes = sorted({h["region_code"] for h in hosp})
    _write(out / "budgets.csv", contract.FILE_KINDS["budgets"],
           [[r, str(y), _budget(fund_by_region_year, r, y, 1.03)] for y in years for r in region_codes])
    scores = [[h["hospital_id"], str(y), f"{float(np.clip(rng.normal(84, 8), 55, 99)):.1f}"]
              for y in years for h in hosp]
    _write(out / "assessment_scores.csv", contract.FILE_KINDS["assessment_scores"], scores)
    reviews = []
    for n_review, (hid, cid, cost) in enumerate(big_cases):
        approved = "" if n_review % 4 == 3 else f"{cost / 100 * float(rng.uniform(0.8, 1.0)):.4f}"
        reason = "专家评审不予通过" if not approved else "高额费用病例，专家评审通过"
        reviews.append([hid, cid, approved, reason])
    _write(out / "special_review.csv", contract.FILE_KINDS["special_review"], reviews)
    _write(out / "defects.csv", ("file", "source_row", "hospital_id", "case_id", "defect_kind", "column", "detail"),
           defects)
    total = sum(files.values())
    return {"out": str(out), "scheme": pack.version, "years": years, "hospitals": len(hosp),
            "regions": region_codes, "case_files": len(files), "cases": total, "defects": len(defects),
            "seconds": round(time.monotonic() - started, 2)}


def _write(path: Path, header, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def format_summary(s: dict) -> str:
    """One paragraph on what generate_city wrote."""
    rate = s["cases"] / s["seconds"] * 60 if s["seconds"] else 0
    return (f"generated {s['cases']} case rows ({s['defects']} with injected defects, listed in defects.csv) "
            f"in {s['case_files']} files for {len(s['years'])} years, {s['hospitals']} hospitals in regions "
            f"{', '.join(s['regions'])}, scheme {s['scheme']}: {s['out']} "
            f"({s['seconds']}s, {rate:,.0f} cases/min)")
