"""Independent CHS-DRG 1.1 test oracle.

Written only from the published rule text and the reference notes:

* /work/shared/docs/drg-dip-reference.md  (cited below as "ref §x.y")
* /work/shared/schemes/README.md and the CHS-DRG-1.1 scheme pack (parsed at run time)

It deliberately shares no code with the production grouper (no ``drgflow`` import) and uses the
Python standard library only.  Every place where the documents leave room for more than one reading
is marked ``CHOICE:`` and repeated in README.md next to this file.

Public API::

    oracle = load(pathlib.Path("/work/shared/schemes/CHS-DRG-1.1"))
    oracle.group(sex, age_years, age_days, birth_weight_g, dx, px)  -> "FR21" / "0000"
    oracle.explain(...)                                              -> GroupTrace (code + trace)
    oracle.cc_status(dx)                                             -> "mcc" | "cc" | "none"
    oracle.split_pattern("HC1")                                      -> "1/5"
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Iterable

__all__ = ["load", "Oracle", "GroupTrace", "Rule"]

# --------------------------------------------------------------------------------------------
# Lexical helpers
# --------------------------------------------------------------------------------------------

# A diagnosis code of ICD-10 医保版 2.0 as printed in the pack, e.g. "K80.101", "A33.x00",
# "A15.000x001", "A01.002+G01*", "E84.101+P75*".
_DX = r"[A-Z]\d{2}\.[0-9x]{2,3}(?:x\d{3})?(?:\+[A-Z]\d{2}(?:\.[0-9x]{1,4})?\*)?"
# A procedure code of ICD-9-CM-3 医保版 2.0, e.g. "51.2300", "33.6x00", "31.1x00x005".
_PX = r"\d{2}\.[0-9x]{2,4}(?:x\d{3})?"
# In the wrapped files (5_MCC, 6_CC, 7_CCE) a code can be glued to the end of the previous name
# ("...其他特指 的J63.800x001"), so only an ASCII letter/digit/dot may not precede a code.
_DX_TOKEN = re.compile(r"(?<![A-Za-z0-9.])(" + _DX + r")(?![0-9A-Za-z.])")
_TABLE_TOKEN = re.compile(r"表\s*7-(\d+)")
# In 5_MCC/6_CC a record whose 排除内容 is "无" has no exclusion table (never excluded).
_NO_TABLE_TOKEN = re.compile(r"(?<!\S)无(?!\S)")
_FIRST_TOKEN = re.compile(r"^(\S+)")
_DX_LINE = re.compile(r"^" + _DX + r"$")
_PX_LINE = re.compile(r"^\d{2}\.[0-9A-Zx]{2,6}(?:x\d{3,4})?$")  # tolerates the few odd codes
_ADRG_TOKEN = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d)\s")
_DRG_TOKEN = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d{2})\s")
_MDC_TOKEN = re.compile(r"^MDC([A-Z])\s+(.+)$")


def _read(path: pathlib.Path) -> str:
    """Read a pack file; '~~' is a page-break artefact of the PDF (schemes/README.md) -> drop it."""
    return path.read_text(encoding="utf-8-sig").replace("~~", "")


def _is_code_line(token: str) -> bool:
    return bool(_DX_LINE.match(token) or _PX_LINE.match(token))


# --------------------------------------------------------------------------------------------
# ADRG rules
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Rule:
    """Inclusion rule of one ADRG, built from the phrases of ref §2.4.

    Conditions of different kinds are AND-ed ("OR inside a category, AND between categories",
    ref §2.4).  Every list is a set of codes.
    CHOICE (README 12): the AND also holds where a name reads "或" (IB1 = principal dx AND both
    procedure lists); a procedure standing in several 手术表 counts for each of them.
    CHOICE (README 13): codes are compared as exact strings, dagger/asterisk suffix included.
    """

    adrg: str
    name: str
    principal_dx: set[str] | None = None  # 包含以下主要诊断： / 主要诊断：
    principal_px: set[str] | None = None  # 包含以下主要手术或操作：
    any_dx: set[str] | None = None  # 主要诊断或其他诊断中包含以下诊断： / 包含以下诊断：
    both_px: list[set[str]] | None = None  # 同时包含以下手术： A 和 B  (each list hit, any position)
    table_px: dict[str, set[str]] | None = None  # 手术表 N： lists
    table_alternatives: list[list[str]] | None = None  # [["1","2"],["1","3","4"]]
    # CHOICE (README 2): 全部手术 = the PRINCIPAL procedure is in SS_VALID.txt; 且无手术 is its
    # exact complement (no procedure, or a principal procedure outside SS_VALID).
    any_or_px: bool = False  # 全部手术 / 包含全部手术
    no_or_px: bool = False  # 符合 MDCZ 主诊表，且无手术
    phrases: list[str] = dataclasses.field(default_factory=list)

    @property
    def kind(self) -> str:
        """surgical (A-J) / non-OR (K-Q) / medical (R-Z): second letter, ref §2.1."""
        c = self.adrg[1]
        if "A" <= c <= "J":
            return "surgical"
        if "K" <= c <= "Q":
            return "non_or"
        return "medical"


def _parse_adrg_rule(adrg: str, name: str, text: str) -> Rule:
    rule = Rule(adrg=adrg, name=name)
    current: set[str] | None = None
    table_alt_lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tok = _FIRST_TOKEN.match(line).group(1)
        if _is_code_line(tok):
            if current is None:
                raise ValueError(f"{adrg}: code {tok} outside a section")
            current.add(tok)
            continue
        rule.phrases.append(line)
        compact = line.replace(" ", "")
        if compact.startswith("包含以下主要诊断+") or compact.startswith("或包含以下主要诊断+"):
            # JA1/JA2/NA1: "包含以下主要诊断+手术表 1+手术表 2" / "或包含以下主要诊断+..."
            table_alt_lines.append(compact)
            current = None
        elif compact in ("包含以下主要诊断：", "主要诊断："):
            rule.principal_dx = rule.principal_dx or set()
            current = rule.principal_dx
        elif compact == "包含以下主要手术或操作：":
            rule.principal_px = rule.principal_px or set()
            current = rule.principal_px
        elif compact in ("主要诊断或其他诊断中包含以下诊断：", "包含以下诊断："):
            rule.any_dx = rule.any_dx or set()
            current = rule.any_dx
        elif compact == "同时包含以下手术：":
            rule.both_px = [set()]
            current = rule.both_px[0]
        elif compact == "和":
            if rule.both_px is None:
                raise ValueError(f"{adrg}: '和' without '同时包含以下手术'")
            rule.both_px.append(set())
            current = rule.both_px[-1]
        elif re.match(r"^手术(表)?(\d+)：$", compact):
            n = re.match(r"^手术(表)?(\d+)：$", compact).group(2)
            rule.table_px = rule.table_px or {}
            rule.table_px[n] = set()
            current = rule.table_px[n]
        elif compact in ("全部手术", "包含全部手术"):
            rule.any_or_px = True
            current = None
        elif "且无手术" in compact:
            rule.no_or_px = True
            current = None
        else:
            raise ValueError(f"{adrg}: unknown rule phrase {line!r}")
    if table_alt_lines:
        rule.table_alternatives = [re.findall(r"手术表(\d+)", alt) for alt in table_alt_lines]
    return rule


# --------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class GroupTrace:
    drg: str
    mdc: str | None = None
    adrg: str | None = None
    cc_status: str | None = None
    reason: str = ""
    trace: list[str] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------

# ref §2.3 "pre-MDC, in this order: A, P, Y, Z" then "OpenDRG tries M and N before B..L, then O,
# Q..X".  CHOICE: the brief says to follow the OpenDRG chs_drg_11 column, so this order is used.
MDC_ORDER = ["A", "P", "Y", "Z", "M", "N", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L",
             "O", "Q", "R", "S", "T", "U", "V", "W", "X"]

MDCZ_REGIONS = ["头颈部创伤", "胸部创伤", "腹部创伤", "泌尿系统创伤", "生殖系统创伤", "躯干、脊柱创伤",
                "上肢创伤", "下肢创伤", "骨盆创伤"]

# CHOICE (README 4/5): MDCP ADRGs restricted to newborns (出生年龄 < 29 天 -> age_days <= 28).  PB1/PC1/PJ1 say so in
# their names; PK1 (新生儿伴呼吸机支持), PR1 (新生儿呼吸窘迫综合征) say "新生儿"; PS1-PS4 and PU1 per
# ref §2.3 ("PS1-4 need ageDay<=28 ...", "PU1 term newborn (ageDay<=28)").
NEONATE_ONLY = {"PB1", "PC1", "PJ1", "PK1", "PR1", "PS1", "PS2", "PS3", "PS4", "PU1"}
# PV1 源于新生儿(29 天≤出生年龄＜1 周岁)诊断的婴儿疾患 -> 29 <= age_days (age_years == 0).
INFANT_ONLY = {"PV1"}
# Birth-weight bands of PS1..PS4 (names in 2_ADRG.txt: ＜1500g, 1500-1999g, 2000-2499g, >2499g).
WEIGHT_BANDS = {"PS1": (None, 1499), "PS2": (1500, 1999), "PS3": (2000, 2499), "PS4": (2500, None)}


class Oracle:
    def __init__(self, scheme_dir: pathlib.Path, fall_through: bool = False):
        self.scheme_dir = pathlib.Path(scheme_dir)
        self.fall_through = fall_through
        self.mdc_names: dict[str, str] = {}
        self.mdc_dx: dict[str, set[str]] = {}
        self.mdcz_region: dict[str, set[str]] = {}
        self.adrg_names: dict[str, str] = {}
        self.adrg_order: list[str] = []
        self.rules: dict[str, Rule] = {}
        self.drgs: dict[str, list[str]] = {}  # ADRG -> DRG codes in 3_DRG.txt order
        self.drg_names: dict[str, str] = {}
        self.mcc: dict[str, str] = {}  # code -> exclusion table id
        self.cc: dict[str, str] = {}
        self.cce: dict[str, set[str]] = {}  # table id -> principal dx codes
        self.ss_valid: set[str] = set()
        self.load_warnings: list[str] = []
        self._load()

    # ---------------------------------------------------------------- loading
    def _load(self) -> None:
        d = self.scheme_dir
        for line in _read(d / "1_MDC.txt").splitlines():
            m = _MDC_TOKEN.match(line.strip())
            if m:
                self.mdc_names[m.group(1)] = m.group(2).strip()
        if len(self.mdc_names) != 26:
            raise ValueError(f"expected 26 MDCs, got {len(self.mdc_names)}")

        # MDC principal-diagnosis lists (MDC/ one file per MDC; MDCA's file is empty).
        for f in sorted((d / "MDC").glob("MDC*.dat")):
            letter = f.name[3]
            codes: set[str] = set()
            region = None
            for raw in _read(f).splitlines():
                line = raw.strip()
                if not line or line.startswith("#"):
                    # CHOICE: '#' marks a commented-out entry (MDCZ: "# S12.910" under 头颈部创伤);
                    # it is ignored.
                    continue
                tok = _FIRST_TOKEN.match(line).group(1)
                if _DX_LINE.match(tok):
                    codes.add(tok)
                    if letter == "Z":
                        if region is None:
                            raise ValueError("MDCZ code before a region header")
                        self.mdcz_region.setdefault(tok, set()).add(region)
                elif line in MDCZ_REGIONS:
                    region = line
                elif line.replace(" ", "") == "包含以下主要诊断：":
                    pass
                else:
                    raise ValueError(f"{f.name}: unexpected line {line!r}")
            self.mdc_dx[letter] = codes

        # ADRG list (2_ADRG.txt, wrapped: find the code tokens).  Order = table order.
        text = _read(d / "2_ADRG.txt")
        ms = list(_ADRG_TOKEN.finditer(text + " "))
        for i, m in enumerate(ms):
            end = ms[i + 1].start() if i + 1 < len(ms) else len(text)
            self.adrg_names[m.group(1)] = " ".join(text[m.end():end].split())
            self.adrg_order.append(m.group(1))
        if len(self.adrg_order) != 376:
            raise ValueError(f"expected 376 ADRGs, got {len(self.adrg_order)}")

        # ADRG rules: ADRG/<code>_<name>.dat
        # CHOICE (README 9): the per-ADRG files are used, not 4_ADRG_DETAIL.txt (they differ in
        # FU2 I48.900x003 and in the 全部手术 lines of WJ1/YC1).
        files = {f.name[:3]: f for f in (d / "ADRG").glob("*.dat")}
        for a in self.adrg_order:
            if a not in files:
                raise ValueError(f"no rule file for {a}")
            self.rules[a] = _parse_adrg_rule(a, self.adrg_names[a], _read(files[a]))

        # DRG list
        text = _read(d / "3_DRG.txt")
        ms = list(_DRG_TOKEN.finditer(text + " "))
        for i, m in enumerate(ms):
            end = ms[i + 1].start() if i + 1 < len(ms) else len(text)
            code = m.group(1)
            self.drg_names[code] = " ".join(text[m.end():end].split())
            self.drgs.setdefault(code[:3], []).append(code)
        if len(self.drg_names) != 628:
            raise ValueError(f"expected 628 DRGs, got {len(self.drg_names)}")

        # MCC / CC lists: "code name 表 7-N", several records may share one line.
        self.mcc = self._parse_cc_file(d / "5_MCC.txt")
        self.cc = self._parse_cc_file(d / "6_CC.txt")

        # Exclusion tables: "表 7-N 包含以下主要诊断： code name code name ..."
        text = _read(d / "7_CCE.txt")
        table = None
        tokens = sorted(
            [(m.start(), "T", m.group(1)) for m in _TABLE_TOKEN.finditer(text)]
            + [(m.start(), "C", m.group(1)) for m in _DX_TOKEN.finditer(text)]
        )
        for _, kind, val in tokens:
            if kind == "T":
                table = val
                self.cce.setdefault(table, set())
            else:
                if table is None:
                    raise ValueError("7_CCE: code before the first table")
                self.cce[table].add(val)
        # ref §2.5: the exclusion tables partition the principal-dx codes in 1.1 -> check.
        seen: dict[str, str] = {}
        for t, codes in self.cce.items():
            for c in codes:
                if c in seen and seen[c] != t:
                    self.load_warnings.append(f"{c} in exclusion tables 7-{seen[c]} and 7-{t}")
                seen[c] = t

        for raw in _read(d / "SS_VALID.txt").splitlines():
            line = raw.strip()
            if line:
                self.ss_valid.add(_FIRST_TOKEN.match(line).group(1))

    def _parse_cc_file(self, path: pathlib.Path) -> dict[str, str]:
        text = _read(path)
        tokens = sorted(
            [(m.start(), "T", m.group(1)) for m in _TABLE_TOKEN.finditer(text)]
            + [(m.start(), "T", "") for m in _NO_TABLE_TOKEN.finditer(text)]
            + [(m.start(), "C", m.group(1)) for m in _DX_TOKEN.finditer(text)]
        )
        out: dict[str, str] = {}  # code -> table id ("" = no exclusion table)
        pending: str | None = None
        for _, kind, val in tokens:
            if kind == "C":
                if pending is not None:
                    raise ValueError(f"{path.name}: {pending} has no exclusion table")
                pending = val
            else:
                if pending is None:
                    raise ValueError(f"{path.name}: table 7-{val} without a code")
                if pending in out and out[pending] != val:
                    self.load_warnings.append(f"{path.name}: {pending} listed with 7-{out[pending]} and 7-{val}")
                out[pending] = val
                pending = None
        if pending is not None:
            raise ValueError(f"{path.name}: {pending} has no exclusion table")
        return out

    # ---------------------------------------------------------------- CC / MCC
    def _excluded(self, principal: str | None, table: str) -> bool:
        # table "" = 排除内容 "无": the MCC/CC is never excluded.
        return bool(table) and principal is not None and principal in self.cce.get(table, ())

    def cc_status(self, dx: list[str]) -> str:
        """ref §2.5: 'mcc' if any SECONDARY dx is a non-excluded MCC, else 'cc' if any secondary
        dx is a non-excluded CC, else 'none'.  A secondary d is excluded when the principal dx is a
        member of the exclusion table (表 7-N) that d points to.

        CHOICE: a code on both lists is treated as an MCC (its MCC table decides); its CC entry is
        not used as a fall-back when the MCC entry is excluded.  (In the 1.1 pack no code is on
        both lists, so this never matters; see README.)
        """
        if not dx:
            return "none"
        principal = dx[0]
        status = "none"
        for d in dx[1:]:
            if d in self.mcc:
                if not self._excluded(principal, self.mcc[d]):
                    return "mcc"
            elif d in self.cc:
                if not self._excluded(principal, self.cc[d]):
                    status = "cc"
        return status

    def split_pattern(self, adrg: str) -> str:
        digits = sorted({c[3] for c in self.drgs.get(adrg, [])})
        return "/".join(digits)

    def _drg_for(self, adrg: str, status: str) -> str:
        """ref §2.5 binding split table."""
        pat = self.split_pattern(adrg)
        if pat == "9":
            return adrg + "9"
        if pat == "1/3/5":
            return adrg + {"mcc": "1", "cc": "3", "none": "5"}[status]
        if pat == "3/5":
            return adrg + ("3" if status in ("mcc", "cc") else "5")
        if pat == "1/5":
            return adrg + ("1" if status == "mcc" else "5")
        raise ValueError(f"{adrg}: unexpected split pattern {pat!r}")

    # ---------------------------------------------------------------- rules
    def _rule_matches(self, rule: Rule, ctx: dict) -> bool:
        dx, px = ctx["dx"], ctx["px"]
        p_dx = dx[0]
        p_px = px[0] if px else None
        if rule.principal_dx is not None and p_dx not in rule.principal_dx:
            return False
        if rule.principal_px is not None and (p_px is None or p_px not in rule.principal_px):
            return False
        if rule.any_dx is not None and not (set(dx) & rule.any_dx):
            return False
        if rule.both_px is not None and not all(set(px) & lst for lst in rule.both_px):
            return False
        if rule.table_alternatives is not None:
            hit = {n for n, lst in rule.table_px.items() if set(px) & lst}
            if not any(all(n in hit for n in alt) for alt in rule.table_alternatives):
                return False
        if rule.any_or_px and not ctx["or_principal"]:
            return False
        if rule.no_or_px and ctx["or_principal"]:
            return False
        # MDCP age / weight conditions that live in the names (schemes/README.md, ref §2.3).
        a = rule.adrg
        if a in NEONATE_ONLY and not ctx["neonate"]:
            return False
        if a in INFANT_ONLY and not ctx["infant"]:
            return False
        if a in WEIGHT_BANDS:
            w = ctx["weight"]
            lo, hi = WEIGHT_BANDS[a]
            if w is None or (lo is not None and w < lo) or (hi is not None and w > hi):
                return False
        return True

    def _mdc_entry(self, letter: str, ctx: dict) -> tuple[bool, str]:
        dx = ctx["dx"]
        p = dx[0]
        if letter == "A":
            # CHOICE (README 3): MDCA is entered through its procedures (schemes/README.md; its MDC
            # file is empty): any procedure; the ADRG lists decide the rest.
            # ref §2.3: "the rule is a procedure match (principal procedure in 1.1)".
            return bool(ctx["px"]), "MDCA: has a principal procedure"
        if letter == "P":
            # ref §2.6 OpenDRG chs_drg_11: MDCP entry when age in years == 0.
            ok = p in self.mdc_dx["P"] and ctx["age_years"] == 0
            return ok, "MDCP: principal dx in MDCP list and age_years == 0"
        if letter == "Y":
            # ref §2.6 OpenDRG chs_drg_11: MDCY by principal dx only.
            return p in self.mdc_dx["Y"], "MDCY: principal dx in MDCY list"
        if letter == "Z":
            if p not in self.mdc_dx["Z"]:
                return False, "MDCZ: principal dx not in MDCZ list"
            # CHOICE (README 8): every dx counts, principal included.
            regions: set[str] = set()
            for d in dx:
                regions |= self.mdcz_region.get(d, set())
            return len(regions) >= 2, f"MDCZ: regions={sorted(regions)}"
        if letter == "M":
            return p in self.mdc_dx["M"] and ctx["sex"] == 1, "MDCM: principal dx and male"
        if letter == "N":
            return p in self.mdc_dx["N"] and ctx["sex"] == 2, "MDCN: principal dx and female"
        return p in self.mdc_dx[letter], f"MDC{letter}: principal dx in list"

    # ---------------------------------------------------------------- grouping
    def explain(self, sex: int, age_years: int, age_days: int | None, birth_weight_g: int | None,
                dx: Iterable[str], px: Iterable[str]) -> GroupTrace:
        dx = [c.strip() for c in dx if c and c.strip()]
        px = [c.strip() for c in px if c and c.strip()]
        tr = GroupTrace(drg="0000")
        # 0. validation (ref §2.3 step 0, OpenDRG GroupProxy.check) -> 0000 / 信息校验不通过
        # CHOICE (README 6): applied; the 1.1 pack has no ZD_INVALID / gray / SS_INVALID lists.
        if sex not in (1, 2):
            tr.reason = "invalid sex"
            return tr
        if age_years is None:
            tr.reason = "age missing"
            return tr
        if not dx:
            tr.reason = "no diagnosis"
            return tr
        if age_years == 0 and age_days is None:
            tr.reason = "age_years == 0 needs age_days"
            return tr
        if age_years == 0 and age_days is not None and age_days <= 28 and birth_weight_g is None:
            tr.reason = "age_days <= 28 needs birth weight"
            return tr
        ctx = {
            "sex": sex, "age_years": age_years, "age_days": age_days, "weight": birth_weight_g,
            "dx": dx, "px": px,
            "or_principal": bool(px) and px[0] in self.ss_valid,
            "neonate": age_years == 0 and age_days is not None and age_days <= 28,
            "infant": age_years == 0 and age_days is not None and age_days >= 29,
        }
        status = self.cc_status(dx)
        tr.cc_status = status
        for letter in MDC_ORDER:
            ok, why = self._mdc_entry(letter, ctx)
            if not ok:
                continue
            tr.trace.append(why)
            adrgs = [a for a in self.adrg_order if a[0] == letter]
            for a in adrgs:
                # ref §2.6: QY is disabled in the standard 1.1 grouper -> no xQY step here.
                if self._rule_matches(self.rules[a], ctx):
                    tr.mdc, tr.adrg = letter, a
                    tr.drg = self._drg_for(a, status)
                    tr.trace.append(f"ADRG {a} matched; cc_status={status}; "
                                    f"pattern {self.split_pattern(a)} -> {tr.drg}")
                    return tr
            tr.trace.append(f"MDC{letter}: no ADRG matched")
            if letter == "A":
                # CHOICE: MDCA is a pre-MDC tried on every case with a procedure ("try AA1..AH2",
                # ref §2.3); when no transplant/ECMO ADRG matches, grouping continues.
                continue
            # CHOICE: ref §2.3 step 3 "no ADRG -> x00 / 0000": once a case has entered an MDC
            # (P, Y, Z or the MDC of its principal dx) and no ADRG of that MDC matches, the
            # result is 0000; it does not fall through to a later MDC.
            # Switch fall_through=True: OpenDRG chs_drg_11's code instead tries the next MDC
            # (the reading drgflow's docs/grouping.md documents); the differential test names
            # the cases where the two readings differ.
            if self.fall_through:
                continue
            tr.mdc = letter
            tr.reason = f"MDC{letter} entered but no ADRG matched (x00)"
            return tr
        tr.reason = "principal dx not in any MDC list"
        return tr

    def group(self, sex: int, age_years: int, age_days: int | None, birth_weight_g: int | None,
              dx: list[str], px: list[str]) -> str:
        return self.explain(sex, age_years, age_days, birth_weight_g, dx, px).drg

    def trace(self, *args, **kwargs) -> list[str]:
        return self.explain(*args, **kwargs).trace


def load(scheme_dir: pathlib.Path, fall_through: bool = False) -> Oracle:
    return Oracle(pathlib.Path(scheme_dir), fall_through=fall_through)
