"""The rule catalogue (expectations/rules/case_rules.yml): reading it and checking every rule's entry."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drgflow import config
from drgflow.errors import UserError
from drgflow.validation import checks
from drgflow.validation.sqltext import fill

GX_DIR = config.REPO_ROOT / "expectations"
CATALOGUE = GX_DIR / "rules" / "case_rules.yml"
SEVERITIES = ("reject", "warn")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,50}$")


@dataclass(frozen=True)
class Rule:
    """One catalogue entry."""
    id: str
    severity: str
    message_zh: str
    message_en: str
    check: str
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    reason: str = ""     # why this severity: what a failing case loses (grouping, payment) or why it only warns

    def message(self) -> str:
        """'中文 / English' with the params filled in."""
        return f"{fill(self.message_zh, self.params)} / {fill(self.message_en, self.params)}"


@dataclass
class Catalogue:
    """The rules in force, with the catalogue's name, version and file."""
    name: str
    version: str
    rules: list[Rule]
    path: Path

    def money_decimals(self) -> int:
        """Decimals a money value may have (the money parse rule's max_decimals; 2 without one)."""
        for r in self.rules:
            if r.enabled and r.check == "parse" and r.params.get("type") == "money":
                return int(r.params.get("max_decimals", 2))
        return 2


def catalogue_path() -> Path:
    """The catalogue in force: DRGFLOW_RULES (a bureau's own copy) or expectations/rules/case_rules.yml."""
    return Path(config.env("DRGFLOW_RULES") or CATALOGUE)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check the rule catalogue; a problem raises UserError naming the file and the rule."""
    path = Path(path or catalogue_path())
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the rule catalogue ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise UserError(f"{path}: expected a mapping with a 'rules' list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, entry in enumerate(doc["rules"], 1):
        rule = parse_rule(entry, f"{path.name}: rule #{n}", path.name)
        if rule.id in seen:
            raise UserError(f"{path.name}: rule {rule.id}: id used twice")
        seen.add(rule.id)
        rules.append(rule)
    return Catalogue(str(doc.get("catalogue", path.stem)), str(doc.get("version", "0")), rules, path)


def parse_rule(entry: Any, where: str, file_name: str = "") -> Rule:
    """One catalogue entry as a Rule, its params checked by its check kind; UserError names the rule."""
    if not isinstance(entry, dict):
        raise UserError(f"{where}: expected a mapping")
    rid = str(entry.get("id", ""))
    if not _RULE_ID.match(rid):
        raise UserError(f"{where}: id {rid!r} must be lower-case letters, digits and _ (max 51)")
    where = f"{file_name}: rule {rid}" if file_name else f"rule {rid}"
    for key in ("severity", "reason", "message_zh", "message_en", "check"):
        if not entry.get(key):
            raise UserError(f"{where}: '{key}' is missing")
    if entry["severity"] not in SEVERITIES:
        raise UserError(f"{where}: severity must be reject or warn, not {entry['severity']!r}")
    if entry["check"] not in checks.KINDS:
        raise UserError(f"{where}: unknown check {entry['check']!r} (one of {', '.join(checks.KINDS)})")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise UserError(f"{where}: params must be a mapping")
    rule = Rule(rid, entry["severity"], str(entry["message_zh"]), str(entry["message_en"]), entry["check"],
                params, bool(entry.get("enabled", True)), str(entry["reason"]))
    kind = checks.KINDS[rule.check]
    for key in kind.PARAMS:
        if key not in rule.params:
            raise UserError(f"{where}: check {rule.check} needs params.{key}")
    kind.check_params(rule.params, where)
    return rule
