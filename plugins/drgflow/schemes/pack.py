"""Structural parser for a grouping pack in the published text layout (1.x; the JSON layout of 2.0 is
schemes.pack_json) (see ../shared/schemes/README.md).

It reads records, not lines: some records are wrapped onto one line and `~~` marks PDF page breaks,
so codes are found with patterns. The meaning of each ADRG section title (principal diagnosis list,
procedure tables, "同时包含" pairs …) is interpreted by the grouper import, not here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DX_CODE = r"[A-Z]\d{2}\.[\dx]\d{2}(?:x\d{3})?(?:\+[A-Z]\d{2}(?:\.\d{1,2})?\*)?"
# "86.700x0013" (three digits before a four-digit extension) occurs in the published 1.1 tables
PX_CODE = r"\d{2}\.(?:\d{4,5}|\d{3}[A-Z]\d|\dx\d{2}|\d{3}(?=x\d{4}))(?:x\d{3,4})?"
_CODE_RE = re.compile(rf"(?<![A-Za-z0-9.+])({DX_CODE}|{PX_CODE})(?![\w.])")
_DX_RE = re.compile(rf"^{DX_CODE}$")
_MDC_LINE = re.compile(r"^\s*MDC([A-Z])\s+(.*)$")
_ADRG_LINE = re.compile(r"^([A-Z]{2}\d)\s+(.+)$")
_DRG_LINE = re.compile(r"([A-Z]{2}\d[\dA-Z])\s+(\S[^\n]*?)(?=\s+[A-Z]{2}\d[\dA-Z]\s|$)")
_TABLE_REF = re.compile(r"表\s*7-(\d+)")


def is_dx(code: str) -> bool:
    """Is `code` an ICD-10 diagnosis code (not a procedure code)?"""
    return bool(_DX_RE.match(code))


def clean(text: str) -> str:
    """The text without `~~` page-break marks and byte-order marks."""
    return text.replace("~~", "").replace("\ufeff", "")


def codes_in(line: str) -> list[tuple[str, str]]:
    """(code, name) pairs found on a line, in order; the name runs to the next code."""
    matches = list(_CODE_RE.finditer(line))
    out = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        out.append((m.group(1), line[m.end():end].strip()))
    return out


@dataclass
class Section:
    """A titled list of codes within an MDC or ADRG entry, with each code's name."""
    title: str
    codes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class Adrg:
    """An ADRG: code, name, MDC letter and its entry sections."""
    code: str
    name: str
    mdc: str
    sections: list[Section] = field(default_factory=list)
    #: the rule as a JSON-layout pack states it (sections, formula, structured keys); None in the text layout
    rule: dict | None = None

    @property
    def kind(self) -> str:
        """surgical (A–J), non_or (K–Q) or medical (R–Z), from the second letter."""
        second = self.code[1]
        return "surgical" if second <= "J" else ("non_or" if second <= "Q" else "medical")


@dataclass
class Mdc:
    """An MDC: letter, name and its principal-diagnosis sections."""
    code: str
    name: str
    sections: list[Section] = field(default_factory=list)

    @property
    def principal_dx(self) -> list[str]:
        """Every code of the MDC's sections, in order."""
        return [c for s in self.sections for c in s.codes]


@dataclass
class Pack:
    """A parsed grouping pack: MDCs, ADRGs, DRGs, CC/MCC lists, exclusion tables, OR procedures, code names."""
    version: str
    path: Path
    mdcs: dict[str, Mdc]
    adrgs: dict[str, Adrg]
    drgs: list[tuple[str, str]]
    mcc: dict[str, int]
    cc: dict[str, int]
    cce: dict[int, list[str]]
    ss_valid: set[str]
    names: dict[str, str]
    #: diagnoses that may not be the principal diagnosis (2.0 zd_invalid): such a case is ungroupable
    dx_invalid: set[str] = field(default_factory=set)
    #: procedures that do not count as operating-room procedures (2.0 ss_invalid), when the pack lists those
    #: instead of the ones that do (ss_valid)
    px_non_or: set[str] = field(default_factory=set)
    #: the pack's own grouping switches (2.0 config.json "strategy")
    strategy: dict = field(default_factory=dict)


def _read(path: Path) -> list[str]:
    return [clean(line.rstrip("\r\n")) for line in path.read_text(encoding="utf-8").splitlines()]


def parse_detail(lines: list[str]) -> tuple[dict[str, Mdc], dict[str, Adrg], dict[str, str]]:
    """4_ADRG_DETAIL: the MDCs and ADRGs with their sections, and the code names found there."""
    mdcs: dict[str, Mdc] = {}
    adrgs: dict[str, Adrg] = {}
    names: dict[str, str] = {}
    current: Mdc | Adrg | None = None
    mdc_code = ""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        m = _MDC_LINE.match(text)
        if m and not codes_in(text):
            mdc_code = m.group(1)
            if mdc_code not in mdcs:
                mdcs[mdc_code] = Mdc(mdc_code, m.group(2).strip())
            current = mdcs[mdc_code]
            if m.group(2).strip().endswith("主诊表"):
                current.sections.append(Section("主诊表"))
            continue
        m = _ADRG_LINE.match(text)
        if m and not codes_in(text) and m.group(1)[0] == (mdc_code or m.group(1)[0]):
            current = adrgs.setdefault(m.group(1), Adrg(m.group(1), m.group(2).strip(), m.group(1)[0]))
            continue
        found = codes_in(text)
        if current is None:
            continue
        if found:
            if not current.sections:
                current.sections.append(Section(""))
            section = current.sections[-1]
            for code, name in found:
                if code not in section.names:
                    section.codes.append(code)
                section.names[code] = name
                if name and not name.startswith("#"):
                    names.setdefault(code, name)
        else:
            current.sections.append(Section(text))
    return mdcs, adrgs, names


def parse_mdc_folder(folder: Path, mdcs: dict[str, Mdc]) -> None:
    """MDC/ files hold each MDC's entry sections (e.g. MDCZ's body regions); they replace the detail's."""
    for f in sorted(folder.glob("MDC*.dat")):
        code = f.name[3]
        lines = [line.strip() for line in _read(f)]
        sections: list[Section] = []
        for text in lines:
            if not text:
                continue
            found = codes_in(text)
            if found:
                if not sections:
                    sections.append(Section(""))
                for c, name in found:
                    if c not in sections[-1].names:
                        sections[-1].codes.append(c)
                    sections[-1].names[c] = name
            else:
                sections.append(Section(text))
        # "包含以下主要诊断：" under a body-region title belongs to that region
        merged: list[Section] = []
        for s in sections:
            if merged and not merged[-1].codes and s.title.startswith("包含"):
                merged[-1].title = f"{merged[-1].title}|{s.title}" if merged[-1].title else s.title
                merged[-1].codes, merged[-1].names = s.codes, s.names
            else:
                merged.append(s)
        if code in mdcs:
            mdcs[code].sections = [s for s in merged if s.codes] or mdcs[code].sections
        else:
            mdcs[code] = Mdc(code, f.stem.split("_", 1)[-1], [s for s in merged if s.codes])


def parse_adrg_folder(folder: Path, adrgs: dict[str, Adrg]) -> None:
    """ADRG/ files fill in ADRGs whose detail entry has no rule (1.1 WJ1 reads only "包含全部手术" there)."""
    for f in sorted(folder.glob("*.dat")):
        code = f.name[:3]
        if code not in adrgs or adrgs[code].sections:
            continue
        for text in (line.strip() for line in _read(f)):
            found = codes_in(text)
            # a title may be glued to the first code ("包含全部手术86.7000 …"): split it off
            title = text[:text.find(found[0][0])].strip() if found else text
            if title:
                adrgs[code].sections.append(Section(title))
            if found:
                if not adrgs[code].sections:
                    adrgs[code].sections.append(Section(""))
                section = adrgs[code].sections[-1]
                for c, name in found:
                    if c not in section.names:
                        section.codes.append(c)
                    section.names[c] = name


def parse_code_table(lines: list[str]) -> dict[str, int | None]:
    """5_MCC / 6_CC: code -> exclusion table number (None where the table column says 无)."""
    out: dict[str, int | None] = {}
    text = " ".join(lines)  # names are sometimes wrapped onto the next line
    pattern = re.compile(rf"(?<![A-Za-z0-9.+])({DX_CODE})\s+(.*?)\s*(?:表\s*7-(\d+)|(?<=\s)无)(?=\s|$)")
    for m in pattern.finditer(text):
        out[m.group(1)] = int(m.group(3)) if m.group(3) else None
    # 1.0P prints these tables in PDF columns (a block of codes, a block of names, a block of 表 7-N):
    # when records are not inline, pair the codes and table references in file order if they tally.
    codes = [m.group(1) for line in lines for m in [re.match(rf"^\s*({DX_CODE})(?![\w.])", line)] if m]
    refs = [m.group(1) for line in lines for m in re.finditer(r"表\s*7-(\d+)|^\s*(?:无)\s*$", line)]
    if len(out) < len(codes) // 2 and len(codes) == len(refs):
        out = {c: (int(r) if r else None) for c, r in zip(codes, refs, strict=True)}
    return out


def parse_cce(lines: list[str]) -> dict[int, list[str]]:
    """7_CCE: exclusion table number -> its codes, in file order."""
    out: dict[int, list[str]] = {}
    table: int | None = None
    for line in lines:
        # a table header may share its line with codes of the previous table
        pieces = re.split(r"(表\s*7-\d+)", line)
        for piece in pieces:
            m = _TABLE_REF.fullmatch(piece.strip())
            if m:
                table = int(m.group(1))
                out.setdefault(table, [])
                continue
            if table is not None:
                for code, _ in codes_in(piece):
                    if code not in out[table]:
                        out[table].append(code)
    return out


def parse_list(lines: list[str], pattern: re.Pattern) -> list[tuple[str, str]]:
    """(code, name) of every match of `pattern` on the lines."""
    out = []
    for line in lines:
        out.extend((m.group(1), m.group(2).strip()) for m in pattern.finditer(line))
    return out


def load_pack(path: Path, version: str | None = None) -> Pack:
    """Parse the pack folder at `path` (version: the folder name unless given)."""
    path = Path(path)
    detail = _read(path / "4_ADRG_DETAIL.txt")
    mdcs, adrgs, names = parse_detail(detail)
    if (path / "MDC").is_dir():
        parse_mdc_folder(path / "MDC", mdcs)
    if (path / "ADRG").is_dir():
        parse_adrg_folder(path / "ADRG", adrgs)
    for line in _read(path / "1_MDC.txt"):
        m = _MDC_LINE.match(line)
        if m and m.group(1) in mdcs:
            mdcs[m.group(1)].name = m.group(2).strip()
        elif m:
            mdcs[m.group(1)] = Mdc(m.group(1), m.group(2).strip())
    drgs = parse_list(_read(path / "3_DRG.txt"), _DRG_LINE)
    ss_valid = {c for line in _read(path / "SS_VALID.txt") for c, _ in codes_in(line)}
    return Pack(
        version=version or path.name, path=path, mdcs=mdcs, adrgs=adrgs, drgs=drgs,
        mcc=parse_code_table(_read(path / "5_MCC.txt")), cc=parse_code_table(_read(path / "6_CC.txt")),
        cce=parse_cce(_read(path / "7_CCE.txt")), ss_valid=ss_valid, names=names,
    )
