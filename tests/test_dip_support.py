"""Helpers for the DIP tests: catalogue workbooks in the 平顶山 layout, parameter files, generated DIP cases
(no tests here)."""
from __future__ import annotations

import csv
import random
from decimal import Decimal
from pathlib import Path

GROUPS_HEADER = ("序号", "病种编码", "病种类型（1.核心病种；2.综合病种）", "主诊断代码", "主诊断名称", "主要操作代码",
                 "主要操作名称", "其他操作代码", "其他操作名称", "病种分值")
STATS_HEADER = ("ID", "OPER_TYPE", "DIP_CODE", "`YEAR`", "WEIGHT_SCORE", "SERIOUS_COEF", "ALLOCATE_WEIGHT_SCORE",
                "DIP_AVG_FEE", "REGION_AVE_VAL", "THIRD_DIP_COST", "AVG_IPT_DAYS", "DISCUSS_FLAG", "UPLMT_REDC_MAG",
                "WEIGHT", "REMARK", "TASK_ID", "CV", "BILL_COUNT", "INVERT_FLAG", "THIRD_DIP_CODE")
TOKENS = ("SS", "ZLXCZ", "ZDXCZ", "BSZL")


def code_parts(code: str) -> tuple[str, str, list[str], bool]:
    """(dx key, main procedure, related procedures, comprehensive) of a catalogue code."""
    head, _, tail = code.partition(":")
    if tail in TOKENS:
        return head, "", [], True
    main, _, rest = tail.partition("_")
    return head, main, rest.split("+") if rest else [], False


def write_catalogue(path: Path, rows: list[tuple[str, Decimal]], reference_mean: Decimal = Decimal("5000")) -> Path:
    """A workbook in the 平顶山 layout: one 目录 row and one 中间结果 row per (code, score)."""
    import openpyxl

    wb = openpyxl.Workbook()
    stats = wb.active
    stats.title = "中间结果"
    stats.append(STATS_HEADER)
    groups = wb.create_sheet("目录")
    groups.append(GROUPS_HEADER)
    for i, (code, score) in enumerate(rows, start=1):
        head, main, related, comprehensive = code_parts(code)
        mean = (Decimal(score) * reference_mean / 1000).quantize(Decimal("0.000001"))
        stats.append((i, "新增", code, 2024, float(score), 1, float(score), float(mean), float(reference_mean),
                      float(mean), 8.5, 0, 3, float(score) / 1000, None, 1, 0.3, 40, None, code))
        groups.append((i, code, "2" if comprehensive else "1", head, "", main.upper(), "",
                       ",".join(r.upper() for r in related), "", "=VLOOKUP(B:B,中间结果!C:T,5,FALSE)"))
    wb.save(path)
    return path


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> Path:
    """A CSV input file with a header row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def dip_parameters(folder: Path, rows: list[tuple[int, str, str]], name: str = "dip_parameters.csv") -> Path:
    """dip_parameters.csv with (settlement_year, parameter, value) rows."""
    return write_csv(folder / name, ("settlement_year", "parameter", "value"), rows)


def generated_cases(catalogue: list[dict], dx_codes: list[str], px_codes: list[str], n: int,
                    seed: int = 7) -> list[dict]:
    """Cases shaped on a catalogue's groups, each perturbed at the boundaries §2 and §4 name: a related
    procedure removed or added, a simple or an unknown code, repeats, lower-case x, reordering, a conservative
    variant, a dx4 without a group. dx_codes / px_codes: the 医保版 codes as the terminology writes them."""
    rng = random.Random(seed)
    by_dx4: dict[str, list[str]] = {}
    for c in dx_codes:
        by_dx4.setdefault(c[:5].upper(), []).append(c)
    by_dx3: dict[str, list[str]] = {}
    for c in dx_codes:
        by_dx3.setdefault(c[:3].upper(), []).append(c)
    simple = [c for c in px_codes if c[:2] in ("87", "88", "89", "99", "93")]
    others = [c for c in px_codes if c[:1] in "0123456789" and int(c[:2]) <= 86]
    cases = []
    for i in range(n):
        g = rng.choice(catalogue)
        pool = by_dx4.get(g["dx_key"]) if g["group_type"] != "comprehensive" else by_dx3.get(g["dx_key"])
        dx = rng.choice(pool) if pool else rng.choice(dx_codes)
        px = ([g["main_px"]] if g.get("main_px") else []) + [r for r in (g.get("related_px") or "").split("+") if r]
        if g["group_type"] == "comprehensive" and rng.random() < 0.7:
            px = [rng.choice(others)] + ([rng.choice(px_codes)] if rng.random() < 0.5 else [])
        roll = rng.random()
        if roll < 0.10 and len(px) > 1:
            px.pop(rng.randrange(1, len(px)))                       # a related procedure missing
        elif roll < 0.20:
            px.append(rng.choice(others))                           # an extra related procedure
        elif roll < 0.28:
            px.insert(rng.randrange(0, len(px) + 1), rng.choice(simple))   # a simple procedure anywhere
        elif roll < 0.33:
            px.insert(rng.randrange(0, len(px) + 1), "ZZ.9999")     # outside the catalogue
        elif roll < 0.38 and px:
            px.append(px[0])                                        # a repeat
        elif roll < 0.44 and len(px) > 1:
            px[1:] = reversed(px[1:])                               # related in another order
        elif roll < 0.50:
            px = []                                                 # conservative
        elif roll < 0.54 and len(px) > 1:
            px[0], px[1] = px[1], px[0]                             # main and related swapped
        elif roll < 0.58:
            dx = rng.choice(dx_codes)                               # another diagnosis
        if rng.random() < 0.15:
            dx = dx.lower() if rng.random() < 0.5 else dx.upper()
        if rng.random() < 0.1:
            px = [p.lower() for p in px]
        secondary = [rng.choice(dx_codes)] if rng.random() < 0.5 else []
        cases.append({"case_id": f"G{i:05d}", "dx_codes": "|".join([dx, *secondary]), "px_codes": "|".join(px)})
    return cases
