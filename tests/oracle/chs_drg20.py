"""Independent CHS-DRG 2.0 test oracle.

Written only from the scheme pack and the reference notes:

* /work/shared/schemes/CHS-DRG-2.0/ (its README.md explains the JSON layout; the pack is parsed at
  run time, nothing is copied into this file)
* /work/shared/docs/drg-dip-reference.md  (cited below as "ref §x.y"; its §2.5 split table is binding)
* /work/shared/schemes/README.md

It shares no code with the production grouper (no ``drgflow`` import), nor with any public grouper,
and uses the Python standard library only.  Every rule that the pack does not state, and that was
taken from the reference document or from the group names, is marked ``CHOICE:`` and repeated in
README.md next to this file.

Public API (the same signature as chs_drg11.py, so tests can swap the two)::

    oracle = load(pathlib.Path("/work/shared/schemes/CHS-DRG-2.0"))
    oracle.group(sex, age_years, age_days, birth_weight_g, dx, px)  -> "HC23" / "HQY" / "0000"
    oracle.explain(...)                                              -> GroupTrace (code + trace)
    oracle.trace(...)                                                -> list[str]
    oracle.cc_status(dx)                                             -> "mcc" | "cc" | "none"
    oracle.split_pattern("HC2")                                      -> "3/5"
    oracle.group_many(cases)                                         -> list[str]
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from typing import Iterable

__all__ = ["load", "Oracle", "GroupTrace", "Rule", "Section", "compile_logic"]

# --------------------------------------------------------------------------------------------
# Section names (pack README "Reading of section names", ref §2.4)
# --------------------------------------------------------------------------------------------

# A section name is one of five base names, optionally followed by a number ("手术或操作 3").
_SECTION_NAME = re.compile(r"^(主要诊断|其他诊断|诊断|主要手术或操作|手术或操作)\s*(\d*)$")
# base name -> (category, position).  ref §2.4: a name containing 主要 = the FIRST code only; a
# name containing 其他 = secondary codes only; otherwise any code.
_SECTION_MEANING = {
    "主要诊断": ("dx", "principal"),
    "其他诊断": ("dx", "secondary"),
    "诊断": ("dx", "any"),
    "主要手术或操作": ("px", "principal"),
    "手术或操作": ("px", "any"),
}
_POSITION_TEXT = {"principal": "principal", "secondary": "a secondary position", "any": "any position"}
_KNOWN_RULE_KEYS = {"logic", "sections", "_logicRPN", "_logicCompileError", "requiredProcedureGroups",
                    "referencedADRGs", "requiredReferencedADRGs", "anyProcedureRequired",
                    "zeroProceduresRequired"}


@dataclasses.dataclass(frozen=True)
class Section:
    name: str  # as in the pack, e.g. "主要手术或操作 1"
    category: str  # "dx" | "px"
    position: str  # "principal" | "secondary" | "any"
    codes: frozenset

    def hit(self, dx: list[str], px: list[str]) -> str | None:
        """Return the code that satisfies the section, or None."""
        seq = dx if self.category == "dx" else px
        if self.position == "principal":
            cand = seq[:1]
        elif self.position == "secondary":
            cand = seq[1:]
        else:
            cand = seq
        for c in cand:
            if c in self.codes:
                return c
        return None


def _section(name: str, codes: list[str]) -> Section:
    m = _SECTION_NAME.match(name.strip())
    if not m:
        raise ValueError(f"unknown section name {name!r}")
    cat, pos = _SECTION_MEANING[m.group(1)]
    return Section(name=name, category=cat, position=pos, codes=frozenset(codes))


# --------------------------------------------------------------------------------------------
# The explicit entry formula ("logic"), parsed from its text
# --------------------------------------------------------------------------------------------


def compile_logic(logic: str, section_names: Iterable[str]) -> list:
    """Compile the scheme's formula text to postfix, independently of the pack's ``_logicRPN``.

    Grammar (pack README "How the grouping logic is encoded"): "+" = AND, "或" = OR, full-width
    （…） (or ASCII (…)) group; AND binds tighter than OR; both are left-associative.  Section names
    contain "或" themselves ("主要手术或操作 1"), so the known section names of the rule are matched
    first, longest first, with all white space removed.  Output: a list of section names (str) and
    the operators "&&" / "||" - the same shape as ``_logicRPN`` (whose operands are dicts), so the
    two can be compared at load time.
    """
    compact = re.sub(r"\s+", "", logic)
    names = sorted(((re.sub(r"\s+", "", n), n) for n in section_names), key=lambda t: -len(t[0]))
    tokens: list = []
    i = 0
    while i < len(compact):
        ch = compact[i]
        if ch in "（(":
            tokens.append("(")
            i += 1
            continue
        if ch in "）)":
            tokens.append(")")
            i += 1
            continue
        if ch == "+":
            tokens.append("&&")
            i += 1
            continue
        for short, full in names:
            if compact.startswith(short, i):
                tokens.append(("S", full))
                i += len(short)
                break
        else:
            if ch == "或":
                tokens.append("||")
                i += 1
                continue
            raise ValueError(f"cannot parse logic {logic!r} at {compact[i:]!r}")

    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def parse_or() -> list:
        nonlocal pos
        out = parse_and()
        while peek() == "||":
            pos += 1
            out = out + parse_and() + ["||"]
        return out

    def parse_and() -> list:
        nonlocal pos
        out = parse_atom()
        while peek() == "&&":
            pos += 1
            out = out + parse_atom() + ["&&"]
        return out

    def parse_atom() -> list:
        nonlocal pos
        t = peek()
        if t == "(":
            pos += 1
            out = parse_or()
            if peek() != ")":
                raise ValueError(f"unbalanced parenthesis in {logic!r}")
            pos += 1
            return out
        if isinstance(t, tuple):
            pos += 1
            return [t[1]]
        raise ValueError(f"unexpected token {t!r} in {logic!r}")

    postfix = parse_or()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens in {logic!r}")
    return postfix


def _pack_rpn_as_postfix(rpn: list) -> list:
    return [x["name"] if isinstance(x, dict) else x for x in rpn]


# --------------------------------------------------------------------------------------------
# ADRG rule
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Rule:
    """Entry rule of one ADRG, from adrg_rules.json.

    Forms (pack README "ADRG condition types"):
    * ``logic`` text (9 ADRGs): evaluated as written (compiled by ``compile_logic``);
    * no logic, only ``sections``: ref §2.4 "without an explicit logic line: OR inside a category
      (diagnosis or procedure), AND between categories";
    * ``requiredProcedureGroups``: one procedure (any position) from every list (raw AC1:
      "同时包含以下手术或操作: … 和 …");
    * ``referencedADRGs`` (+ ``requiredReferencedADRGs``): a procedure (any position) from the
      procedure lists of EVERY referenced ADRG when "required" (raw CB2 "同时包含 CB4 和 CB5 的手术或
      操作"), of ANY of them otherwise (WJ1);
    * ``anyProcedureRequired``: at least one procedure that counts (not in ss_invalid);
    * ``zeroProceduresRequired``: no procedure that counts.
    Keys present together are AND-ed (none of the 409 rules combines them).

    CHOICE (README C13): the referenced ADRG's "procedures" are all its procedure sections (and
    groups), matched at ANY position (raw CB2 says "…的手术或操作", and 手术或操作 without 主要 means any
    position); WJ1 has no raw text in the pack and is read the same way.  anyProcedureRequired /
    zeroProceduresRequired look at the procedures left after dropping ss_invalid (README C2).
    CHOICE (README C14): codes are compared as exact strings (dagger/asterisk suffix included).
    """

    adrg: str
    name: str
    sections: dict  # name -> Section
    logic: str = ""
    postfix: list | None = None
    required_groups: list = dataclasses.field(default_factory=list)  # list[frozenset]
    referenced: list = dataclasses.field(default_factory=list)  # ADRG codes
    referenced_all: bool = False
    any_px: bool = False
    zero_px: bool = False
    referenced_px: dict = dataclasses.field(default_factory=dict)  # ADRG -> frozenset, resolved later
    # MDCP conditions read from the group NAME (not in the data), see _name_conditions()
    age_days_range: tuple | None = None  # inclusive (lo, hi)
    weight_range: tuple | None = None  # inclusive (lo|None, hi|None)

    @property
    def kind(self) -> str:
        """surgical (A-J) / non_or (K-Q) / medical (R-Z): second letter, ref §2.1."""
        c = self.adrg[1]
        if "A" <= c <= "J":
            return "surgical"
        if "K" <= c <= "Q":
            return "non_or"
        return "medical"

    @property
    def form(self) -> str:
        """Short name of the rule form (used for the README counts and the self-check)."""
        if self.required_groups:
            return "requiredProcedureGroups"
        if self.referenced:
            return "referencedADRGs(all)" if self.referenced_all else "referencedADRGs(any)"
        if self.any_px:
            return "anyProcedureRequired"
        if self.zero_px:
            return "zeroProceduresRequired"
        if self.logic:
            return "logic formula"
        return "sections: " + " + ".join(sorted(self.sections))

    def text(self) -> str:
        """The pack rule text, readable (for the trace)."""
        parts = []
        if self.logic:
            parts.append(f"logic '{self.logic}'")
        elif self.sections:
            parts.append("sections " + ", ".join(
                f"{s.name}({len(s.codes)})" for s in self.sections.values())
                + " [no logic: OR inside dx / px category, AND between]")
        if self.required_groups:
            parts.append("requiredProcedureGroups " + " 和 ".join(f"[{len(g)} codes]" for g in self.required_groups))
        if self.referenced:
            parts.append(("requiredReferencedADRGs " if self.referenced_all else "referencedADRGs (any) ")
                         + "/".join(self.referenced))
        if self.any_px:
            parts.append("anyProcedureRequired")
        if self.zero_px:
            parts.append("zeroProceduresRequired")
        if self.age_days_range:
            parts.append(f"age_days {self.age_days_range[0]}..{self.age_days_range[1]} (from the name)")
        if self.weight_range:
            lo, hi = self.weight_range
            low, high = lo if lo is not None else "", hi if hi is not None else ""
            parts.append(f"birth weight {low}..{high} g (from the name)")
        return "; ".join(parts)

    # ------------------------------------------------------------ evaluation
    def match(self, dx: list[str], px: list[str], age_days: int | None, weight: int | None,
              newborn_ctx: bool) -> tuple[bool, str]:
        """(matched?, readable detail).  px holds only procedures that count (ss_invalid dropped)."""
        notes: list[str] = []
        hits = {name: s.hit(dx, px) for name, s in self.sections.items()}

        def sec_note(name: str) -> str:
            s = self.sections[name]
            h = hits[name]
            return f"{name}({_POSITION_TEXT[s.position]}) {'hit ' + h if h else 'miss'}"

        ok = True
        if self.logic:
            stack: list[bool] = []
            for tok in self.postfix:
                if tok == "&&":
                    b, a = stack.pop(), stack.pop()
                    stack.append(a and b)
                elif tok == "||":
                    b, a = stack.pop(), stack.pop()
                    stack.append(a or b)
                else:
                    stack.append(hits[tok] is not None)
            ok = stack.pop()
            notes.append(f"formula = {ok}: " + ", ".join(sec_note(n) for n in self.sections))
        elif self.sections:
            by_cat: dict[str, list[str]] = {}
            for name, s in self.sections.items():
                by_cat.setdefault(s.category, []).append(name)
            for names in by_cat.values():
                cat_ok = any(hits[n] is not None for n in names)
                ok = ok and cat_ok
            notes.append(", ".join(sec_note(n) for n in self.sections))
        if self.required_groups:
            gh = []
            for g in self.required_groups:
                h = next((p for p in px if p in g), None)
                gh.append(h)
            ok = ok and all(h is not None for h in gh)
            notes.append("requiredProcedureGroups " + " 和 ".join(h or "miss" for h in gh))
        if self.referenced:
            rh = {a: next((p for p in px if p in self.referenced_px[a]), None) for a in self.referenced}
            if self.referenced_all:
                ok = ok and all(h is not None for h in rh.values())
            else:
                ok = ok and any(h is not None for h in rh.values())
            notes.append(("required " if self.referenced_all else "any of ") + ", ".join(
                f"{a}:{h or 'miss'}" for a, h in rh.items()))
        if self.any_px:
            ok = ok and bool(px)
            notes.append(f"anyProcedureRequired: {'px ' + px[0] if px else 'no procedure'}")
        if self.zero_px:
            ok = ok and not px
            notes.append(f"zeroProceduresRequired: {'no procedure' if not px else 'has ' + px[0]}")
        if self.age_days_range is not None:
            lo, hi = self.age_days_range
            a_ok = newborn_ctx and age_days is not None and lo <= age_days <= hi
            ok = ok and a_ok
            notes.append(f"age_days {age_days} in {lo}..{hi}: {a_ok}")
        if self.weight_range is not None:
            lo, hi = self.weight_range
            w_ok = weight is not None and (lo is None or weight >= lo) and (hi is None or weight <= hi)
            ok = ok and w_ok
            notes.append(f"birth weight {weight} in {lo}..{hi}: {w_ok}")
        return ok, "; ".join(notes)


# CHOICE (README C5/C6): the age and weight conditions of MDCP live in the group NAMES only
# (pack README "Age, sex and weight conditions are not in the data").  They are read from the names
# at load time:
#   "29天≤出生年龄＜1周岁"               -> age_days 29..364                         (PV1)
#   "出生年龄＜29天", "新生儿", "足月儿",
#   "出生体重…" (the PS groups)          -> newborn: age_days 0..28                  (ref §2.3:
#                                          "PS1-4 need ageDay<=28", "PU1 term newborn (ageDay<=28)")
#   "出生体重＜N g" / "N-M g" / "＞N g"  -> weight bands: <=N-1 / N..M / >=N+1      (PS1-PS4)
_NEWBORN_MAX_DAYS = 28
_INFANT_MAX_DAYS = 364


def _name_conditions(rule: Rule) -> None:
    n = rule.name
    if rule.adrg[0] != "P":
        return
    m = re.search(r"(\d+)天≤出生年龄＜1周岁", n)
    if m:
        rule.age_days_range = (int(m.group(1)), _INFANT_MAX_DAYS)
    elif "出生年龄＜29天" in n or "新生儿" in n or "足月儿" in n or "出生体重" in n:
        rule.age_days_range = (0, _NEWBORN_MAX_DAYS)
    else:
        raise ValueError(f"{rule.adrg} {n}: no age condition can be read from the name")
    m = re.search(r"出生体重＜(\d+)g", n)
    if m:
        rule.weight_range = (None, int(m.group(1)) - 1)
    m = re.search(r"出生体重(\d+)-(\d+)g", n)
    if m:
        rule.weight_range = (int(m.group(1)), int(m.group(2)))
    m = re.search(r"出生体重＞(\d+)g", n)
    if m:
        rule.weight_range = (int(m.group(1)) + 1, None)


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

# ref §2.3: pre-MDC, in this order: A, P, Y, Z; then the MDC of the principal diagnosis.
# CHOICE (README C9): the remaining MDCs are tried in pack order (B..X).  The order does not change
# any result: outside Z the only overlap of the 2.0 lists is M/N (14 codes), separated by sex
# (checked at load, see ``overlaps``).
PRE_MDC = ["A", "P", "Y", "Z"]


class Oracle:
    def __init__(self, scheme_dir: pathlib.Path, fall_through: bool = False, qy_enabled: bool = True):
        self.scheme_dir = pathlib.Path(scheme_dir)
        self.fall_through = fall_through
        self.qy_enabled = qy_enabled
        self.mdc_names: dict[str, str] = {}
        self.mdc_order: list[str] = []
        self.mdc_dx: dict[str, frozenset] = {}
        self.mdcz_region: dict[str, set[str]] = {}
        self.mdcz_regions: list[str] = []
        self.adrg_names: dict[str, str] = {}
        self.adrg_order: list[str] = []
        self.rules: dict[str, Rule] = {}
        self.drgs: dict[str, list[str]] = {}  # ADRG -> DRG codes
        self.drg_names: dict[str, str] = {}
        self.drg_condition: dict[str, str] = {}
        self.mcc: dict[str, str] = {}  # code -> exclusion table id
        self.cc: dict[str, str] = {}
        self.cce: dict[str, str] = {}  # principal dx -> exclusion table id
        self.zd_invalid: frozenset = frozenset()
        self.ss_invalid: frozenset = frozenset()
        self.mdcy_principal_only = False
        self.load_warnings: list[str] = []
        self.overlaps: dict[str, set[str]] = {}
        self._load()

    # ---------------------------------------------------------------- loading
    def _json(self, rel: str):
        return json.loads((self.scheme_dir / rel).read_text(encoding="utf-8-sig"))

    def _load(self) -> None:
        # config.json: {"strategy": {"mdcyPrincipalDiagnosisOnly": false}} (pack README; ref §2.6)
        cfg = self._json("config.json")
        self.mdcy_principal_only = bool(cfg.get("strategy", {}).get("mdcyPrincipalDiagnosisOnly", False))

        # MDCs
        for x in self._json("generated/mdc_rules.json"):
            code = x["code"]
            if not re.fullmatch(r"MDC[A-Z]", code):
                raise ValueError(f"bad MDC code {code!r}")
            letter = code[3]
            self.mdc_names[letter] = x["name"]
            self.mdc_order.append(letter)
            codes = set(x.get("identifyingDiagnoses") or [])
            if "mdczCategories" in x:
                for region, lst in x["mdczCategories"].items():
                    self.mdcz_regions.append(region)
                    for c in lst:
                        self.mdcz_region.setdefault(c, set()).add(region)
                        codes.add(c)
            self.mdc_dx[letter] = frozenset(codes)
        if len(self.mdc_names) != 26:
            raise ValueError(f"expected 26 MDCs, got {len(self.mdc_names)}")
        for c, regs in self.mdcz_region.items():
            if len(regs) > 1:
                self.load_warnings.append(f"MDCZ: {c} in regions {sorted(regs)}")
        # codes on more than one MDC list
        where: dict[str, set[str]] = {}
        for letter, codes in self.mdc_dx.items():
            for c in codes:
                where.setdefault(c, set()).add(letter)
        self.overlaps = {c: v for c, v in where.items() if len(v) > 1}

        # ADRG names: raw/ADRG.dat "CODE NAME" (same order as the JSON), cross-checked
        dat_order = []
        dat_path = self.scheme_dir / "raw" / "ADRG.dat"
        if dat_path.is_file():
            for line in dat_path.read_text(encoding="utf-8-sig").splitlines():
                line = line.strip()
                if line:
                    dat_order.append(line.split(None, 1)[0])

        # ADRG rules
        for x in self._json("generated/adrg_rules.json"):
            a = x["code"]
            ru = x["rule"]
            unknown = set(ru) - _KNOWN_RULE_KEYS
            if unknown:
                raise ValueError(f"{a}: unknown rule keys {sorted(unknown)}")
            if ru.get("_logicCompileError"):
                raise ValueError(f"{a}: pack says the logic did not compile: {ru['_logicCompileError']}")
            rule = Rule(adrg=a, name=x["name"],
                        sections={n: _section(n, codes) for n, codes in ru.get("sections", {}).items()},
                        logic=(ru.get("logic") or "").strip())
            if rule.logic:
                rule.postfix = compile_logic(rule.logic, rule.sections)
                pack = _pack_rpn_as_postfix(ru.get("_logicRPN") or [])
                if rule.postfix != pack:
                    self.load_warnings.append(f"{a}: logic text compiles to {rule.postfix}, pack RPN is {pack}")
                unused = set(rule.sections) - set(rule.postfix)
                if unused:
                    self.load_warnings.append(f"{a}: sections not used by the logic: {sorted(unused)}")
            rule.required_groups = [frozenset(g) for g in ru.get("requiredProcedureGroups") or []]
            rule.referenced = list(ru.get("referencedADRGs") or [])
            req = list(ru.get("requiredReferencedADRGs") or [])
            if req and sorted(req) != sorted(rule.referenced):
                raise ValueError(f"{a}: requiredReferencedADRGs differs from referencedADRGs")
            rule.referenced_all = bool(req)
            rule.any_px = bool(ru.get("anyProcedureRequired"))
            rule.zero_px = bool(ru.get("zeroProceduresRequired"))
            if not (rule.sections or rule.required_groups or rule.referenced or rule.any_px or rule.zero_px):
                raise ValueError(f"{a}: empty rule")
            _name_conditions(rule)
            self.rules[a] = rule
            self.adrg_order.append(a)
            self.adrg_names[a] = x["name"]
        if len(self.adrg_order) != 409:
            raise ValueError(f"expected 409 ADRGs, got {len(self.adrg_order)}")
        if dat_order and dat_order != self.adrg_order:
            self.load_warnings.append("raw/ADRG.dat order differs from adrg_rules.json")
        for a, rule in self.rules.items():
            for ref in rule.referenced:
                if ref not in self.rules:
                    raise ValueError(f"{a}: referenced ADRG {ref} does not exist")
                target = self.rules[ref]
                codes: set[str] = set()
                for s in target.sections.values():
                    if s.category == "px":
                        codes |= s.codes
                for g in target.required_groups:
                    codes |= g
                if not codes:
                    raise ValueError(f"{a}: referenced ADRG {ref} has no procedure list")
                rule.referenced_px[ref] = frozenset(codes)
        # ADRG order inside an MDC must be surgical -> non-OR -> medical (ref §2.3) for the QY step
        rank = {"surgical": 0, "non_or": 1, "medical": 2}
        for letter in self.mdc_order:
            ks = [rank[self.rules[a].kind] for a in self.adrg_order if a[0] == letter]
            if ks != sorted(ks):
                self.load_warnings.append(f"MDC{letter}: ADRG order is not surgical -> non-OR -> medical")

        # DRGs: versions/DRG.dat (CODE<TAB>NAME) and versions/generated/drg_rules.json (conditions)
        for line in (self.scheme_dir / "versions" / "DRG.dat").read_text(encoding="utf-8-sig").splitlines():
            if not line.strip():
                continue
            code, name = line.split("\t", 1)
            self.drg_names[code.strip()] = name.strip()
            self.drgs.setdefault(code.strip()[:3], []).append(code.strip())
        if len(self.drg_names) != 634:
            raise ValueError(f"expected 634 DRGs, got {len(self.drg_names)}")
        suffix_of = {"WITH_MCC": "1", "WITH_CC": "3", "NO_CC": "5", "ADRG_ONLY": "9"}
        for x in self._json("versions/generated/drg_rules.json"):
            conds = x["conditions"]
            if len(conds) != 1 or conds[0] not in suffix_of:
                raise ValueError(f"{x['drgCode']}: condition {conds} is not one of {sorted(suffix_of)}")
            if any(x.get(k) for k in ("diagnosisCodes", "procedureCodes", "diagnosisPrefixes", "procedurePrefixes")):
                raise ValueError(f"{x['drgCode']}: DRG-level code lists are not supported")
            self.drg_condition[x["drgCode"]] = conds[0]
            if x["drgCode"][3] != suffix_of[conds[0]]:
                self.load_warnings.append(f"{x['drgCode']}: condition {conds[0]} does not match its last digit")
            if x["adrgCode"] != x["drgCode"][:3]:
                self.load_warnings.append(f"{x['drgCode']}: adrgCode {x['adrgCode']}")
        if set(self.drg_condition) != set(self.drg_names):
            self.load_warnings.append("drg_rules.json and DRG.dat list different DRGs")
        for a in self.adrg_order:
            if a not in self.drgs:
                raise ValueError(f"ADRG {a} has no DRG")
            self.split_pattern(a)  # raises on an unknown pattern

        # MCC / CC / exclusion (pack README "Exclusion"; ref §2.5)
        self.mcc = {k: str(v) for k, v in self._json("generated/mcc_codes.json").items()}
        self.cc = {k: str(v) for k, v in self._json("generated/cc_codes.json").items()}
        self.cce = {k: str(v) for k, v in self._json("generated/cce_codes.json").items()}
        both = set(self.mcc) & set(self.cc)
        if both:
            self.load_warnings.append(f"{len(both)} codes are both MCC and CC")
        tables = set(self.cce.values())
        for name, d in (("MCC", self.mcc), ("CC", self.cc)):
            missing = {t for t in d.values() if t not in tables}
            if missing:
                self.load_warnings.append(f"{name} points to exclusion tables absent from cce: {sorted(missing)}")

        self.zd_invalid = frozenset(k for k, v in self._json("generated/zd_invalid.json").items() if v)
        self.ss_invalid = frozenset(k for k, v in self._json("generated/ss_invalid.json").items() if v)

    # ---------------------------------------------------------------- CC / MCC
    def _excluded(self, principal: str, table: str) -> bool:
        """pack README "Exclusion": d is excluded when cce[principal] == table of d."""
        return self.cce.get(principal) == table

    def cc_detail(self, dx: list[str]) -> tuple[str, str]:
        """ref §2.5: 'mcc' if any SECONDARY dx is a non-excluded MCC, else 'cc' if any secondary dx
        is a non-excluded CC, else 'none'.  The principal itself never counts.

        CHOICE (README C10): a secondary diagnosis equal to the principal is treated like any other
        secondary (it is normally excluded by its own table); a code on both lists would be an MCC
        only (no code of the 2.0 pack is on both)."""
        if not dx:
            return "none", "no diagnosis"
        p = dx[0]
        notes = []
        status = "none"
        for d in dx[1:]:
            if d in self.mcc:
                t = self.mcc[d]
                if self._excluded(p, t):
                    notes.append(f"{d} MCC excluded (table {t} holds principal {p})")
                else:
                    notes.append(f"{d} MCC (table {t}; principal in table {self.cce.get(p, '-')})")
                    return "mcc", "; ".join(notes)
            elif d in self.cc:
                t = self.cc[d]
                if self._excluded(p, t):
                    notes.append(f"{d} CC excluded (table {t} holds principal {p})")
                else:
                    notes.append(f"{d} CC (table {t}; principal in table {self.cce.get(p, '-')})")
                    status = "cc"
        return status, "; ".join(notes) or "no MCC/CC secondary"

    def cc_status(self, dx: list[str]) -> str:
        return self.cc_detail(list(dx))[0]

    def split_pattern(self, adrg: str) -> str:
        digits = sorted({c[3] for c in self.drgs.get(adrg, [])})
        pat = "/".join(digits)
        if pat not in ("9", "1/3/5", "3/5", "1/5"):
            raise ValueError(f"{adrg}: unexpected split pattern {pat!r}")
        return pat

    def _drg_for(self, adrg: str, status: str) -> str:
        """ref §2.5 binding split table."""
        pat = self.split_pattern(adrg)
        if pat == "9":
            return adrg + "9"
        if pat == "1/3/5":
            return adrg + {"mcc": "1", "cc": "3", "none": "5"}[status]
        if pat == "3/5":
            return adrg + ("3" if status in ("mcc", "cc") else "5")
        return adrg + ("1" if status == "mcc" else "5")  # 1/5

    # ---------------------------------------------------------------- MDC entry
    def _mdc_entry(self, letter: str, ctx: dict) -> tuple[bool, str]:
        dx = ctx["dx"]
        p = dx[0]
        if letter == "Y":
            # CHOICE (README C12): pack config.json mdcyPrincipalDiagnosisOnly=false, read by its name
            # (ref §2.3/§2.6: CHS-DRG-Grouper 2.0 enters MDCY with ANY dx on the MDCY list).
            if self.mdcy_principal_only:
                hit = p if p in self.mdc_dx["Y"] else None
            else:
                hit = next((d for d in dx if d in self.mdc_dx["Y"]), None)
            found = "dx " + hit + " in the MDCY list" if hit else "no dx in the MDCY list"
            return hit is not None, f"MDCY: {found}" + \
                f" (mdcyPrincipalDiagnosisOnly={self.mdcy_principal_only})"
        if letter == "Z":
            if p not in self.mdc_dx["Z"]:
                return False, "MDCZ: principal dx not in any mdczCategories list"
            # CHOICE (README C7): ref §2.3 - principal dx in the MDCZ lists AND the diagnoses
            # (principal included) cover >= 2 distinct body regions.
            regions: set[str] = set()
            for d in dx:
                regions |= self.mdcz_region.get(d, set())
            return len(regions) >= 2, f"MDCZ: principal {p} in MDCZ; regions covered {sorted(regions)} (need >= 2)"
        if letter == "M":
            # CHOICE (README C8): MDCM males only (ref §2.3, schemes/README.md)
            return p in self.mdc_dx["M"] and ctx["sex"] == 1, "MDCM: principal dx in the MDCM list and sex 1 (male)"
        if letter == "N":
            return p in self.mdc_dx["N"] and ctx["sex"] == 2, "MDCN: principal dx in the MDCN list and sex 2 (female)"
        return p in self.mdc_dx[letter], f"MDC{letter}: principal dx {p} in identifyingDiagnoses"

    # ---------------------------------------------------------------- grouping
    def _try_adrgs(self, letter: str, ctx: dict, tr: GroupTrace, qy: bool) -> str | None:
        """Try the ADRGs of an MDC in pack order.  Returns the ADRG, 'QY', or None."""
        checked_qy = False
        for a in self.adrg_order:
            if a[0] != letter:
                continue
            rule = self.rules[a]
            if qy and not checked_qy and rule.kind == "medical":
                checked_qy = True
                # ref §2.3 step 3 / §2.6: after the surgical and non-OR ADRGs fail, a case that
                # still has an operating-room procedure is ambiguous (xQY).
                # CHOICE (README C3): operating-room procedure = any procedure NOT in ss_invalid.json
                # (those were dropped before grouping, so: any procedure left).
                if self.qy_enabled and ctx["px"]:
                    tr.trace.append(f"MDC{letter}: no surgical / non-OR ADRG matched and procedure "
                                    f"{ctx['px'][0]} is not in ss_invalid -> {letter}QY")
                    return "QY"
            ok, detail = rule.match(ctx["dx"], ctx["px"], ctx["age_days"], ctx["weight"], ctx["infant"])
            if ok:
                tr.trace.append(f"ADRG {a} {rule.name} [{rule.kind}] matched: rule {rule.text()} -> {detail}")
                return a
        if qy and not checked_qy and self.qy_enabled and ctx["px"]:
            # an MDC without medical ADRGs (none in 2.0) would reach QY here
            tr.trace.append(f"MDC{letter}: no ADRG matched, procedure {ctx['px'][0]} -> {letter}QY")
            return "QY"
        return None

    def explain(self, sex: int, age_years: int, age_days: int | None, birth_weight_g: int | None,
                dx: Iterable[str], px: Iterable[str]) -> GroupTrace:
        dx = [c.strip() for c in (dx or []) if c and c.strip()]
        px_in = [c.strip() for c in (px or []) if c and c.strip()]
        tr = GroupTrace(drg="0000")
        # 0. validation (ref §2.3 step 0) -> 0000
        # CHOICE (README C11): the 1.1 oracle's checks are kept unchanged.
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
        if age_years == 0 and age_days is not None and age_days <= _NEWBORN_MAX_DAYS and birth_weight_g is None:
            tr.reason = "age_days <= 28 needs birth weight"
            return tr
        # ref §2.3 step 0: principal dx in ZD_INVALID -> 0000 (pack generated/zd_invalid.json)
        if dx[0] in self.zd_invalid:
            tr.reason = f"principal dx {dx[0]} is in zd_invalid.json (may not be the principal diagnosis)"
            tr.trace.append(tr.reason)
            return tr
        # ref §2.3 step 0: a procedure in SS_INVALID does not count -> drop it, the next one shifts up.
        # CHOICE (README C2): dropped at every position, not only the principal one.
        dropped = [p for p in px_in if p in self.ss_invalid]
        px_ok = [p for p in px_in if p not in self.ss_invalid]
        if dropped:
            tr.trace.append(f"procedures in ss_invalid.json dropped: {dropped}; principal procedure now "
                            f"{px_ok[0] if px_ok else '(none)'}")
        # CHOICE (README C5): infant = age_years 0 and 0 <= age_days <= 364 (ref §2.6: 2.0 uses
        # ageInDays < 365); MDCP is never entered at age_years >= 1.
        infant = age_years == 0 and age_days is not None and 0 <= age_days <= _INFANT_MAX_DAYS
        ctx = {"sex": sex, "age_years": age_years, "age_days": age_days, "weight": birth_weight_g,
               "dx": dx, "px": px_ok, "infant": infant}
        status, cc_note = self.cc_detail(dx)
        tr.cc_status = status
        tr.trace.append(f"cc status {status}: {cc_note}")

        def finish(letter: str, a: str) -> GroupTrace:
            tr.mdc, tr.adrg = letter, a
            tr.drg = self._drg_for(a, status)
            tr.trace.append(f"DRG: {a} split pattern {self.split_pattern(a)} (ref §2.5) with cc status {status} "
                            f"-> {tr.drg} {self.drg_names.get(tr.drg, '')}")
            tr.reason = "grouped"
            return tr

        # 1. pre-MDC A and P: entered only through one of their own ADRG rules.
        # CHOICE (README C4): MDCA has no identifying list (pack README: "its ADRGs are entered
        # through their own procedure rules"); every case is tried against AA1..AH2, and one that
        # matches none of them carries on.  No xQY in MDCA.
        a = self._try_adrgs("A", ctx, tr, qy=False)
        if a:
            tr.trace.insert(-1, "MDCA: entered through an ADRG rule")
            return finish("A", a)
        # CHOICE (README C5): MDCP has an empty list; an infant (see above) is tried against
        # PB1..PV1 with their name conditions; it is grouped to MDCP only when one matches,
        # otherwise it carries on to the MDC of its principal dx.  No xQY in MDCP.
        if infant:
            a = self._try_adrgs("P", ctx, tr, qy=False)
            if a:
                tr.trace.insert(-1, f"MDCP: infant (age_days {age_days}) entered through an ADRG rule")
                return finish("P", a)
            tr.trace.append(f"MDCP: infant (age_days {age_days}) but no MDCP ADRG matched; carry on")

        order = ["Y", "Z"] + [m for m in self.mdc_order if m not in PRE_MDC]
        for letter in order:
            ok, why = self._mdc_entry(letter, ctx)
            if not ok:
                if letter in ("Z",) and dx[0] in self.mdc_dx["Z"]:
                    tr.trace.append(why + " -> not entered")
                continue
            tr.trace.append(why)
            a = self._try_adrgs(letter, ctx, tr, qy=True)
            if a == "QY":
                tr.mdc = letter
                tr.drg = f"{letter}QY"
                tr.reason = "ambiguous (QY)"
                return tr
            if a:
                return finish(letter, a)
            tr.trace.append(f"MDC{letter}: no ADRG matched")
            # CHOICE (README C1): ref §2.3 step 3 "no ADRG -> x00 / 0000": no fall-through to a later
            # MDC (switch fall_through=True tries the next MDC instead).
            if self.fall_through:
                continue
            tr.mdc = letter
            tr.reason = f"MDC{letter} entered but no ADRG matched (x00)"
            return tr
        tr.reason = "principal dx not in any MDC list"
        tr.trace.append(tr.reason)
        return tr

    def group(self, sex: int, age_years: int, age_days: int | None, birth_weight_g: int | None,
              dx: list[str], px: list[str]) -> str:
        return self.explain(sex, age_years, age_days, birth_weight_g, dx, px).drg

    def trace(self, *args, **kwargs) -> list[str]:
        return self.explain(*args, **kwargs).trace

    def group_many(self, cases: Iterable) -> list[str]:
        """cases: iterable of (sex, age_years, age_days, birth_weight_g, dx, px) tuples or dicts
        with those keys."""
        out = []
        for c in cases:
            if isinstance(c, dict):
                out.append(self.group(c["sex"], c["age_years"], c.get("age_days"), c.get("birth_weight_g"),
                                      c["dx"], c.get("px") or []))
            else:
                out.append(self.group(*c))
        return out


def load(scheme_dir: pathlib.Path, fall_through: bool = False, qy_enabled: bool = True) -> Oracle:
    return Oracle(pathlib.Path(scheme_dir), fall_through=fall_through, qy_enabled=qy_enabled)
