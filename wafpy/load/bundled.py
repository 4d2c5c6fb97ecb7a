"""wafpy's bundled managed rule groups (`managed="bundled"`): where they are, which exist, which
cannot exist, and how one is built.

The bundled groups are independent equivalents written by the project, not AWS's rules (AWS does
not publish them: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html).
Each is `rulesets/managed/<Name>.json` (get-rule-group output with `VendorName` beside it) and
`<Name>.fidelity.toml` (each rule's tier, `wafpy.load.fidelity`). A wheel ships the folder as
`wafpy/rulesets/managed/` (pyproject force-include); a source checkout keeps it at the repository's
`rulesets/managed/`. `bundled_folder` finds it; tests point `folder_override` elsewhere.

Some AWS groups stand on data AWS keeps to itself (`PRIVATE_DATA`): they are never bundled, and
the refusal says what to do instead. The two IP-list groups are bundled with AWS's rule names and
labels but evaluate the user's lists (`wafpy.load.iplists`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from wafpy import model as ast
from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.fidelity import read_fidelity
from wafpy.load.iplists import IP_LIST_GROUPS, IpListResolver, IpLists
from wafpy.load.jsontree import JObject, JString, JValue
from wafpy.load.resources import Entry, LoadEntry, ResourceResolver

__all__ = [
    "PRIVATE_DATA",
    "BundledRules",
    "bundled_folder",
    "bundled_groups",
    "bundled_label_rules",
    "folder_override",
    "rule_tiers",
    "why_not_bundled",
]

# What each group needs that only AWS has
# (https://docs.aws.amazon.com/waf/latest/developerguide/waf-managed-protections.html,
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-ip-rep.html).
PRIVATE_DATA: Final[Mapping[str, str]] = {
    "AWSManagedRulesAmazonIpReputationList": "Amazon's threat-intelligence IP lists",
    "AWSManagedRulesAnonymousIpList": "AWS's lists of VPN, proxy, Tor and hosting-provider addresses",
    "AWSManagedRulesBotControlRuleSet": "AWS's bot signatures, verification and client-session tracking",
    "AWSManagedRulesATPRuleSet": "AWS's stolen-credential database and login tracking",
    "AWSManagedRulesACFPRuleSet": "AWS's stolen-credential database and account-creation tracking",
    "AWSManagedRulesAntiDDoSRuleSet": "AWS's traffic baselines and DDoS event detection",
}

# The installed package's own folder (site-packages/wafpy in a wheel install).
PACKAGE_DIR: Final = Path(__file__).resolve().parents[1]

# Tests set this to a folder of their own; None: the package's folder.
folder_override: Path | None = None


def _packaged() -> Path | None:
    """wafpy/rulesets/managed/ of an installed wheel (the package is plain files on disk).

    Found beside the package's own files rather than through importlib.resources, which would
    import tempfile, shutil, zipfile, bz2 and lzma into every process that imports wafpy.
    """
    folder = PACKAGE_DIR / "rulesets" / "managed"
    return folder if folder.is_dir() else None


def _checkout() -> Path | None:
    """<repository>/rulesets/managed/ of a source checkout or editable install."""
    folder = Path(__file__).resolve().parents[2] / "rulesets" / "managed"
    return folder if folder.is_dir() else None


def bundled_folder() -> Path | None:
    """The folder of the bundled groups, or None when wafpy was installed without it."""
    if folder_override is not None:
        return folder_override
    return _packaged() or _checkout()


def bundled_groups() -> list[str]:
    """The names of the bundled groups, sorted."""
    folder = bundled_folder()
    if folder is None:
        return []
    return sorted(p.name.removesuffix(".json") for p in folder.glob("*.json") if not p.name.startswith("."))


def why_not_bundled(vendor: str, name: str, ip_lists: bool) -> str:
    """Why managed="bundled" gives no rules for this group, and what to do instead."""
    if vendor.casefold() == "aws" and name in IP_LIST_GROUPS and not ip_lists:
        rules = ", ".join(IP_LIST_GROUPS[name])
        return (
            f"its IP lists are AWS's private data ({PRIVATE_DATA[name]}): give your own with "
            f"managed_ip_lists= (--managed-ip-lists FILE), a JSON object rule name -> CIDRs for {rules}; "
            'or replay it from AWS WAF logs with managed="log" (wafpy eval)'
        )
    if vendor.casefold() == "aws" and name in PRIVATE_DATA:
        return (
            f"wafpy cannot bundle it: it stands on {PRIVATE_DATA[name]}. Replay it from AWS WAF logs "
            'with managed="log" (wafpy eval), or give a rule group file of your own '
            '(managed=["bundled", PATH])'
        )
    available = ", ".join(bundled_groups()) or "none"
    return f"wafpy bundles no equivalent of it (bundled: {available})"


def bundled_label_rules(vendor: str, name: str) -> dict[str, str]:
    """Each label (fully qualified) the group's rules add -> the rule that adds it, as AWS documents
    them and the bundled file writes them; {} when the group is not bundled.

    A label is not always its rule's name (the Core rule set's UserAgent_BadBots_HEADER adds
    `...:core-rule-set:BadBots_Header`: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html),
    so a group replayed from the log (`managed="log"`) links a logged label to its rule by this.
    Only names are read: the tests over rulesets/managed/ check the files themselves.
    """
    folder = bundled_folder()
    if vendor.casefold() != "aws" or folder is None or not (folder / f"{name}.json").is_file():
        return {}
    try:
        doc = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    group = doc.get("RuleGroup") if isinstance(doc, dict) else None
    if not isinstance(group, dict):
        return {}
    namespace = group.get("LabelNamespace")
    rules = group.get("Rules")
    out: dict[str, str] = {}
    for rule in rules if isinstance(namespace, str) and isinstance(rules, list) else ():
        rule_name = rule.get("Name") if isinstance(rule, dict) else None
        labels = rule.get("RuleLabels") if isinstance(rule, dict) else None
        if not isinstance(rule_name, str) or not isinstance(labels, list):
            continue
        for label in labels:
            if isinstance(label, dict) and isinstance(label.get("Name"), str):
                out.setdefault(f"{namespace}{label['Name']}", rule_name)
    return out


def _text(node: JValue | None, key: str) -> str | None:
    value = node.get(key) if isinstance(node, JObject) else None
    return value.value if isinstance(value, JString) else None


@dataclass
class BundledRules:
    """The builder's source of bundled groups: each read, built and given its tiers on first use."""

    read: Callable[[str], tuple[JValue, str]]
    load: LoadEntry
    resolver: ResourceResolver
    ip_lists: IpLists | None = None
    _built: dict[str, ast.RuleGroup] = field(default_factory=dict)

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None:
        # A bundled file has no Version: it serves statements with any Version or none.
        if vendor.casefold() != "aws" or (name in IP_LIST_GROUPS and self.ip_lists is None):
            return None
        if name not in self._built:
            folder = bundled_folder()
            path = folder / f"{name}.json" if folder is not None else None
            if path is None or not path.is_file():
                return None
            self._built[name] = self._build(str(path), name)
        return self._built[name], "bundled"

    def _build(self, path: str, name: str) -> ast.RuleGroup:
        value, source = self.read(path)
        group = value.get("RuleGroup") if isinstance(value, JObject) else None
        if not isinstance(group, JObject) or _text(group, "Name") != name:
            raise RulesetErrors(
                [RulesetError(f"a bundled group file holds get-rule-group output for {name}", source=source)],
                source=source,
            )
        resolver = self.resolver
        if name in IP_LIST_GROUPS and self.ip_lists is not None:
            if missing := self.ip_lists.missing(name):
                raise RulesetErrors(
                    [
                        RulesetError(
                            f"managed IP lists: no list for {', '.join(missing)} of {name} "
                            "(every rule of a group the web ACL uses needs one; [] matches nothing)",
                            source=self.ip_lists.source,
                        )
                    ],
                    source=self.ip_lists.source,
                )
            resolver = IpListResolver(self.ip_lists, resolver)
        model = self.load(Entry(group, source, "RuleGroup", "api"), "RuleGroup", resolver)
        assert isinstance(model, ast.RuleGroup)
        tiers = read_fidelity(path, model)
        rules = tuple(dataclasses.replace(r, fidelity=f) for r, f in zip(model.rules, tiers, strict=True))
        return dataclasses.replace(model, rules=rules)


def rule_tiers(statements: Sequence[ast.ManagedRuleGroup]) -> dict[tuple[str, str], ast.RuleFidelity]:
    """("Vendor#Name" as the engine names the group, inner rule) -> tier, for the bundled groups."""
    out: dict[tuple[str, str], ast.RuleFidelity] = {}
    for s in statements:
        if s.rules_from == "bundled" and s.rule_group is not None:
            for rule in s.rule_group.rules:
                if rule.fidelity is not None:
                    out[(f"{s.vendor_name}#{s.name}", rule.name)] = rule.fidelity
    return out
