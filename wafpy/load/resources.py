"""Resolving references: ARN -> IP set / regex pattern set / rule group, and managed rule groups.

A web ACL never embeds what it references (a reference statement names an ARN:
https://docs.aws.amazon.com/waf/latest/APIReference/API_IPSetReferenceStatement.html), so the caller
supplies the documents: a mapping ARN -> document (bare object, get-* output or CloudFormation
resource) or a list of files (get-ip-set / get-regex-pattern-set / get-rule-group outputs,
CloudFormation templates, or a JSON object mapping ARN -> document). Each referenced document is
validated and built like a web ACL, on first use, and cached.

This module is a leaf of the load stage: it never imports the loader. The loader hands a
`MappingResolver` the function that builds one document (`LoadEntry`), and builds resolvers over
files itself (`wafpy.load.loader.resolver_from_files`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from wafpy import model as ast
from wafpy.errors import ResourceError, RulesetError, RulesetErrors
from wafpy.load.jsontree import JMember, JObject, JString, JValue, from_python
from wafpy.load.terraform import is_terraform, terraform_entries

__all__ = ["Entry", "LoadEntry", "MappingResolver", "NullResolver", "ResourceKind", "ResourceResolver"]

SearchStringMode = Literal["auto", "base64", "text"]
ResourceKind: TypeAlias = Literal["IPSet", "RegexPatternSet", "RuleGroup"]
_KINDS = ("IPSet", "RegexPatternSet", "RuleGroup")
_CFN_TYPES = {f"AWS::WAFv2::{k}": k for k in _KINDS}


@runtime_checkable
class ResourceResolver(Protocol):
    """Where referenced documents come from. Lookups raise `ResourceError` when the ARN is unknown."""

    def ip_set(self, arn: str) -> ast.IPSet: ...

    def regex_pattern_set(self, arn: str) -> ast.RegexPatternSet: ...

    def rule_group(self, arn: str) -> ast.RuleGroup: ...

    def managed_rule_group(self, vendor: str, name: str, version: str | None) -> ast.RuleGroup | None:
        """The rules of a managed rule group, or None when they are not available (the default).

        This is the seam for open equivalents of AWS managed rule groups: return a RuleGroup whose
        label_namespace is the vendor's (e.g. "awswaf:managed:aws:core-rule-set:").
        """
        ...


class NullResolver:
    """Resolves nothing: every ARN is an error, no managed rule group is available."""

    def ip_set(self, arn: str) -> ast.IPSet:
        raise ResourceError("no resources were supplied")

    def regex_pattern_set(self, arn: str) -> ast.RegexPatternSet:
        raise ResourceError("no resources were supplied")

    def rule_group(self, arn: str) -> ast.RuleGroup:
        raise ResourceError("no resources were supplied")

    def managed_rule_group(self, vendor: str, name: str, version: str | None) -> ast.RuleGroup | None:
        return None


@dataclass(frozen=True)
class Entry:
    """One referenced document: its JSON, where it came from, and how to read it."""

    value: JValue
    source: str
    path: str = ""
    origin: Literal["api", "cloudformation", "bare"] | None = None  # None: detect
    logical_id: str | None = None


class LoadEntry(Protocol):
    """Validate and build one referenced document; `resolver` resolves what that document references."""

    def __call__(
        self, entry: Entry, kind: ResourceKind, resolver: ResourceResolver
    ) -> ast.IPSet | ast.RegexPatternSet | ast.RuleGroup | ast.WebACL: ...


class MappingResolver:
    """Resolve ARNs from a mapping ARN -> document (Python object or positioned JSON value).

    `load` builds one document (the loader passes its own). `managed` optionally maps
    "Vendor/Name" or "Vendor/Name/Version" to a rule group document for managed rule groups (the
    open-equivalent seam); absent ones resolve to None.
    """

    def __init__(
        self,
        docs: Mapping[str, Any] | None = None,
        *,
        load: LoadEntry,
        managed: Mapping[str, Any] | None = None,
    ) -> None:
        self._entries: dict[str, Entry] = {}
        for arn, doc in (docs or {}).items():
            self._entries[arn] = doc if isinstance(doc, Entry) else Entry(_as_json(doc), f"resource {arn}")
        self._managed = {k: _as_json(v) for k, v in (managed or {}).items()}
        self._load = load
        self._cache: dict[tuple[str, str], Any] = {}

    @property
    def arns(self) -> list[str]:
        return sorted(self._entries)

    def _get(self, kind: ResourceKind, arn: str) -> Any:
        key = (kind, arn)
        if key in self._cache:
            return self._cache[key]
        entry = self._entries.get(arn)
        if entry is None:
            known = ", ".join(self.arns[:5]) + (" ..." if len(self._entries) > 5 else "")
            raise ResourceError(f"no {kind} document for this ARN (known ARNs: {known or 'none'})")
        model = self._load(entry, kind, self)
        self._cache[key] = model
        return model

    def ip_set(self, arn: str) -> ast.IPSet:
        model = self._get("IPSet", arn)
        assert isinstance(model, ast.IPSet)
        return model

    def regex_pattern_set(self, arn: str) -> ast.RegexPatternSet:
        model = self._get("RegexPatternSet", arn)
        assert isinstance(model, ast.RegexPatternSet)
        return model

    def rule_group(self, arn: str) -> ast.RuleGroup:
        model = self._get("RuleGroup", arn)
        assert isinstance(model, ast.RuleGroup)
        return model

    def managed_rule_group(self, vendor: str, name: str, version: str | None) -> ast.RuleGroup | None:
        keys = ([f"{vendor}/{name}/{version}"] if version else []) + [f"{vendor}/{name}"]
        for k in keys:
            if k in self._managed:
                model = self._load(Entry(self._managed[k], f"managed rule group {k}"), "RuleGroup", self)
                assert isinstance(model, ast.RuleGroup)
                return model
        return None


def _as_json(doc: Any) -> JValue:
    if isinstance(doc, (JObject,)) or type(doc).__module__ == "wafpy.load.jsontree":
        return doc  # type: ignore[no-any-return]
    return from_python(doc)


def entries_of(value: JValue, source: str, account: str) -> list[tuple[str, Entry]]:
    """ARN -> Entry pairs found in one resources file's JSON."""
    if not isinstance(value, JObject):
        raise RulesetErrors(
            [
                RulesetError(
                    "a resources file holds a JSON object",
                    source=source,
                    line=value.line,
                    column=value.column,
                )
            ],
            source=source,
        )
    out: list[tuple[str, Entry]] = []
    if is_terraform(value):  # terraform show -json: its IP sets, regex pattern sets, rule groups
        pairs = terraform_entries(value, account)
        return [(arn, Entry(doc, source, address, "bare")) for arn, address, doc in pairs]
    keys = value.keys()
    wrapped = [k for k in keys if k in _KINDS]
    if wrapped:  # get-ip-set / get-regex-pattern-set / get-rule-group output
        kind = wrapped[0]
        inner = value.get(kind)
        arn = inner.get("ARN") if isinstance(inner, JObject) else None
        if not isinstance(arn, JString):
            raise RulesetErrors(
                [
                    RulesetError(
                        f"the {kind} has no ARN member, so nothing can reference it",
                        json_path=kind,
                        source=source,
                        line=value.line,
                        column=value.column,
                    )
                ],
                source=source,
            )
        return [(arn.value, Entry(value, source))]
    cfn = _cfn_container(value)
    if cfn is not None:
        resources, base = cfn
        assert isinstance(resources, JObject)
        for m in resources.members:
            res = m.value
            rtype = res.get("Type") if isinstance(res, JObject) else None
            props = res.get("Properties") if isinstance(res, JObject) else None
            if (
                not isinstance(rtype, JString)
                or rtype.value not in _CFN_TYPES
                or not isinstance(props, JObject)
            ):
                continue
            kind = _CFN_TYPES[rtype.value]
            name = props.get("Name")
            label = name.value if isinstance(name, JString) else m.key
            kind_path = {"IPSet": "ipset", "RegexPatternSet": "regexpatternset", "RuleGroup": "rulegroup"}[
                kind
            ]
            synthesized = f"arn:aws:wafv2:us-east-1:{account}:regional/{kind_path}/{label}/{m.key}"
            prefix = f"{base}.{m.key}.Properties" if base else f"{m.key}.Properties"
            out.append((synthesized, Entry(props, source, prefix, "cloudformation", m.key)))
        return out
    if keys and all(k.startswith("arn:") for k in keys):  # a bundle ARN -> document
        return [(m.key, Entry(m.value, source, m.key)) for m in value.members]
    bare_arn = value.get("ARN")
    if isinstance(bare_arn, JString):  # a bare IPSet / RegexPatternSet / RuleGroup object
        return [(bare_arn.value, Entry(value, source))]
    raise RulesetErrors(
        [
            RulesetError(
                "not a resource document: expected get-ip-set, get-regex-pattern-set or "
                "get-rule-group output, a CloudFormation template, or a JSON object "
                "mapping ARN -> document",
                source=source,
                line=value.line,
                column=value.column,
            )
        ],
        source=source,
    )


def _cfn_container(value: JObject) -> tuple[JObject, str] | None:
    """(object holding logical id -> resource, its path) for a template, one resource, or {id: resource}."""
    resources = value.get("Resources")
    if isinstance(resources, JObject):
        return resources, "Resources"
    if value.get("Type") is not None:  # a lone resource {"Type": ..., "Properties": ...}
        return JObject((JMember("Resource", value.line, value.column, value),)), ""
    if value.members and all(
        isinstance(m.value, JObject) and m.value.get("Type") is not None for m in value.members
    ):
        return value, ""
    return None
