"""Managed rule groups supplied in files (`managed=PATH`, and rule groups among `resources=`).

Each file holds get-rule-group output, a bare `RuleGroup` object or a CloudFormation template; a
group is matched by VendorName, Name and Version (docs/unspecified.md says where a file's vendor and
version come from), the paths searched in order and the first match wins.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wafpy import model as ast
from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.jsontree import JObject, JString, JValue
from wafpy.load.resources import Entry, LoadEntry, ResourceResolver

__all__ = ["GroupFiles"]


@dataclass(frozen=True)
class _Candidate:
    vendor: str
    name: str
    version: str | None
    entry: Entry
    named_vendor: bool = False  # the document names its vendor (not the AWS default)

    def matches(self, vendor: str, name: str, version: str | None) -> bool:
        if self.name != name or self.vendor.casefold() != vendor.casefold():
            return False
        return self.version is None or self.version == version


def _text(node: JValue | None, key: str) -> str | None:
    value = node.get(key) if isinstance(node, JObject) else None
    return value.value if isinstance(value, JString) else None


def _candidate(group: JObject, entry: Entry, wrapper: JValue | None) -> _Candidate | None:
    name = _text(group, "Name")
    if name is None:
        return None  # validation of the file is left to the match, if any: nothing to match by
    vendor = _text(wrapper, "VendorName")
    namespace = _text(group, "LabelNamespace") or ""
    if vendor is None and namespace.startswith("awswaf:managed:"):
        vendor = namespace.split(":")[2] or None
    return _Candidate(vendor or "AWS", name, _text(wrapper, "Version"), entry, vendor is not None)


def _candidates(value: JValue, source: str) -> list[_Candidate]:
    """The rule groups of one file, in document order."""
    if isinstance(value, JObject):
        group = value.get("RuleGroup")
        if isinstance(group, JObject):  # get-rule-group output; VendorName / Version beside RuleGroup
            found = _candidate(group, Entry(group, source, "RuleGroup", "api"), value)
            return [found] if found else []
        resources = value.get("Resources")
        container = resources if isinstance(resources, JObject) else value
        typed = [m for m in container.members if _text(m.value, "Type") is not None]
        if typed:  # a CloudFormation template, or {LogicalId: resource}
            base = "Resources." if container is resources else ""
            out = []
            for m in typed:
                props = m.value.get("Properties") if isinstance(m.value, JObject) else None
                if _text(m.value, "Type") != "AWS::WAFv2::RuleGroup" or not isinstance(props, JObject):
                    continue
                meta = m.value.get("Metadata") if isinstance(m.value, JObject) else None
                entry = Entry(props, source, f"{base}{m.key}.Properties", "cloudformation", m.key)
                if (found := _candidate(props, entry, meta)) is not None:
                    out.append(found)
            return out
        if value.get("Rules") is not None:  # a bare RuleGroup object
            found = _candidate(value, Entry(value, source, "", "bare"), None)
            return [found] if found else []
    raise RulesetErrors(
        [
            RulesetError(
                "not a rule group document: managed= files hold get-rule-group output, a bare "
                "RuleGroup object or a CloudFormation template with AWS::WAFv2::RuleGroup resources",
                source=source,
                line=value.line,
                column=value.column,
            )
        ],
        source=source,
    )


def _expand(paths: Sequence[str]) -> Iterator[str]:
    """Files as given; a folder's *.json files, sorted by path, hidden files and folders skipped."""
    for path in paths:
        if os.path.isdir(path):
            found = (
                p
                for p in Path(path).rglob("*.json")
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            yield from sorted(str(p) for p in found)
        else:
            yield path


@dataclass
class GroupFiles:
    """Rule groups read from the user's files on first use, each built once.

    `among_resources`: the files are the caller's `resources=`, which hold IP sets and customer
    rule groups too; only rule groups that name a vendor (VendorName, or a managed label
    namespace) count, and other documents are skipped.
    """

    paths: tuple[str, ...]
    read: Callable[[str], tuple[JValue, str]]
    load: LoadEntry
    resolver: ResourceResolver
    among_resources: bool = False
    _found: list[_Candidate] | None = None
    _built: dict[int, ast.RuleGroup] = field(default_factory=dict)

    def _all(self) -> list[_Candidate]:
        if self._found is None:
            found: list[_Candidate] = []
            for path in _expand(self.paths):
                value, source = self.read(path)
                if not self.among_resources:
                    found += _candidates(value, source)
                    continue
                try:
                    found += [c for c in _candidates(value, source) if c.named_vendor]
                except RulesetErrors:
                    continue  # an IP set, a regex pattern set: not a rule group document
            self._found = found
        return self._found

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None:
        for i, c in enumerate(self._all()):
            if c.matches(vendor, name, version):
                if i not in self._built:
                    model = self.load(c.entry, "RuleGroup", self.resolver)
                    assert isinstance(model, ast.RuleGroup)
                    self._built[i] = model
                return self._built[i], f"file:{c.entry.source}"
        return None
