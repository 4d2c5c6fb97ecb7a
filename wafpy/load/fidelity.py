"""How faithful each rule of a bundled managed rule group is: `<Group>.fidelity.toml`, read and checked.

wafpy's bundled groups (`rulesets/managed/`) are equivalents written by the project, not AWS's
rules, which AWS does not publish
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html). Beside
each `<Group>.json` a TOML file says, rule by rule, how close the equivalent is:

    group = "AWSManagedRulesCommonRuleSet"
    source = "https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html"

    [[rule]]
    name = "NoUserAgent_HEADER"
    tier = "exact"
    basis = "one sentence: why this tier"

`exact`: AWS documents the test fully; `documented-examples`: built from AWS's description and
examples, erring toward fewer matches; `heuristic`: a best guess at an undocumented test.

`read_fidelity` checks the file against the group's rules (one entry per rule, same names, same
order, a known tier, a basis) and raises `RulesetErrors` naming the file and what is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from wafpy import model as ast
from wafpy.errors import RulesetError, RulesetErrors

__all__ = ["TIERS", "fidelity_path", "parse_fidelity", "read_fidelity"]

TIERS: Final = ("exact", "documented-examples", "heuristic")


def fidelity_path(group_file: str | Path) -> Path:
    """`<Group>.fidelity.toml` beside `<Group>.json`."""
    path = Path(group_file)
    return path.with_name(path.name.removesuffix(".json") + ".fidelity.toml")


def _fail(source: str, problems: Sequence[str]) -> RulesetErrors:
    return RulesetErrors([RulesetError(p, source=source) for p in problems], source=source)


def parse_fidelity(
    doc: Mapping[str, Any], group: str, rule_names: Sequence[str], *, source: str
) -> tuple[ast.RuleFidelity, ...]:
    """The tier of each rule of `group`, in the order of `rule_names`, from a parsed TOML document."""
    problems: list[str] = []
    if doc.get("group") != group:
        problems.append(f"group = {doc.get('group')!r}, expected {group!r} (the JSON's RuleGroup Name)")
    if not isinstance(doc.get("source"), str) or not doc["source"]:
        problems.append("source: the URL of AWS's description of the group is missing")
    unknown = sorted(set(doc) - {"group", "source", "rule"})
    if unknown:
        problems.append(f"unknown keys {', '.join(unknown)} (expected group, source and [[rule]] tables)")
    entries = doc.get("rule", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append("rule: expected [[rule]] tables")
        entries = []
    found: list[ast.RuleFidelity] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        name, tier, basis = entry.get("name"), entry.get("tier"), entry.get("basis")
        where = f"[[rule]] {i + 1}" + (f" ({name})" if isinstance(name, str) else "")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: name is missing")
            continue
        if name in seen:
            problems.append(f"{where}: {name} is listed twice")
        seen.add(name)
        if name not in rule_names:
            problems.append(f"{where}: {name} is not a rule of {group}")
        if tier not in TIERS:
            problems.append(f"{where}: tier = {tier!r}, expected one of {', '.join(TIERS)}")
        if not isinstance(basis, str) or not basis.strip():
            problems.append(f"{where}: basis is missing (one sentence: why this tier)")
        extra = sorted(set(entry) - {"name", "tier", "basis"})
        if extra:
            problems.append(f"{where}: unknown keys {', '.join(extra)}")
        found.append(ast.RuleFidelity(name, str(tier), basis if isinstance(basis, str) else ""))
    missing = [n for n in rule_names if n not in seen]
    if missing:
        problems.append(f"no [[rule]] entry for {', '.join(missing)} (every rule needs exactly one)")
    listed = [f.rule for f in found if f.rule in rule_names]
    if not problems and listed != list(rule_names):
        problems.append(
            "the [[rule]] entries are not in the order of the JSON's rules: expected " + ", ".join(rule_names)
        )
    if problems:
        raise _fail(source, problems)
    return tuple(found)


def read_fidelity(group_file: str | Path, group: ast.RuleGroup) -> tuple[ast.RuleFidelity, ...]:
    """The tiers of `group`'s rules from the TOML file beside `group_file` (JSON rule order)."""
    path = fidelity_path(group_file)
    source = str(path)
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise _fail(source, [f"cannot read the fidelity file: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, [f"not valid TOML: {exc}"]) from None
    return parse_fidelity(doc, group.name, [r.name for r in group.rules], source=source)
