"""Which document a parsed JSON value is, and the WAFv2 object inside it.

Accepted shapes, for a web ACL (likewise a rule group, IP set or regex pattern set):

* bare: the object itself (`get-web-acl` output's inner object, a `create-web-acl` input...);
* api: the `get-*` output wrapper `{"WebACL": {...}, "LockToken": "..."}` (a managed rule group
  file writes `VendorName` / `Version` beside `RuleGroup`, as `managed=` files and
  `rulesets/managed/` do);
* cloudformation: a template `{"Resources": {"Acl": {"Type": "AWS::WAFv2::WebACL",
  "Properties": {...}}}}` or one resource `{"Type": ..., "Properties": ...}`.

`origin` tells the caller how to read `ByteMatchStatement.SearchString` (base64 in api output,
text in CloudFormation). CloudFormation property names are the API's, but a CloudFormation
WebACL / RuleGroup has no `Id` / `ARN` (the caller synthesizes them, e.g. with `synthetic_arn`),
carries `Scope`, and a RuleGroup requires `Capacity`.

Intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Sub`...) are resolved where that needs no AWS:
`Ref` to a template parameter with a `Default`, `Fn::GetAtt X.Arn` of a WAFv2 IP set / regex
pattern set / rule group of the same template (a synthetic ARN, listed in `Unwrapped.arns`),
`Fn::Sub` / `Fn::Join` / `Fn::If` built from those. Anything else is a `RulesetError` naming the
function and its JSON path. YAML templates are read too (`wafpy.load.yamldoc`, short-form tags
such as `!Ref` mapped to their long form), when PyYAML is installed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from wafpy.errors import RulesetError
from wafpy.load.cloudformation import INTRINSIC_KEYS, CfnResource, Resolver
from wafpy.load.cloudformation import fail as _fail
from wafpy.load.jsontree import (
    JSON_TYPE_NAMES,
    JArray,
    JObject,
    JString,
    JValue,
)
from wafpy.load.parse import parse_json
from wafpy.load.yamldoc import parse_yaml

__all__ = [
    "DOCUMENT_KINDS",
    "CfnResource",
    "Unwrapped",
    "detect_resource",
    "looks_like_yaml",
    "parse_document",
    "synthetic_arn",
    "unwrap",
]

DocumentKind = Literal["WebACL", "RuleGroup", "IPSet", "RegexPatternSet"]
Origin = Literal["api", "cloudformation", "bare"]
DOCUMENT_KINDS: tuple[DocumentKind, ...] = ("WebACL", "RuleGroup", "IPSet", "RegexPatternSet")
RESOURCE_KINDS: tuple[DocumentKind, ...] = ("IPSet", "RegexPatternSet", "RuleGroup")
# Members a get-* output has besides the document (get-web-acl: LockToken, ApplicationIntegrationURL).
_API_EXTRAS = frozenset({"LockToken", "ApplicationIntegrationURL"})
# A managed rule group file (managed=PATH, rulesets/managed/) writes its vendor and version beside
# get-rule-group output's RuleGroup (wafpy/load/groupfiles.py reads them).
_MANAGED_EXTRAS = frozenset({"VendorName", "Version"})
_ARN_KIND = {
    "IPSet": "ipset",
    "RegexPatternSet": "regexpatternset",
    "RuleGroup": "rulegroup",
    "WebACL": "webacl",
}
_RESOURCE_BY_TYPE: dict[str, DocumentKind] = {f"AWS::WAFv2::{k}": k for k in RESOURCE_KINDS}
DEFAULT_ACCOUNT = "000000000000"


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """The WAFv2 object found in a document, and where it was."""

    kind: DocumentKind
    value: JObject  # the inner object (CloudFormation: Properties, intrinsics resolved)
    path: str  # JSON path prefix for messages: "", "WebACL", "Resources.MyAcl.Properties"
    origin: Origin
    logical_id: str | None = None  # CloudFormation logical id
    # CloudFormation: the template's other WAFv2 resources, and synthetic ARN -> resolved
    # Properties of each IP set / regex pattern set / rule group that could be resolved.
    others: tuple[CfnResource, ...] = ()
    arns: Mapping[str, JObject] = field(default_factory=dict)

    def child_path(self, member: str) -> str:
        return f"{self.path}.{member}" if self.path else member


def synthetic_arn(
    kind: str, name: str, logical_id: str, *, account: str | None = None, scope: str | None = None
) -> str:
    """The ARN wafpy gives a resource defined in a template (AWS assigns the real one at deploy)."""
    where = "global" if scope == "CLOUDFRONT" else "regional"
    return (
        f"arn:aws:wafv2:us-east-1:{account or DEFAULT_ACCOUNT}:{where}/{_ARN_KIND[kind]}/{name}/{logical_id}"
    )


def _type_name(value: JValue) -> str:
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def unwrap(
    value: JValue,
    *,
    expect: DocumentKind,
    logical_id: str | None = None,
    account: str | None = None,
) -> Unwrapped:
    """Find the `expect` document in a parsed value (bare, get-* output or CloudFormation).

    `logical_id` picks one resource of a template holding several of the expected type;
    `account` goes into synthetic ARNs (default 000000000000).
    """
    if expect not in DOCUMENT_KINDS:
        raise ValueError(f"expect must be one of {', '.join(DOCUMENT_KINDS)}, not {expect!r}")
    if not isinstance(value, JObject):
        raise _fail(f"expected a {expect} JSON object, got a JSON {_type_name(value)}", value)
    resources = value.get("Resources")
    if isinstance(resources, JObject) and _is_template(value, resources):
        return _from_template(value, resources, expect, logical_id, account)
    type_node = value.get("Type")
    if isinstance(type_node, JString) and type_node.value.startswith("AWS::") and value.get("Properties"):
        return _from_resource(value, type_node, expect, account)
    wrapped = [k for k in DOCUMENT_KINDS if isinstance(value.get(k), JObject)]
    extras = _API_EXTRAS | (_MANAGED_EXTRAS if wrapped[:1] == ["RuleGroup"] else frozenset())
    if wrapped and set(value.keys()) <= {wrapped[0], *extras}:
        if wrapped[0] != expect:
            raise _fail(
                f"this is {_article(wrapped[0])} document (get-* output), expected {_article(expect)}", value
            )
        inner = value.get(expect)
        assert isinstance(inner, JObject)
        _refuse_intrinsics(inner, expect, "bare")
        return Unwrapped(expect, inner, expect, "api")
    _refuse_intrinsics(value, "", "bare")
    return Unwrapped(expect, value, "", "bare")


def detect_resource(value: JValue) -> DocumentKind:
    """Which resource document this is: "IPSet", "RegexPatternSet" or "RuleGroup"."""
    if isinstance(value, JObject):
        for kind in RESOURCE_KINDS:
            if isinstance(value.get(kind), JObject):
                return kind
        type_node = value.get("Type")
        if isinstance(type_node, JString):
            typed = _RESOURCE_BY_TYPE.get(type_node.value)
            if typed is not None:
                return typed
        resources = value.get("Resources")
        if isinstance(resources, JObject) and _is_template(value, resources):
            found = {
                _RESOURCE_BY_TYPE[f"AWS::WAFv2::{r.kind}"] for r in _cfn_resources(resources, None) if r.arn
            }
            if len(found) == 1:
                return found.pop()
            raise _fail(
                f"template holds {', '.join(sorted(found)) or 'no'} WAFv2 resource types; expected one"
            )
        if value.get("Addresses") is not None:
            return "IPSet"
        if value.get("RegularExpressionList") is not None:
            return "RegexPatternSet"
        if value.get("Rules") is not None and value.get("DefaultAction") is None:
            return "RuleGroup"
    raise _fail("not an IP set, regex pattern set or rule group document", value)


def parse_document(
    text: str | bytes,
    *,
    expect: DocumentKind,
    source: str | None = None,
    logical_id: str | None = None,
    account: str | None = None,
) -> Unwrapped:
    """`parse_json` (or `parse_yaml` for text that looks like YAML) then `unwrap`."""
    if looks_like_yaml(text):
        raw = bytes(text).decode("utf-8-sig") if isinstance(text, (bytes, bytearray)) else text
        value = parse_yaml(raw, source=source)
    else:
        value = parse_json(text, source=source)
    try:
        return unwrap(value, expect=expect, logical_id=logical_id, account=account)
    except RulesetError as exc:
        exc.source = source
        raise RulesetError(
            exc.message, json_path=exc.json_path, line=exc.line, column=exc.column, source=source
        ) from None


# Anchored: only the start of a line is tried (a search would rescan a long key from each letter).
_YAML_START = re.compile(r"\A(?:---|%YAML|[A-Za-z_][\w:.-]*\s*:(?:\s|$)|-\s)")


def looks_like_yaml(text: str | bytes) -> bool:
    """Whether the first line that is not blank nor a comment starts as YAML does (and JSON does not)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    for line in text.lstrip("\ufeff").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return bool(_YAML_START.match(stripped))
    return False


# --------------------------------------------------------------------------------------------
# CloudFormation


def _is_template(value: JObject, resources: JObject) -> bool:
    if value.get("AWSTemplateFormatVersion") is not None:
        return True
    return any(isinstance(m.value, JObject) and m.value.get("Type") is not None for m in resources.members)


def _cfn_resources(resources: JObject, account: str | None) -> list[CfnResource]:
    found = []
    for member in resources.members:
        res = member.value
        if not isinstance(res, JObject):
            continue
        type_node, props = res.get("Type"), res.get("Properties")
        if not (isinstance(type_node, JString) and type_node.value.startswith("AWS::WAFv2::")):
            continue
        kind = type_node.value.removeprefix("AWS::WAFv2::")
        if not isinstance(props, JObject):
            props = JObject((), res.line, res.column)
        arn = None
        if kind in RESOURCE_KINDS:
            name, scope = props.get("Name"), props.get("Scope")
            # CloudFormation names an unnamed resource after its logical id (plus a suffix).
            shown = name.value if isinstance(name, JString) else member.key
            arn = synthetic_arn(
                kind,
                shown,
                member.key,
                account=account,
                scope=scope.value if isinstance(scope, JString) else None,
            )
        found.append(CfnResource(member.key, kind, props, f"Resources.{member.key}.Properties", arn))
    return found


def _from_template(
    template: JObject, resources: JObject, expect: DocumentKind, logical_id: str | None, account: str | None
) -> Unwrapped:
    all_waf = _cfn_resources(resources, account)
    matching = [r for r in all_waf if r.kind == expect]
    if logical_id is not None:
        matching = [r for r in matching if r.logical_id == logical_id]
        if not matching:
            ids = ", ".join(r.logical_id for r in all_waf if r.kind == expect) or "none"
            raise _fail(
                f"no AWS::WAFv2::{expect} resource with logical id {logical_id!r} (the template has: {ids})",
                resources,
                "Resources",
            )
    if not matching:
        present = ", ".join(f"{r.logical_id} ({r.kind})" for r in all_waf) or "no AWS::WAFv2 resources"
        raise _fail(
            f"the template has no AWS::WAFv2::{expect} resource (it has {present})", resources, "Resources"
        )
    if len(matching) > 1:
        ids = ", ".join(r.logical_id for r in matching)
        raise _fail(
            f"the template has {len(matching)} AWS::WAFv2::{expect} resources ({ids});"
            " choose one by logical id",
            resources,
            "Resources",
        )
    chosen = matching[0]
    resolver = Resolver(template, all_waf, account)
    value = resolver.resolve_object(chosen.properties, chosen.path)
    return Unwrapped(
        expect,
        value,
        chosen.path,
        "cloudformation",
        chosen.logical_id,
        tuple(r for r in all_waf if r is not chosen),
        resolver.arns(),
    )


def _from_resource(
    value: JObject, type_node: JString, expect: DocumentKind, account: str | None
) -> Unwrapped:
    if type_node.value != f"AWS::WAFv2::{expect}":
        raise _fail(
            f"this is an {type_node.value} resource, expected AWS::WAFv2::{expect}", type_node, "Type"
        )
    props = value.get("Properties")
    if not isinstance(props, JObject):
        raise _fail("CloudFormation Properties must be an object", props, "Properties")
    # A lone resource has no template: parameters and sibling resources are unknown.
    resolver = Resolver(JObject(()), [], account)
    return Unwrapped(expect, resolver.resolve_object(props, "Properties"), "Properties", "cloudformation")


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"


def _refuse_intrinsics(value: JValue, path: str, origin: str) -> None:
    """Outside a template an intrinsic function cannot be resolved: name the first one found."""
    # First find one without building paths (documents are large and almost never hold one).
    stack: list[JValue] = [value]
    found = False
    while stack and not found:
        node = stack.pop()
        if isinstance(node, JObject):
            if len(node.members) == 1 and node.members[0].key in INTRINSIC_KEYS:
                found = True
            stack.extend(m.value for m in node.members)
        elif isinstance(node, JArray):
            stack.extend(item for item in node.items if isinstance(item, (JObject, JArray)))
    if not found:
        return
    located: list[tuple[JValue, str]] = [(value, path)]
    while located:
        node, where = located.pop()
        if isinstance(node, JObject):
            if len(node.members) == 1 and node.members[0].key in INTRINSIC_KEYS:
                name = node.members[0].key
                raise _fail(
                    f"cannot load: {name} is a CloudFormation intrinsic function;"
                    " give the whole template (JSON or YAML) so it can be resolved",
                    node,
                    where,
                )
            located.extend((m.value, f"{where}.{m.key}" if where else m.key) for m in reversed(node.members))
        elif isinstance(node, JArray):
            located.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(node.items))))
