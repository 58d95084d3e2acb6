"""Independent DIP (按病种分值付费) test oracle, version 1.

A plain, readable reference implementation of /work/shared/docs/dip-spec.md §2, §3, §4, §5, §6 and the §10
statistics marts (dip_group_year_stats, dip_grouping_quality, dip_hospital_performance), written from the
specification text alone (dip-spec.md, settlement-spec.md §1, §2, §4, §7, §8, the input/output contracts, the
terminology and scheme READMEs). It imports nothing from drgflow and reads no production code.

Python 3.11, standard library + openpyxl (only for the xlsx import). Money and scores are Decimal; rounding is
ROUND_HALF_UP and happens only where the spec says "round". Places where the spec leaves a decision open are
marked `# CHOICE:`; README_dip.md lists them.

Public interface:
    load_terminology(shared_dir) -> Terminology
    load_or_list(scheme_dir) -> set[str]
    load_procedure_class(path) -> dict[str, str]
    import_catalogue(xlsx_path, year, term, basic_codes=()) -> list[dict]      (raises CatalogueError)
    catalogue_row(code, group_type, score, ...) -> dict                         (a row from a §3.2 code)
    build_local_catalogue(year, cases, hospitals, params, term, or_list, procedure_class=None) -> list[dict]
    group_case(case, catalogue, term, or_list, procedure_class=None, params=None) -> dict
    level_coefficient(sums_by_year, weights, ...) -> (ratios, raw, coefficient)
    aux_coefficient(costs_in, costs_out, ...) -> dict
    compute(year, cases, hospitals, catalogue, params=None, term=None, or_list=None, procedure_class=None,
            basic_codes=()) -> dict[str, list[dict]]
"""
from __future__ import annotations

import csv
import datetime as _dt
import decimal
import math
import os
import pathlib
import re
import warnings
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

HERE = pathlib.Path(__file__).resolve().parent
SHARED = pathlib.Path(os.environ.get("DRGFLOW_SHARED") or "/work/shared")

# Enough digits that no comparison at a boundary (uplift exactly 10 %, CV reduction exactly 20 %) is decided by
# the arithmetic precision.
_CTX = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)

TOKENS = {"surgery": "SS", "therapeutic": "ZLXCZ", "diagnostic": "ZDXCZ", "conservative": "BSZL"}
TOKEN_CLASS = {v: k for k, v in TOKENS.items()}
SUBTYPES = ("neonate", "infant", "child_1_6", "child_7_17", "elderly_65", "death", "abnormal_discharge")


def _q(x: Decimal, places: int) -> Decimal:
    """round(x, places), half away from zero (dip-spec §12)."""
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _dec(v) -> Decimal | None:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    s = str(v).strip()
    return Decimal(s) if s else None


def _int(v) -> int | None:
    if v is None:
        return None
    s = str(v).strip()
    return int(Decimal(s)) if s else None


# --------------------------------------------------------------------------------------------------------------
# Parameters (dip-spec §11; settlement-spec §7 for the base period)
# --------------------------------------------------------------------------------------------------------------
SIMPLE_PX_PREFIXES = ("87 88.0 88.1 88.2 88.3 88.7 88.9 89 90 91 92.0 92.1 93 94 96.0 96.1 96.2 96.3 96.4 96.5 "
                      "96.6 99.0 99.1 99.2 99.3 99.4 99.5 99.8 99.9 38.93 57.94 57.95").split()
SIMPLE_PX_EXCEPTIONS = "87.5 93.9 96.04 99.10 99.20 99.25 99.28".split()
DIAGNOSTIC_SUBCATEGORIES = ("00.2 01.1 03.3 04.1 05.1 06.1 07.1 08.1 09.1 10.2 11.2 12.2 14.1 15.0 16.2 18.1 20.3 "
                            "21.2 22.1 24.1 25.0 26.1 27.2 28.1 29.1 31.4 33.2 34.2 37.2 38.2 40.1 41.3 42.2 44.1 "
                            "45.1 45.2 48.2 49.2 50.1 51.1 52.1 54.2 55.2 56.3 57.3 58.2 59.2 60.1 61.1 62.1 63.0 "
                            "64.1 65.1 66.1 67.1 68.1 70.2 71.1 76.1 77.4 78.8 80.2 80.3 83.2 85.1 86.1 92.0 92.1 "
                            "93.0 94.0 94.1 95.0 95.1 95.2").split()

DEFAULTS = {
    "dip_regions": "",
    "core_min_n": "15", "comp_min_n": "15", "related_split": "true", "related_min_uplift": "0.10",
    "simple_px_prefixes": "|".join(SIMPLE_PX_PREFIXES),
    "simple_px_exceptions": "|".join(SIMPLE_PX_EXCEPTIONS),
    "diagnostic_subcategories": "|".join(DIAGNOSTIC_SUBCATEGORIES),
    "or_list_scheme": "CHS-DRG-1.1",
    "score_method": "average", "reference_group": "", "fixed_mean_cost": "",
    "base_years": "3", "base_weights": "1|2|7", "stats_max_los": "60",
    "trim_method": "percentile", "trim_low_pct": "2.5", "trim_high_pct": "97.5", "trim_min_n": "20",
    "coef_method": "computed", "coef_strata": "level", "coef_min_n": "30", "coef_min": "0.7", "coef_max": "1.3",
    "fixed_level_coef": "1:1.0|2:1.0|3:1.0",
    "aux_enabled": "true", "aux_min_group_n": "50", "aux_min_subtype_n": "10", "aux_min_cv_reduction": "0.20",
    "aux_coef_min": "0.5", "aux_coef_max": "3.0",
    "deviation_rule": "dip2", "pv_reference": "base", "pv_reference_value": "",
    "low_ratio": "0.5", "dip2_high_multiple": "2", "dip3_high_multiple": "2",
    "bed_day_enabled": "true",
}


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple, set, frozenset)):
        return "|".join(str(x) for x in v)
    if isinstance(v, dict):
        return "|".join(f"{k}:{x}" for k, x in v.items())
    return str(v).strip()


class Params:
    """Parameter text values (as in dip_parameters.csv) over the §11 defaults, with typed accessors."""

    def __init__(self, overrides: dict | None = None):
        self.raw = dict(DEFAULTS)
        for k, v in (overrides or {}).items():
            if isinstance(v, Params):
                raise TypeError("nested Params")
            self.raw[k] = _text(v)

    def text(self, k: str) -> str:
        return self.raw.get(k, "")

    def list(self, k: str) -> list[str]:
        return [x.strip() for x in self.text(k).split("|") if x.strip()]

    def int(self, k: str) -> int:
        return int(self.text(k))

    def dec(self, k: str) -> Decimal | None:
        t = self.text(k)
        return Decimal(t) if t else None

    def bool(self, k: str) -> bool:
        t = self.text(k).lower()
        if t not in ("true", "false"):
            raise ValueError(f"parameter {k}: boolean expected, got {t!r}")
        return t == "true"

    def map(self, k: str) -> dict[str, str]:
        out = {}
        for item in self.list(k):
            key, _, val = item.partition(":")
            out[key.strip()] = val.strip()
        return out


def _params(p) -> Params:
    return p if isinstance(p, Params) else Params(p)


# --------------------------------------------------------------------------------------------------------------
# Terminology and the operating-room list
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Terminology:
    dx: set[str]                 # normalised (upper-case) ICD-10 医保版 2.0 codes
    px: set[str]                 # normalised ICD-9-CM-3 医保版 2.0 codes
    dx_map: dict[str, str]       # variant → 医保版, exact trimmed spelling as in the map file
    px_map: dict[str, str]
    _dx_prefixes: set[str] | None = field(default=None, repr=False)

    def norm_dx(self, code: str) -> str:
        # dip-spec §2.1 and §12: the variant map once, exact match on the trimmed code, then upper-case.
        c = code.strip()
        return self.dx_map.get(c, c).strip().upper()

    def norm_px(self, code: str) -> str:
        c = code.strip()
        return self.px_map.get(c, c).strip().upper()

    def dx_prefixes(self) -> set[str]:
        if self._dx_prefixes is None:
            self._dx_prefixes = {c[:k] for c in self.dx for k in range(1, len(c) + 1)}
        return self._dx_prefixes


def _read_code_file(path: pathlib.Path) -> list[list[str]]:
    rows = []
    with path.open(encoding="utf-8-sig") as f:
        for line in f:
            line = line.replace("~~", "").rstrip("\r\n")
            if not line.strip() or line.startswith(" "):
                continue                       # blank lines; class lines with an empty code (terminology README)
            rows.append(line.split())
    return rows


def load_terminology(shared_dir=None) -> Terminology:
    t = pathlib.Path(shared_dir or SHARED) / "terminology"
    dx = {r[0].upper() for r in _read_code_file(t / "icd10_yb2.0.txt")}
    px = {r[0].upper() for r in _read_code_file(t / "icd9cm3_yb2.0.txt")}
    dx_map = {r[0]: r[1] for r in _read_code_file(t / "icd10_yb2.0_variant_map.txt") if len(r) >= 2}
    px_map = {r[0]: r[1] for r in _read_code_file(t / "icd9cm3_yb2.0_variant_map.txt") if len(r) >= 2}
    return Terminology(dx, px, dx_map, px_map)


def load_or_list(scheme_dir=None) -> set[str]:
    """SS_VALID.txt of a scheme pack: the first field of every record, upper-cased (schemes/README.md)."""
    d = pathlib.Path(scheme_dir or SHARED / "schemes" / "CHS-DRG-1.1")
    return {r[0].upper() for r in _read_code_file(d / "SS_VALID.txt")}


_CLASS_WORDS = {"手术": "surgery", "介入治疗": "surgery", "治疗性操作": "therapeutic", "诊断性操作": "diagnostic",
                "surgery": "surgery", "therapeutic": "therapeutic", "diagnostic": "diagnostic"}


def load_procedure_class(path) -> dict[str, str]:
    """procedure_class.csv (code,class) or the terminology class file (`code class`) → {CODE: class word}."""
    path = pathlib.Path(path)
    out: dict[str, str] = {}
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            for r in csv.DictReader(f):
                if (r.get("code") or "").strip():
                    out[r["code"].strip().upper()] = r["class"].strip()
    else:
        for r in _read_code_file(path):
            if len(r) >= 2:
                out[r[0].upper()] = r[1]
    return out


def _norm_class_map(pc: dict | None) -> dict[str, str]:
    if not pc:
        return {}
    out = {}
    for k, v in pc.items():
        w = _CLASS_WORDS.get(str(v).strip())
        if w is None:
            raise ValueError(f"procedure_class: unknown class {v!r} for {k}")
        out[str(k).strip().upper()] = w
    return out


# --------------------------------------------------------------------------------------------------------------
# §2 codes, procedures, class
# --------------------------------------------------------------------------------------------------------------
def _split(s) -> list[str]:
    return [c.strip() for c in str(s or "").split("|") if c.strip()]


def is_simple(code: str, prefixes, exceptions) -> bool:
    """§2.2: the longest prefix of the code found in either list decides."""
    best = None
    for p in list(prefixes) + list(exceptions):
        if code.startswith(p) and (best is None or len(p) > len(best)):
            best = p
    # CHOICE: a string that is in both lists counts as an exception (never happens with the defaults).
    return best is not None and best in prefixes and best not in exceptions


def px_class(code: str, or_list: set[str], pclass: dict[str, str], diag_sub) -> str:
    """§2.3 treatment class of a (normalised) procedure code."""
    if code in pclass:
        return pclass[code]
    two = int(code[:2]) if code[:2].isdigit() else None
    if two is not None and two <= 86 and code in or_list:
        return "surgery"
    if (two is not None and 87 <= two <= 91) or code[:4] in diag_sub:
        return "diagnostic"
    return "therapeutic"


@dataclass
class Canon:
    dx: str | None       # normalised principal diagnosis
    dx4: str | None
    dx3: str | None
    valid: bool
    p: str | None
    r: tuple[str, ...]   # sorted by byte order
    px_dropped: int
    cls: str             # surgery / therapeutic / diagnostic / conservative
    dropped_simple: tuple[str, ...]


def canonical(dx_codes, px_codes, term: Terminology, or_list, pclass, protected: set[str], P: Params) -> Canon:
    dxs = [term.norm_dx(c) for c in _split(dx_codes)]
    # CHOICE: empty entries of dx_codes are skipped; a case without any diagnosis is invalid.
    dx = dxs[0] if dxs else None
    valid = dx is not None and dx in term.dx and len(dx) >= 4 and dx[3] == "."
    dx4 = dx[:5] if dx else None
    dx3 = dx[:3] if dx else None
    prefixes, exceptions = P.list("simple_px_prefixes"), P.list("simple_px_exceptions")
    codes = [term.norm_px(c) for c in _split(px_codes)]          # step 1
    codes = [c for c in codes if c]
    kept = [c for c in codes if c in term.px]                      # step 2
    dropped = len(codes) - len(kept)
    after3, simple = [], []
    for c in kept:                                                  # step 3
        if is_simple(c, prefixes, exceptions) and c not in protected:
            simple.append(c)
        else:
            after3.append(c)
    seen, final = set(), []
    for c in after3:                                                # step 4
        if c not in seen:
            seen.add(c)
            final.append(c)
    p = final[0] if final else None                                 # step 5
    r = tuple(sorted(set(final[1:])))
    cls = "conservative" if p is None else px_class(p, or_list, pclass, set(P.list("diagnostic_subcategories")))
    return Canon(dx, dx4, dx3, valid, p, r, dropped, cls, tuple(simple))


# --------------------------------------------------------------------------------------------------------------
# §3 catalogue rows, grammar, import
# --------------------------------------------------------------------------------------------------------------
class CatalogueError(Exception):
    pass


_DX4 = re.compile(r"^[A-Z][0-9A-Z]{2}\.[0-9A-Z]$")
_DX3 = re.compile(r"^[A-Z][0-9A-Z]{2}$")


def parse_code(code: str) -> dict:
    """§3.2 grammar on a normalised code → group_type (core/comprehensive), dx_key, main_px, related_px, class.
    Raises ValueError when the code does not follow the grammar."""
    c = code.strip().upper()
    if ":" not in c:
        if not _DX4.match(c):
            raise ValueError(f"code {code!r}: a bare code must be a dx4 (5 characters, 4th '.')")
        return {"group_type": "core", "dx_key": c, "main_px": None, "related_px": "", "class": None}
    head, _, tail = c.partition(":")
    if tail in TOKEN_CLASS:
        if not _DX3.match(head):
            raise ValueError(f"code {code!r}: a comprehensive code needs a 3-character dx3")
        return {"group_type": "comprehensive", "dx_key": head, "main_px": None, "related_px": "", "class": tail}
    if not _DX4.match(head):
        raise ValueError(f"code {code!r}: dx4 must be 5 characters with '.' 4th")
    main, sep, rel = tail.partition("_")
    if not main or "+" in main or (sep and not rel):
        raise ValueError(f"code {code!r}: bad procedure part")
    related = rel.split("+") if rel else []
    if any(not x for x in related) or len(set(related)) != len(related):
        raise ValueError(f"code {code!r}: bad related list")
    return {"group_type": "core", "dx_key": head, "main_px": main, "related_px": "+".join(sorted(related)),
            "class": None}


def write_code(dx_key: str, main: str | None, related=(), token: str | None = None) -> str:
    if token:
        return f"{dx_key}:{token}"
    if main is None:
        return dx_key
    rel = sorted(related)
    return f"{dx_key}:{main}" + (("_" + "+".join(rel)) if rel else "")


def catalogue_row(code: str, group_type: str | None = None, score=None, *, year=None, mean_cost=None, n=None,
                  cv=None, mean_los=None, reference_mean=None, source="import", published_code=None,
                  selection_mean=None) -> dict:
    """A dip_catalogue row from a §3.2 code (hand-made catalogues, tests)."""
    parsed = parse_code(code)
    gt = group_type or parsed["group_type"]
    if gt == "basic" and parsed["group_type"] != "core":
        raise ValueError(f"basic group {code} is not a core code")
    if gt != "basic" and gt != parsed["group_type"]:
        raise ValueError(f"group_type {gt} disagrees with code {code}")
    row = {"settlement_year": year, "code": code.strip().upper(),
           "published_code": published_code if published_code is not None else code, "source": source,
           "group_type": gt, "dx_key": parsed["dx_key"], "main_px": parsed["main_px"],
           "related_px": parsed["related_px"], "class": parsed["class"], "score": _dec(score),
           "mean_cost": _dec(mean_cost), "n": n, "cv": _dec(cv), "mean_los": _dec(mean_los),
           "reference_mean": _dec(reference_mean)}
    if selection_mean is not None:
        row["selection_mean"] = _dec(selection_mean)
    return row


def _apply_basic(rows: list[dict], basic_codes, where: str = "dip_basic_groups") -> list[dict]:
    # CHOICE: for a local catalogue too, a listed code that is not a core row of the built catalogue stops the run
    # (§12 "codes must be core rows"), rather than being ignored.
    basic = {str(c).strip().upper() for c in basic_codes or () if str(c).strip()}
    by_code = {r["code"]: r for r in rows}
    for c in sorted(basic):
        r = by_code.get(c)
        if r is None or r["group_type"] not in ("core", "basic"):
            raise CatalogueError(f"{where}: basic code {c} is not a core row of the catalogue "
                                 f"(rule: basic code must be a core row)")
        r["group_type"] = "basic"
    return rows


_MIDDLE_COLS = ("DIP_CODE", "ALLOCATE_WEIGHT_SCORE", "DIP_AVG_FEE", "REGION_AVE_VAL", "BILL_COUNT", "CV",
                "AVG_IPT_DAYS")


def import_catalogue(xlsx_path, year, term: Terminology, basic_codes=()) -> list[dict]:
    """§3.3: import the 平顶山 layout. Every §12 import check raises CatalogueError naming sheet, Excel row, rule."""
    import openpyxl
    with decimal.localcontext(_CTX):
        wb = openpyxl.load_workbook(xlsx_path, read_only=True, data_only=False)
        try:
            for s in ("目录", "中间结果"):
                if s not in wb.sheetnames:
                    raise CatalogueError(f"sheet {s}: missing (row 0, rule: sheet present)")
            cat_rows = list(wb["目录"].iter_rows(values_only=True))
            mid_rows = list(wb["中间结果"].iter_rows(values_only=True))
        finally:
            wb.close()

        def header_index(rows, sheet, names):
            if not rows:
                raise CatalogueError(f"sheet {sheet}, row 1: empty sheet (rule: header row)")
            hdr = [str(h).strip().strip("`") if h is not None else "" for h in rows[0]]
            idx = {}
            for n in names:
                hits = [i for i, h in enumerate(hdr) if h == n] or [i for i, h in enumerate(hdr) if h.startswith(n)]
                if not hits:
                    raise CatalogueError(f"sheet {sheet}, row 1: column {n} missing (rule: header row)")
                idx[n] = hits[0]
            return idx

        ci = header_index(cat_rows, "目录", ("病种编码", "病种类型"))
        mi = header_index(mid_rows, "中间结果", _MIDDLE_COLS)
        yi = next((i for i, h in enumerate(mid_rows[0]) if h is not None and str(h).strip("` ") == "YEAR"), None)
        opt = {}
        for n in ("DISCUSS_FLAG", "UPLMT_REDC_MAG"):
            opt[n] = next((i for i, h in enumerate(mid_rows[0]) if h is not None and str(h).strip() == n), None)

        def cell(row, i):
            return row[i] if i is not None and i < len(row) else None

        # 中间结果: one row per DIP_CODE (exact string); one REGION_AVE_VAL
        mid: dict[str, tuple[int, tuple]] = {}
        ref_vals: dict[Decimal, int] = {}
        for rn, r in enumerate(mid_rows[1:], start=2):
            dc = cell(r, mi["DIP_CODE"])
            if dc is None or str(dc).strip() == "":
                continue               # CHOICE: blank rows are skipped
            dc = str(dc)
            if dc in mid:
                # CHOICE: a duplicated DIP_CODE makes the statistics ambiguous, so it is refused like a 目录 duplicate.
                raise CatalogueError(f"sheet 中间结果, row {rn}: DIP_CODE {dc} repeats row {mid[dc][0]} "
                                     f"(rule: duplicate code)")
            mid[dc] = (rn, r)
            rv = _dec(cell(r, mi["REGION_AVE_VAL"]))
            if rv is None:
                raise CatalogueError(f"sheet 中间结果, row {rn}: REGION_AVE_VAL empty (rule: one REGION_AVE_VAL)")
            rv = _q(rv, 6)
            # CHOICE: every 中间结果 row (also the extra rows) must carry the same M.
            if ref_vals and rv not in ref_vals:
                raise CatalogueError(f"sheet 中间结果, row {rn}: REGION_AVE_VAL {rv} differs from "
                                     f"{next(iter(ref_vals))} (rule: more than one distinct REGION_AVE_VAL)")
            ref_vals.setdefault(rv, rn)
        if not ref_vals:
            raise CatalogueError("sheet 中间结果, row 2: no data rows (rule: one REGION_AVE_VAL)")
        M = next(iter(ref_vals))

        dx_prefixes = term.dx_prefixes()
        out, seen = [], {}
        for rn, r in enumerate(cat_rows[1:], start=2):
            pub = cell(r, ci["病种编码"])
            if pub is None or str(pub).strip() == "":
                continue               # CHOICE: blank rows are skipped
            pub = str(pub)
            # CHOICE: catalogue codes are normalised by trim + upper-case only; the variant maps are for case codes
            # (applying them to 目录 parts would rewrite valid codes, e.g. 00.6500x014 → 00.6501).
            code = pub.strip().upper()
            try:
                parsed = parse_code(code)
            except ValueError as e:
                # CHOICE: a code that does not follow the §3.2 grammar is refused (not in the §12 list, but its
                # group_type and parts cannot be derived).
                raise CatalogueError(f"sheet 目录, row {rn}: {e} (rule: code grammar §3.2)") from None
            if code in seen:
                raise CatalogueError(f"sheet 目录, row {rn}: code {code} repeats row {seen[code]} "
                                     f"(rule: two rows with the same normalised code)")
            seen[code] = rn
            t = cell(r, ci["病种类型"])
            t = str(int(t)) if isinstance(t, (int, float)) else str(t or "").strip()
            want = {"1": "core", "0": "comprehensive", "2": "comprehensive"}.get(t)
            if want != parsed["group_type"]:
                raise CatalogueError(f"sheet 目录, row {rn}: 病种类型 {t!r} but code {pub} is {parsed['group_type']} "
                                     f"(rule: type mismatch)")
            for pxc in ([parsed["main_px"]] if parsed["main_px"] else []) + \
                    (parsed["related_px"].split("+") if parsed["related_px"] else []):
                if pxc not in term.px:
                    raise CatalogueError(f"sheet 目录, row {rn}: procedure {pxc} of {pub} is not in the ICD-9-CM-3 "
                                         f"医保版 2.0 catalogue (rule: procedure code not in 医保版)")
            # CHOICE: the prefix test is applied to the dx3 of comprehensive codes as well as to dx4.
            if parsed["dx_key"] not in dx_prefixes:
                raise CatalogueError(f"sheet 目录, row {rn}: {parsed['dx_key']} of {pub} is not a prefix of any "
                                     f"ICD-10 医保版 2.0 code (rule: dx4 not a prefix of a 医保版 code)")
            if pub not in mid:
                raise CatalogueError(f"sheet 目录, row {rn}: code {pub} has no 中间结果 row with that DIP_CODE "
                                     f"(rule: 目录 code without a 中间结果 row)")
            mrn, m = mid[pub]
            s = _dec(cell(m, mi["ALLOCATE_WEIGHT_SCORE"]))
            if s is None or s <= 0:
                raise CatalogueError(f"sheet 中间结果, row {mrn}: ALLOCATE_WEIGHT_SCORE {s} of {pub} "
                                     f"(rule: S_g must be > 0)")
            s = _q(s, 6)
            if s <= 0:
                raise CatalogueError(f"sheet 中间结果, row {mrn}: ALLOCATE_WEIGHT_SCORE of {pub} rounds to 0 "
                                     f"(rule: S_g must be > 0)")
            mc = _dec(cell(m, mi["DIP_AVG_FEE"]))
            mc = _q(mc, 6) if mc is not None else None
            if mc is not None and abs(mc / M * 1000 - s) > Decimal("0.001"):
                warnings.warn(f"sheet 中间结果, row {mrn}: |m_g/M*1000 - S_g| > 1e-3 for {pub}")
            n = cell(m, mi["BILL_COUNT"])
            row = catalogue_row(code, parsed["group_type"], s, year=year, mean_cost=mc,
                                n=int(n) if n is not None else None, cv=_dec(cell(m, mi["CV"])),
                                mean_los=_dec(cell(m, mi["AVG_IPT_DAYS"])), reference_mean=M, source="import",
                                published_code=pub)
            row["discuss_flag"] = cell(m, opt["DISCUSS_FLAG"])
            row["uplmt_redc_mag"] = cell(m, opt["UPLMT_REDC_MAG"])
            row["data_year"] = cell(m, yi)
            out.append(row)
        return _apply_basic(out, basic_codes)


def import_extra(xlsx_path) -> list[str]:
    """The DIP_CODEs of 中间结果 that are not 目录 codes (dip_catalogue_extra; never matched)."""
    import openpyxl
    wb = openpyxl.load_workbook(xlsx_path, read_only=True)
    try:
        cat = {str(r[1]) for r in list(wb["目录"].iter_rows(values_only=True))[1:] if r[1] is not None}
        mid = [str(r[2]) for r in list(wb["中间结果"].iter_rows(values_only=True))[1:] if r[2] is not None]
    finally:
        wb.close()
    return [c for c in mid if c not in cat]


# --------------------------------------------------------------------------------------------------------------
# §4 grouping
# --------------------------------------------------------------------------------------------------------------
class CatalogueIndex:
    """A catalogue indexed for §4. `protect=False` while a local catalogue is being built (§12)."""

    def __init__(self, rows: list[dict], protect: bool = True):
        self.rows = rows
        self.core: dict[str, list[dict]] = {}
        self.comp: dict[tuple[str, str], dict] = {}
        self.protected: set[str] = set()
        for r in rows:
            if r["group_type"] in ("core", "basic"):
                self.core.setdefault(r["dx_key"], []).append(r)
                if protect and r["main_px"]:
                    self.protected.add(r["main_px"])
                    self.protected.update(x for x in (r["related_px"] or "").split("+") if x)
            else:
                self.comp[(r["dx_key"], r["class"])] = r


def _tie_value(row: dict) -> Decimal:
    # §4 step 2: higher S_g; for a local catalogue the higher selection_mean.
    if row.get("source") == "local" and row.get("selection_mean") is not None:
        return row["selection_mean"]
    return row["score"] if row["score"] is not None else Decimal(0)


def _group(cn: Canon, idx: CatalogueIndex) -> dict:
    # CHOICE: dx4, p_i, r_i, class and px_dropped are filled for every case, invalid ones included (they are defined
    # by §2 independently of validity); reason is null for grouped cases; r_i is '' when R_i is empty (as
    # related_px of dip_catalogue); class is the token of the case's class whatever the status.
    out = {"group_status": None, "reason": None, "code": None, "dx4": cn.dx4, "p_i": cn.p,
           "r_i": "+".join(cn.r), "class": TOKENS[cn.cls], "px_dropped": cn.px_dropped}
    tr = [f"dx={cn.dx} dx4={cn.dx4} p={cn.p} R={'+'.join(cn.r) or '-'} class={TOKENS[cn.cls]} "
          f"px_dropped={cn.px_dropped}" + (f" simple_dropped={'+'.join(cn.dropped_simple)}" if cn.dropped_simple
                                           else "")]
    if not cn.valid:
        out.update(group_status="invalid", reason="invalid_dx")
        tr.append("invalid principal diagnosis")
        out["trace"] = "; ".join(tr)
        return out
    rows = idx.core.get(cn.dx4, [])
    if cn.p is None:
        cands = [r for r in rows if r["main_px"] is None]
    else:
        rs = set(cn.r)
        cands = [r for r in rows if r["main_px"] == cn.p
                 and set(x for x in (r["related_px"] or "").split("+") if x) <= rs]
    if cands:
        def nrel(r):
            return len([x for x in (r["related_px"] or "").split("+") if x])
        best = sorted(cands, key=lambda r: (-nrel(r), -_tie_value(r), r["code"]))
        win = best[0]
        tr.append("candidates=" + ",".join(f"{r['code']}(|R|={nrel(r)},{_tie_value(r)})" for r in best))
        rule = "conservative core row" if cn.p is None else "largest |R_g|"
        if len(best) > 1 and nrel(best[1]) == nrel(win):
            rule += ", tie → higher score" if _tie_value(best[1]) != _tie_value(win) else ", tie → smaller code"
        tr.append(f"rule={rule} → {win['code']}")
        out.update(group_status=win["group_type"], code=win["code"])
        out["trace"] = "; ".join(tr)
        return out
    tr.append("no core/basic candidate")
    row = idx.comp.get((cn.dx3, TOKENS[cn.cls]))
    if row is None and cn.cls != "conservative":
        tr.append(f"no {cn.dx3}:{TOKENS[cn.cls]}")
        row = idx.comp.get((cn.dx3, "BSZL"))
    if row is not None:
        tr.append(f"rule=comprehensive → {row['code']}")
        out.update(group_status="comprehensive", code=row["code"])
    else:
        tr.append("rule=unmatched")
        out.update(group_status="unmatched", reason="no_group")
    out["trace"] = "; ".join(tr)
    return out


def group_case(case: dict, catalogue, term: Terminology, or_list, procedure_class=None, params=None) -> dict:
    """§4 grouping of one case (input-contract dict) against a catalogue (rows or a CatalogueIndex)."""
    with decimal.localcontext(_CTX):
        P = _params(params)
        idx = catalogue if isinstance(catalogue, CatalogueIndex) else CatalogueIndex(list(catalogue))
        cn = canonical(case.get("dx_codes"), case.get("px_codes"), term, or_list,
                       _norm_class_map(procedure_class), idx.protected, P)
        return _group(cn, idx)


# --------------------------------------------------------------------------------------------------------------
# Cases, base period, trimming
# --------------------------------------------------------------------------------------------------------------
FEES = ("fee_bed", "fee_diagnosis", "fee_exam", "fee_lab", "fee_treatment", "fee_surgery", "fee_nursing",
        "fee_material", "fee_western_drug", "fee_herbal", "fee_chinese_patent", "fee_general_treatment",
        "fee_registration", "fee_other")


@dataclass
class Case:
    raw: dict
    hospital_id: str
    case_id: str
    region: str
    year: int
    C: Decimal
    los: int
    age_years: int | None
    age_days: int | None
    discharge_way: int | None
    dx_norm: str | None
    drug: Decimal
    material: Decimal
    level: int | None = None
    hospital_type: str | None = None


def is_bed_day_dx(dx: str | None) -> bool:
    """settlement-spec §4 / §7 / §8: psychiatric F20–F39 and the rest of chapter F, Z50, Z51.5 (prefixes)."""
    if not dx:
        return False
    return dx.startswith("F") or dx.startswith("Z50") or dx.startswith("Z51.5")


def _year_of(settle_date) -> int:
    s = str(settle_date).strip()
    return _dt.date.fromisoformat(s[:10]).year


def prepare_cases(cases, hospitals, term: Terminology, P: Params, year: int) -> list[Case]:
    """Latest version per (hospital_id, case_id) (settlement-spec §1), DIP regions of Y only (§12)."""
    regions = set(P.list("dip_regions"))
    hosp = {str(h["hospital_id"]).strip(): h for h in hospitals or ()}
    latest: dict[tuple[str, str], dict] = {}
    for c in cases:
        # CHOICE: the inputs are accepted cases in load order; a later row of the same key wins.
        latest[(str(c["hospital_id"]).strip(), str(c["case_id"]).strip())] = c
    out = []
    for (h, cid), c in latest.items():
        if str(c["region_code"]).strip() not in regions:
            continue
        dxs = [term.norm_dx(x) for x in _split(c.get("dx_codes"))]
        g = lambda k: _dec(c.get(k)) or Decimal(0)  # noqa: E731
        hr = hosp.get(h)
        out.append(Case(raw=c, hospital_id=h, case_id=cid, region=str(c["region_code"]).strip(),
                        year=_year_of(c["settle_date"]), C=_dec(c["total_cost"]), los=_int(c["los_days"]),
                        age_years=_int(c.get("age_years")), age_days=_int(c.get("age_days")),
                        discharge_way=_int(c.get("discharge_way")), dx_norm=dxs[0] if dxs else None,
                        drug=g("fee_western_drug") + g("fee_chinese_patent") + g("fee_herbal"),
                        material=g("fee_material"),
                        level=_int(hr.get("level")) if hr else None,
                        hospital_type=(str(hr.get("hospital_type") or "").strip() if hr else None)))
    return out


def base_years(P: Params, year: int) -> list[tuple[int, Decimal]]:
    """settlement-spec §2: Y−k … Y−1 with weights oldest → newest."""
    k = P.int("base_years")
    w = [Decimal(x) for x in P.list("base_weights")]
    if len(w) != k:
        raise ValueError(f"base_weights has {len(w)} values for {k} base years")
    return [(year - k + i, w[i]) for i in range(k)]


def percentile_cont(sorted_vals: list[Decimal], p: Decimal) -> Decimal:
    n = len(sorted_vals)
    pos = p * (n - 1)
    lo = int(math.floor(pos))
    frac = pos - lo
    if lo + 1 >= n:
        return sorted_vals[-1]
    return sorted_vals[lo] + (sorted_vals[lo + 1] - sorted_vals[lo]) * frac


def _mean(xs) -> Decimal:
    xs = list(xs)
    return sum(xs, Decimal(0)) / len(xs)


def _sd(xs) -> Decimal | None:
    xs = list(xs)
    if len(xs) < 2:
        return None
    m = _mean(xs)
    return (sum(((x - m) ** 2 for x in xs), Decimal(0)) / (len(xs) - 1)).sqrt()


def trim(costs: list[Decimal], P: Params) -> list[bool]:
    """settlement-spec §2 trimming of one (g, y): a keep-flag per cost (inclusive bounds)."""
    n = len(costs)
    method = P.text("trim_method")
    if n < P.int("trim_min_n") or method == "none":
        return [True] * n
    s = sorted(costs)
    if method == "percentile":
        lo = percentile_cont(s, P.dec("trim_low_pct") / 100)
        hi = percentile_cont(s, P.dec("trim_high_pct") / 100)
    elif method == "iqr":
        q1, q3 = percentile_cont(s, Decimal("0.25")), percentile_cont(s, Decimal("0.75"))
        lo, hi = q1 - Decimal("1.5") * (q3 - q1), q3 + Decimal("1.5") * (q3 - q1)
    elif method == "log_sd":
        logs = [c.ln() for c in costs]
        m, sd = _mean(logs), _sd(logs) or Decimal(0)
        return [abs(x - m) <= 3 * sd for x in logs]
    else:
        raise ValueError(f"trim_method {method}")
    return [lo <= c <= hi for c in costs]


# --------------------------------------------------------------------------------------------------------------
# §3.4 local build and §5 scores
# --------------------------------------------------------------------------------------------------------------
def _stat_population(cases: list[Case], groups: dict, cat_by_code: dict, years: set[int], P: Params):
    """§5 statistical population: cases of the given years grouped core/basic/comprehensive, los ≤ stats_max_los,
    not bed-day (only when bed_day_enabled, §12)."""
    max_los = P.int("stats_max_los")
    bed = P.bool("bed_day_enabled")
    out = []
    for c in cases:
        if c.year not in years:
            continue
        g = groups[(c.hospital_id, c.case_id)]
        if g["group_status"] not in ("core", "basic", "comprehensive"):
            continue
        if c.los is None or c.los > max_los:
            continue
        if bed and is_bed_day_dx(c.dx_norm):
            continue
        out.append((c, g["code"]))
    return out


def _trimmed(pop, P: Params) -> list[tuple[Case, str]]:
    """Kept cases of the §5 population after per-(g, y) trimming."""
    by: dict[tuple[str, int], list[Case]] = {}
    for c, code in pop:
        by.setdefault((code, c.year), []).append(c)
    kept = []
    for (code, _y), cs in sorted(by.items()):
        for c, k in zip(cs, trim([c.C for c in cs], P)):
            if k:
                kept.append((c, code))
    return kept


def _wavg(pairs) -> Decimal | None:
    """Σ w·x / Σ w over the (w, x) pairs given (years with data: renormalised weights)."""
    pairs = [(w, x) for w, x in pairs if x is not None]
    if not pairs:
        return None
    return sum((w * x for w, x in pairs), Decimal(0)) / sum((w for w, _ in pairs), Decimal(0))


def _scores(rows: list[dict], pop, P: Params, bys: list[tuple[int, Decimal]]) -> Decimal:
    """§5 for a local catalogue: fills score, mean_cost, n, cv, mean_los, reference_mean; returns M."""
    kept = _trimmed(pop, P)
    weights = dict(bys)
    m_gy: dict[str, dict[int, list[Decimal]]] = {}
    all_y: dict[int, list[Decimal]] = {}
    for c, code in kept:
        m_gy.setdefault(code, {}).setdefault(c.year, []).append(c.C)
        all_y.setdefault(c.year, []).append(c.C)
    m_g = {code: _wavg((weights[y], _mean(v)) for y, v in d.items()) for code, d in m_gy.items()}
    method = P.text("score_method")
    if method == "average":
        M = _wavg((weights[y], _mean(v)) for y, v in all_y.items())
    elif method == "reference":
        ref = P.text("reference_group").upper()
        M = m_g.get(ref)
        if M is None:
            raise ValueError(f"reference_group {ref!r} has no base-period mean")
    elif method == "fixed":
        M = P.dec("fixed_mean_cost")
    else:
        raise ValueError(f"score_method {method}")
    if M is None or M <= 0:
        raise ValueError("empty base period: no mean cost M")
    untr: dict[str, list[Case]] = {}
    for c, code in pop:
        untr.setdefault(code, []).append(c)
    for r in rows:
        cs = untr.get(r["code"], [])
        mg = m_g.get(r["code"])
        r["mean_cost"] = mg
        r["score"] = _q(mg / M * 1000, 4) if mg is not None else None
        r["n"] = len(cs)
        sd = _sd([c.C for c in cs])
        r["cv"] = (sd / _mean(c.C for c in cs)) if sd is not None else None
        r["mean_los"] = _mean(Decimal(c.los) for c in cs) if cs else None
        r["reference_mean"] = M
    return M


def _build(year: int, cs: list[Case], P: Params, term: Terminology, or_list, pclass_raw) -> list[dict]:
    bys = base_years(P, year)
    years = {y for y, _ in bys}
    max_los, bed = P.int("stats_max_los"), P.bool("bed_day_enabled")
    pclass = _norm_class_map(pclass_raw)
    sel: list[tuple[Case, Canon]] = []
    for c in cs:
        if c.year not in years or c.los is None or c.los > max_los:
            continue
        if bed and is_bed_day_dx(c.dx_norm):
            continue
        cn = canonical(c.raw.get("dx_codes"), c.raw.get("px_codes"), term, or_list, pclass, set(), P)
        if not cn.valid:
            continue
        sel.append((c, cn))
    if not sel:
        raise ValueError(f"empty base period for the local build of {year}")
    core_min, comp_min = P.int("core_min_n"), P.int("comp_min_n")
    uplift = P.dec("related_min_uplift")

    def mean_c(items):
        return _mean(c.C for c, _ in items)

    cons: dict[str, list] = {}
    mains: dict[tuple[str, str], list] = {}
    for c, cn in sel:
        if cn.p is None:
            cons.setdefault(cn.dx4, []).append((c, cn))
        else:
            mains.setdefault((cn.dx4, cn.p), []).append((c, cn))
    rows: dict[str, dict] = {}

    def add(code, sm):
        rows[code] = catalogue_row(code, None, None, year=year, source="local", published_code=code,
                                   selection_mean=sm)

    for dx4, items in cons.items():                                      # step 1: (dx4, ∅)
        if len(items) >= core_min:
            add(write_code(dx4, None), mean_c(items))
    for (dx4, p), items in mains.items():                                # (dx4, p)
        if len(items) < core_min:
            continue
        add(write_code(dx4, p), mean_c(items))
        if not P.bool("related_split"):
            continue
        by_r: dict[tuple, list] = {}
        for it in items:
            by_r.setdefault(it[1].r, []).append(it)
        base = by_r.get(())
        base_mean = mean_c(base) if base else None
        for r, its in by_r.items():                                      # (dx4, p, R)
            if not r or len(its) < core_min:
                continue
            m = mean_c(its)
            if base_mean is not None and m < (1 + uplift) * base_mean:
                continue
            add(write_code(dx4, p, r), m)
    comp: dict[tuple[str, str], list] = {}                               # step 2
    for c, cn in sel:
        comp.setdefault((cn.dx3, TOKENS[cn.cls]), []).append((c, cn))
    for (dx3, tok), items in comp.items():
        # CHOICE: selection_mean of a comprehensive key = mean C of the selection cases with that (dx3, class).
        add(write_code(dx3, None, token=tok), mean_c(items))

    def assign(rowlist):
        idx = CatalogueIndex(rowlist, protect=False)
        return [(c, _group(cn, idx)) for c, cn in sel]

    first = assign(list(rows.values()))
    counts: dict[str, int] = {}
    for _c, g in first:
        if g["code"]:
            counts[g["code"]] = counts.get(g["code"], 0) + 1
    for code in [k for k, r in rows.items() if r["group_type"] == "comprehensive"]:   # step 3
        if counts.get(code, 0) < comp_min:
            del rows[code]
    second = assign(list(rows.values()))
    counts = {}
    for _c, g in second:
        if g["code"]:
            counts[g["code"]] = counts.get(g["code"], 0) + 1
    out = [r for code, r in sorted(rows.items()) if counts.get(code, 0) > 0]   # step 4
    return out


def build_local_catalogue(year, cases, hospitals, params, term: Terminology, or_list, procedure_class=None,
                          basic_codes=()) -> list[dict]:
    """§3.4 local build of Y's catalogue with its §5 scores (score, mean_cost, n, cv, mean_los, reference_mean)."""
    with decimal.localcontext(_CTX):
        P = _params(params)
        cs = prepare_cases(cases, hospitals, term, P, year)
        rows = _build(year, cs, P, term, or_list, procedure_class)
        rows = _apply_basic(rows, basic_codes)
        idx = CatalogueIndex(rows)                     # §12: afterwards step 3 protects the built codes
        pclass = _norm_class_map(procedure_class)
        groups = {(c.hospital_id, c.case_id): _group(canonical(c.raw.get("dx_codes"), c.raw.get("px_codes"), term,
                                                               or_list, pclass, idx.protected, P), idx) for c in cs}
        bys = base_years(P, year)
        pop = _stat_population(cs, groups, {r["code"]: r for r in rows}, {y for y, _ in bys}, P)
        _scores(rows, pop, P, bys)
        return rows


# --------------------------------------------------------------------------------------------------------------
# §6 coefficients
# --------------------------------------------------------------------------------------------------------------
def level_coefficient(sums: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]], weights: dict[int, Decimal],
                      n_kept: int, params=None):
    """§6.1 for one stratum. sums[y] = (ΣC over K_{L,y}, ΣS over K_{L,y}, ΣC over K_y, ΣS over K_y) for the years
    with K_{L,y} non-empty. Returns (ratios by year, raw, coefficient)."""
    with decimal.localcontext(_CTX):
        P = _params(params)
        ratios = {y: (cl / sl) / (ca / sa) for y, (cl, sl, ca, sa) in sums.items()}
        raw = _wavg((weights[y], r) for y, r in ratios.items())
        if raw is None or n_kept < P.int("coef_min_n"):
            return ratios, raw, Decimal(1)
        lo, hi = P.dec("coef_min"), P.dec("coef_max")
        return ratios, raw, _q(min(max(raw, lo), hi), 4)


def aux_coefficient(costs_in: list[Decimal], costs_out: list[Decimal], params=None) -> dict:
    """§6.2 for one (group, subtype): costs of the subtype's cases and of the rest (untrimmed Y−1 data)."""
    with decimal.localcontext(_CTX):
        P = _params(params)
        allc = list(costs_in) + list(costs_out)
        n_g, n_j = len(allc), len(costs_in)
        m_g = _mean(allc) if allc else None
        sd_g = _sd(allc)
        cv_g = sd_g / m_g if sd_g is not None else None
        cv_split = None
        if n_g >= 3 and costs_in and costs_out:
            mj, mr = _mean(costs_in), _mean(costs_out)
            ss = sum(((x - mj) ** 2 for x in costs_in), Decimal(0)) + sum(((x - mr) ** 2 for x in costs_out),
                                                                           Decimal(0))
            cv_split = (ss / (n_g - 2)).sqrt() / m_g
        trig = (P.bool("aux_enabled") and n_g >= P.int("aux_min_group_n") and n_j >= P.int("aux_min_subtype_n")
                and n_g - n_j >= P.int("aux_min_subtype_n") and cv_g is not None and cv_g > 0
                and cv_split is not None and 1 - cv_split / cv_g >= P.dec("aux_min_cv_reduction"))
        coef = None
        if trig:
            ratio = _mean(costs_in) / m_g
            coef = _q(min(max(ratio, P.dec("aux_coef_min")), P.dec("aux_coef_max")), 4)
        return {"n_g": n_g, "n_j": n_j, "cv_g": cv_g, "cv_split": cv_split, "coefficient": coef,
                "triggered": bool(trig)}


def subtypes_of(c: Case) -> list[str]:
    out = []
    ay, ad = c.age_years, c.age_days
    if ay == 0:
        out.append("neonate" if (ad is not None and ad <= 28) else "infant")
    elif ay is not None and 1 <= ay <= 6:
        out.append("child_1_6")
    elif ay is not None and 7 <= ay <= 17:
        out.append("child_7_17")
    elif ay is not None and ay >= 65:
        out.append("elderly_65")
    if c.discharge_way == 5:
        out.append("death")
    if c.discharge_way in (2, 4):
        out.append("abnormal_discharge")
    return out


def _stratum(c_level, c_type, P: Params) -> str | None:
    if c_level is None:
        return None
    if P.text("coef_strata") == "level_type":
        return f"{c_level}:{c_type}"
    return str(c_level)


# --------------------------------------------------------------------------------------------------------------
# compute(): the marts
# --------------------------------------------------------------------------------------------------------------
def _median(xs: list[Decimal]) -> Decimal:
    return percentile_cont(sorted(xs), Decimal("0.5"))


def compute(year, cases, hospitals, catalogue, params=None, term: Terminology | None = None, or_list=None,
            procedure_class=None, basic_codes=()) -> dict[str, list[dict]]:
    with decimal.localcontext(_CTX):
        Y = int(year)
        P = _params(params)
        term = term or load_terminology(SHARED)
        if or_list is None:
            or_list = load_or_list(SHARED / "schemes" / P.text("or_list_scheme"))
        pclass = _norm_class_map(procedure_class)
        cs = prepare_cases(cases, hospitals, term, P, Y)
        bys = base_years(P, Y)
        weights = dict(bys)
        byears = {y for y, _ in bys}

        # ---- catalogue of Y
        if catalogue is None:
            cat = build_local_catalogue(Y, cases, hospitals, P, term, or_list, procedure_class)
        else:
            cat = [dict(r) for r in catalogue]
        for r in cat:
            r["settlement_year"] = Y
        cat = _apply_basic(cat, basic_codes)
        by_code = {r["code"]: r for r in cat}
        idx = CatalogueIndex(cat)
        PV_ref = (cat[0]["reference_mean"] / 1000) if cat and cat[0].get("reference_mean") else None
        if P.text("pv_reference") == "fixed":
            PV_ref = P.dec("pv_reference_value")

        # ---- §4 grouping of every case with Y's catalogue
        groups: dict[tuple[str, str], dict] = {}
        canon: dict[tuple[str, str], Canon] = {}
        grouping_rows = []
        for c in cs:
            cn = canonical(c.raw.get("dx_codes"), c.raw.get("px_codes"), term, or_list, pclass, idx.protected, P)
            g = _group(cn, idx)
            groups[(c.hospital_id, c.case_id)] = g
            canon[(c.hospital_id, c.case_id)] = cn
            grouping_rows.append({"settlement_year": Y, "hospital_id": c.hospital_id, "case_id": c.case_id,
                                  "year": c.year, "region_code": c.region, **g})

        # ---- §5 population of the base years (for λ and a; scores of an import are as published)
        pop = _stat_population(cs, groups, by_code, byears, P)
        kept = _trimmed(pop, P)

        # ---- §6.1 level coefficients
        # CHOICE: "one row per registry level" = one row per distinct level (or level:type) of the hospitals given,
        # all regions of the registry, not a fixed 1/2/3.
        strata_reg = []
        for h in hospitals or ():
            s = _stratum(_int(h.get("level")), str(h.get("hospital_type") or "").strip(), P)
            if s is not None and s not in strata_reg:
                strata_reg.append(s)
        K: dict[tuple[str, int], list[tuple[Decimal, Decimal]]] = {}
        K_all: dict[int, list[tuple[Decimal, Decimal]]] = {}
        for c, code in kept:
            r = by_code[code]
            if r["group_type"] == "basic":
                continue
            st = _stratum(c.level, c.hospital_type, P)
            if st is None:
                continue       # CHOICE: a case whose hospital has no registry level is in no K_{L,y} and not in K_y
            K.setdefault((st, c.year), []).append((c.C, r["score"]))
            K_all.setdefault(c.year, []).append((c.C, r["score"]))
        lam: dict[str, Decimal] = {}
        level_rows = []
        fixed = P.map("fixed_level_coef") if P.text("coef_method") == "fixed" else None
        for st in sorted(strata_reg):
            sums = {}
            n_kept = 0
            for y in sorted(byears):
                kl = K.get((st, y), [])
                if not kl:
                    continue
                n_kept += len(kl)
                ka = K_all[y]
                sums[y] = (sum((x for x, _ in kl), Decimal(0)), sum((s for _, s in kl), Decimal(0)),
                           sum((x for x, _ in ka), Decimal(0)), sum((s for _, s in ka), Decimal(0)))
            ratios, raw, coef = level_coefficient(sums, weights, n_kept, P)
            if fixed is not None:
                # CHOICE: under coef_method = fixed the ratios and raw are still published; coefficient is the
                # fixed value of the stratum's level (no clamp).
                coef = Decimal(fixed[st.split(":")[0]])
            lam[st] = coef
            row = {"settlement_year": Y, "stratum": st}
            for y in sorted(byears):
                row[f"ratio_{y}"] = ratios.get(y)
            row.update(raw=raw, coefficient=coef, n_kept=n_kept)
            level_rows.append(row)

        # ---- §6.2 auxiliary coefficients, Y−1 untrimmed, core (non-basic) groups
        data: dict[str, list[Case]] = {}
        for c, code in pop:
            if c.year == Y - 1 and by_code[code]["group_type"] == "core":
                data.setdefault(code, []).append(c)
        aux_rows = []
        aux: dict[tuple[str, str], Decimal] = {}
        for code in sorted(data):
            cs_g = data[code]
            for j in SUBTYPES:
                inside = [c.C for c in cs_g if j in subtypes_of(c)]
                outside = [c.C for c in cs_g if j not in subtypes_of(c)]
                a = aux_coefficient(inside, outside, P)
                aux_rows.append({"settlement_year": Y, "code": code, "subtype": j, **a})
                if a["triggered"]:
                    aux[(code, j)] = a["coefficient"]

        def lam_a(c: Case, code: str) -> tuple[Decimal, Decimal, str | None]:
            r = by_code[code]
            if r["group_type"] == "basic":
                return Decimal(1), Decimal(1), None
            st = _stratum(c.level, c.hospital_type, P)
            # CHOICE: a hospital without a registry stratum gets λ = 1.
            l_ = lam.get(st, Decimal(1)) if st is not None else Decimal(1)
            a_, sub = Decimal(1), None
            if r["group_type"] == "core":
                # §6.2: the largest a_{g,j} over the triggered subtypes the case belongs to (even when < 1);
                # ties go to the first subtype in the §12 order; otherwise a = 1.
                trig = [(aux[(code, j)], j) for j in SUBTYPES if j in subtypes_of(c) and (code, j) in aux]
                if trig:
                    best = max(v for v, _ in trig)
                    a_, sub = best, next(j for v, j in trig if v == best)
            return l_, a_, sub

        def deviation(c: Case, code: str) -> str:
            S = by_code[code]["score"]
            l_, a_, _ = lam_a(c, code)
            E = S * l_ * a_ * PV_ref
            if P.text("deviation_rule") == "dip3":
                if c.C >= P.dec("dip3_high_multiple") * E:
                    return "high"
                if c.C < P.dec("low_ratio") * (S * PV_ref) * (l_ * a_):
                    return "low"
                return "normal"
            if c.C > P.dec("dip2_high_multiple") * E:
                return "high"
            if c.C < P.dec("low_ratio") * E:
                return "low"
            return "normal"

        # ---- §10 statistics: every year with cases, Y's catalogue
        all_years = sorted({c.year for c in cs})
        stats_rows, quality_rows, perf_rows = [], [], []
        for y in all_years:
            cy = [c for c in cs if c.year == y]
            grouped = [c for c in cy if groups[(c.hospital_id, c.case_id)]["group_status"]
                       in ("core", "basic", "comprehensive")]
            by_g: dict[str, list[Case]] = {}
            for c in grouped:
                by_g.setdefault(groups[(c.hospital_id, c.case_id)]["code"], []).append(c)
            dev = {(c.hospital_id, c.case_id): deviation(c, groups[(c.hospital_id, c.case_id)]["code"])
                   for c in grouped} if PV_ref is not None else {}
            all_drug = _mean(c.drug for c in grouped) if grouped else None
            all_mat = _mean(c.material for c in grouped) if grouped else None
            cv_by_g = {}
            mean_by_g, los_by_g = {}, {}
            for code in sorted(by_g):
                g_cs = by_g[code]
                costs = [c.C for c in g_cs]
                n = len(g_cs)
                mean = _mean(costs)
                sd = _sd(costs)
                cv = sd / mean if sd is not None else None
                cv_by_g[code] = (n, cv)
                mean_by_g[code] = mean
                los_by_g[code] = _mean(Decimal(c.los) for c in g_cs)
                d = [dev.get((c.hospital_id, c.case_id)) for c in g_cs]
                g_drug, g_mat = _mean(c.drug for c in g_cs), _mean(c.material for c in g_cs)
                stats_rows.append({
                    "settlement_year": Y, "year": y, "code": code, "n": n, "mean_cost": mean,
                    "median_cost": _median(costs), "sd_cost": sd, "cv": cv, "mean_los": los_by_g[code],
                    "score": by_code[code]["score"],
                    "share_high": Decimal(d.count("high")) / n if dev else None,
                    "share_low": Decimal(d.count("low")) / n if dev else None,
                    # CHOICE: null when the denominator (all grouped cases of y) is 0
                    "drug_score": g_drug / all_drug if all_drug else None,
                    "material_score": g_mat / all_mat if all_mat else None,
                })
            n_cases = len(cy)
            cnt = {s: 0 for s in ("core", "basic", "comprehensive", "unmatched", "invalid")}
            for c in cy:
                cnt[groups[(c.hospital_id, c.case_id)]["group_status"]] += 1
            cons = sum(1 for c in grouped if canon[(c.hospital_id, c.case_id)].cls == "conservative")
            rate = {s: Decimal(v) / n_cases for s, v in cnt.items()}
            quality_rows.append({
                "settlement_year": Y, "year": y, "n_cases": n_cases,
                "core_rate": rate["core"], "basic_rate": rate["basic"], "comprehensive_rate": rate["comprehensive"],
                "unmatched_rate": rate["unmatched"], "invalid_rate": rate["invalid"],
                "grouped_rate": 1 - rate["unmatched"] - rate["invalid"],
                "conservative_share": Decimal(cons) / len(grouped) if grouped else None,
                "n_groups": len(by_g),
                "n_groups_cv_below_0_5": sum(1 for n, cv in cv_by_g.values() if n >= 2 and cv < Decimal("0.5")),
                "n_groups_cv_above_1": sum(1 for n, cv in cv_by_g.values() if n >= 2 and cv > 1),
            })
            hosp_ids = sorted({c.hospital_id for c in cy})
            for h in hosp_ids:
                hc = [c for c in cy if c.hospital_id == h]
                hg = [c for c in hc if groups[(c.hospital_id, c.case_id)]["group_status"]
                      in ("core", "basic", "comprehensive")]
                row = {"settlement_year": Y, "year": y, "hospital_id": h, "n_cases": len(hc), "n_grouped": len(hg),
                       "total_score": None, "cmi": None, "cost_index": None, "time_index": None,
                       "share_high": None, "share_low": None, "dip_vs_ffs": None}
                if hg:
                    codes_h = [groups[(c.hospital_id, c.case_id)]["code"] for c in hg]
                    row["cmi"] = _mean(by_code[g]["score"] / 1000 for g in codes_h)
                    row["cost_index"] = _mean(c.C / mean_by_g[g] for c, g in zip(hg, codes_h))
                    # CHOICE: a group whose mean LOS is 0 cannot occur (los ≥ 1 by contract); no guard.
                    row["time_index"] = _mean(Decimal(c.los) / los_by_g[g] for c, g in zip(hg, codes_h))
                    if dev:
                        d = [dev[(c.hospital_id, c.case_id)] for c in hg]
                        row["share_high"] = Decimal(d.count("high")) / len(hg)
                        row["share_low"] = Decimal(d.count("low")) / len(hg)
                perf_rows.append(row)

        return {
            "dip_catalogue": cat,
            "dip_case_grouping": grouping_rows,
            "dip_level_coefficients": level_rows,
            "dip_aux_coefficients": aux_rows,
            "dip_group_year_stats": stats_rows,
            "dip_grouping_quality": quality_rows,
            "dip_hospital_performance": perf_rows,
        }
