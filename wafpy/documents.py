"""Which document a parsed JSON value is, and the WAFv2 object inside it.

Accepted shapes, for a web ACL (likewise a rule group, IP set or regex pattern set):

* bare: the object itself (`get-web-acl` output's inner object, a `create-web-acl` input...);
* api: the `get-*` output wrapper `{"WebACL": {...}, "LockToken": "..."}`;
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
function and its JSON path. Only JSON text is read; YAML templates are refused with a clear error.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .errors import RulesetError
from .jsontree import (
    JSON_TYPE_NAMES,
    JArray,
    JBool,
    JMember,
    JNull,
    JNumber,
    JObject,
    JString,
    JValue,
    to_python,
)
from .parse import parse_json

__all__ = [
    "DOCUMENT_KINDS",
    "CfnResource",
    "Unwrapped",
    "detect_resource",
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
_ARN_KIND = {
    "IPSet": "ipset",
    "RegexPatternSet": "regexpatternset",
    "RuleGroup": "rulegroup",
    "WebACL": "webacl",
}
_RESOURCE_BY_TYPE: dict[str, DocumentKind] = {f"AWS::WAFv2::{k}": k for k in RESOURCE_KINDS}
DEFAULT_ACCOUNT = "000000000000"


@dataclass(frozen=True, slots=True)
class CfnResource:
    """One `AWS::WAFv2::*` resource of a CloudFormation template."""

    logical_id: str
    kind: str  # "WebACL", "IPSet", ... (the part after AWS::WAFv2::)
    properties: JObject  # as written, intrinsics unresolved
    path: str  # "Resources.<LogicalId>.Properties"
    arn: str | None = None  # synthetic ARN, for the kinds that can be referenced as resources


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


def _fail(message: str, node: JValue | None = None, path: str = "") -> RulesetError:
    return RulesetError(
        message, json_path=path, line=node.line if node else None, column=node.column if node else None
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
    if wrapped and set(value.keys()) <= {wrapped[0], *_API_EXTRAS}:
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
    """`parse_json` then `unwrap`; text that looks like YAML gets a JSON-only message."""
    try:
        value = parse_json(text, source=source)
    except RulesetError as exc:
        if _looks_like_yaml(text):
            raise RulesetError(
                "this looks like YAML; wafpy reads JSON only (convert a CloudFormation YAML "
                "template to JSON first, e.g. with cfn-flip)",
                line=exc.line,
                column=exc.column,
                source=source,
                context=exc.context,
            ) from None
        raise
    try:
        return unwrap(value, expect=expect, logical_id=logical_id, account=account)
    except RulesetError as exc:
        exc.source = source
        raise RulesetError(
            exc.message, json_path=exc.json_path, line=exc.line, column=exc.column, source=source
        ) from None


_YAML_START = re.compile(r"(?:---|%YAML|[A-Za-z_][\w:.-]*\s*:(?:\s|$)|-\s)")


def _looks_like_yaml(text: str | bytes) -> bool:
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
                    " give the whole template (JSON) so it can be resolved",
                    node,
                    where,
                )
            located.extend((m.value, f"{where}.{m.key}" if where else m.key) for m in reversed(node.members))
        elif isinstance(node, JArray):
            located.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(node.items))))


# --------------------------------------------------------------------------------------------
# Intrinsic functions

INTRINSIC_KEYS = frozenset(
    {
        "Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::ImportValue", "Fn::FindInMap",
        "Fn::Select", "Fn::Split", "Fn::Base64", "Fn::GetAZs", "Fn::Cidr", "Fn::Transform",
        "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Length", "Fn::ToJsonString",
    }
)  # fmt: skip
_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)\}")


class _NoValue:
    """`Ref: AWS::NoValue` — the property or list item is removed."""


_NO_VALUE = _NoValue()


def _intrinsic(node: JObject) -> str | None:
    if len(node.members) == 1:
        key = node.members[0].key
        if key in INTRINSIC_KEYS or key.startswith("Fn::"):
            return key
    return None


class Resolver:
    """Resolves the intrinsic functions of one template that need no AWS account to evaluate."""

    def __init__(self, template: JObject, waf: list[CfnResource], account: str | None) -> None:
        self._account = account
        self._params: dict[str, JValue] = {}
        params = template.get("Parameters")
        if isinstance(params, JObject):
            for m in params.members:
                default = m.value.get("Default") if isinstance(m.value, JObject) else None
                if default is not None:
                    self._params[m.key] = default
        conditions = template.get("Conditions")
        self._conditions = conditions if isinstance(conditions, JObject) else JObject(())
        self._by_id = {r.logical_id: r for r in waf}
        self._arns: dict[str, JObject] = {}
        self._busy: set[str] = set()  # resources being resolved (a reference cycle is an error)

    def resolve_object(self, node: JObject, path: str) -> JObject:
        value = self._resolve(node, path)
        if not isinstance(value, JObject):
            raise _fail("CloudFormation Properties must resolve to an object", node, path)
        return value

    def arns(self) -> dict[str, JObject]:
        """Synthetic ARN -> resolved Properties, for every resource whose intrinsics resolve."""
        for res in self._by_id.values():
            if res.arn and res.arn not in self._arns:
                # Unused and unresolvable: the loader will never ask for it.
                with contextlib.suppress(RulesetError):
                    self._resource_arn(res, res.path)
        return dict(self._arns)

    def _resolve(self, node: JValue, path: str) -> JValue | _NoValue:
        if isinstance(node, JObject):
            name = _intrinsic(node)
            if name is not None:
                return self._call(name, node.members[0].value, node, path)
            members = []
            for m in node.members:
                value = self._resolve(m.value, f"{path}.{m.key}")
                if not isinstance(value, _NoValue):
                    members.append(m if value is m.value else JMember(m.key, m.key_line, m.key_column, value))
            return JObject(tuple(members), node.line, node.column)
        if isinstance(node, JArray):
            items = [self._resolve(v, f"{path}[{i}]") for i, v in enumerate(node.items)]
            return JArray(tuple(v for v in items if not isinstance(v, _NoValue)), node.line, node.column)
        return node

    def _value(self, node: JValue, path: str) -> JValue:
        value = self._resolve(node, path)
        if isinstance(value, _NoValue):
            raise _fail("AWS::NoValue cannot be used here", node, path)
        return value

    def _unavailable(self, name: str, node: JValue, path: str, detail: str = "") -> RulesetError:
        more = f" ({detail})" if detail else ""
        return _fail(f"cannot load: {name} needs a value only AWS has{more}", node, path)

    def _call(self, name: str, arg: JValue, node: JObject, path: str) -> JValue | _NoValue:
        if name == "Ref" and isinstance(arg, JString):
            return self._ref(arg.value, node, path)
        if name == "Fn::GetAtt":
            target = to_python(arg)
            if isinstance(target, str):
                target = target.split(".", 1)
            if isinstance(target, list) and len(target) == 2 and target[1] == "Arn":
                res = self._by_id.get(str(target[0]))
                if res is not None and res.arn:
                    return JString(self._resource_arn(res, path), node.line, node.column)
            raise self._unavailable(
                name,
                node,
                path,
                f"{'.'.join(map(str, target))} is not a WAFv2 IP set, "
                "regex pattern set or rule group of this template",
            )
        if name == "Fn::Sub":
            return JString(self._sub(arg, node, path), node.line, node.column)
        if name == "Fn::Join" and isinstance(arg, JArray) and len(arg.items) == 2:
            delimiter, parts = arg.items[0], self._value(arg.items[1], f"{path}.Fn::Join[1]")
            if isinstance(delimiter, JString) and isinstance(parts, JArray):
                texts = [
                    self._text(self._value(p, f"{path}.Fn::Join[1][{i}]"), name, p, path)
                    for i, p in enumerate(parts.items)
                ]
                return JString(delimiter.value.join(texts), node.line, node.column)
        if name == "Fn::Select" and isinstance(arg, JArray) and len(arg.items) == 2:
            index, items = self._value(arg.items[0], path), self._value(arg.items[1], path)
            position = to_python(index)
            if isinstance(items, JArray) and str(position).isdigit() and int(position) < len(items.items):
                return self._resolve(items.items[int(position)], path)
        if name == "Fn::If" and isinstance(arg, JArray) and len(arg.items) == 3:
            condition = arg.items[0]
            if isinstance(condition, JString):
                chosen = arg.items[1] if self._condition(condition.value, path) else arg.items[2]
                return self._resolve(chosen, path)
        raise self._unavailable(name, node, path)

    def _ref(self, target: str, node: JObject, path: str) -> JValue | _NoValue:
        if target == "AWS::NoValue":
            return _NO_VALUE
        if target in _PSEUDO:
            return JString(_PSEUDO[target], node.line, node.column)
        if target == "AWS::AccountId" and self._account:
            return JString(self._account, node.line, node.column)
        default = self._params.get(target)
        if default is not None:
            return _relocated(default, node)
        if target in self._by_id:
            raise self._unavailable("Ref", node, path, f"Ref {target} is the resource's Name|Id|Scope")
        raise self._unavailable("Ref", node, path, f"{target} is not a template parameter with a Default")

    def _text(self, value: JValue, name: str, node: JValue, path: str) -> str:
        if isinstance(value, JString):
            return value.value
        if isinstance(value, JNumber):
            return value.raw
        raise self._unavailable(name, node, path, f"a {_type_name(value)} cannot be joined into a string")

    def _sub(self, arg: JValue, node: JObject, path: str) -> str:
        variables: dict[str, str] = {}
        template = arg
        if isinstance(arg, JArray) and len(arg.items) == 2 and isinstance(arg.items[1], JObject):
            template = arg.items[0]
            for m in arg.items[1].members:
                value = self._value(m.value, f"{path}.Fn::Sub[1].{m.key}")
                variables[m.key] = self._text(value, "Fn::Sub", node, path)
        if not isinstance(template, JString):
            raise self._unavailable("Fn::Sub", node, path)

        def replace(match: re.Match[str]) -> str:
            literal, name = match.groups()
            if literal:  # ${!Name} stands for the text ${Name}
                return "${" + name + "}"
            if name in variables:
                return variables[name]
            if name.endswith(".Arn"):
                ref: JValue = JObject(
                    (JMember("Fn::GetAtt", None, None, JString(name)),), node.line, node.column
                )
            else:
                ref = JObject((JMember("Ref", None, None, JString(name)),), node.line, node.column)
            return self._text(self._value(ref, path), "Fn::Sub", node, path)

        return _SUB_VAR.sub(replace, template.value)

    def _condition(self, name: str, path: str) -> bool:
        expr = self._conditions.get(name)
        if expr is None:
            raise _fail(
                f"cannot load: Fn::If uses condition {name!r}, not defined in Conditions",
                None,
                path,
            )
        return self._truth(expr, f"Conditions.{name}")

    def _truth(self, expr: JValue, path: str) -> bool:
        if isinstance(expr, JBool):
            return expr.value
        if isinstance(expr, JObject) and len(expr.members) == 1:
            name, arg = expr.members[0].key, expr.members[0].value
            if name == "Condition" and isinstance(arg, JString):
                return self._condition(arg.value, path)
            if isinstance(arg, JArray):
                if name == "Fn::Equals" and len(arg.items) == 2:
                    a, b = (to_python(self._value(v, path)) for v in arg.items)
                    return str(a) == str(b) if {type(a), type(b)} <= {str, int, float} else bool(a == b)
                if name == "Fn::Not" and len(arg.items) == 1:
                    return not self._truth(arg.items[0], path)
                if name == "Fn::And":
                    return all(self._truth(v, path) for v in arg.items)
                if name == "Fn::Or":
                    return any(self._truth(v, path) for v in arg.items)
        raise self._unavailable("a condition", expr, path)

    def _resource_arn(self, res: CfnResource, path: str) -> str:
        assert res.arn is not None
        if res.arn not in self._arns:
            if res.logical_id in self._busy:
                raise _fail(f"cannot load: {res.logical_id} refers to itself through Fn::GetAtt", None, path)
            self._busy.add(res.logical_id)
            try:
                self._arns[res.arn] = self.resolve_object(res.properties, res.path)
            finally:
                self._busy.discard(res.logical_id)
        return res.arn


def _relocated(value: JValue, node: JObject) -> JValue:
    """A parameter default, placed where the Ref was written (messages point at the use)."""
    if isinstance(value, JString):
        return JString(value.value, node.line, node.column)
    if isinstance(value, JNumber):
        return JNumber(value.value, value.raw, node.line, node.column)
    if isinstance(value, JBool):
        return JBool(value.value, node.line, node.column)
    if isinstance(value, JNull):
        return JNull(node.line, node.column)
    return value
