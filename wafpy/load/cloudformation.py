"""CloudFormation templates: their WAFv2 resources and the intrinsic functions wafpy can resolve.

Only what needs no AWS account is resolved: `Ref` to a template parameter with a `Default`
(and the pseudo parameters `AWS::Partition`, `AWS::URLSuffix`, `AWS::NoValue`, and
`AWS::AccountId` when an account is given), `Fn::GetAtt X.Arn` of a WAFv2 IP set, regex pattern
set or rule group defined in the same template (a synthetic ARN), `Fn::Sub`, `Fn::Join`,
`Fn::Select` and `Fn::If` over the template's Conditions. Anything else is a `RulesetError`
naming the function and its JSON path.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from wafpy.errors import RulesetError
from wafpy.load.jsontree import (
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

__all__ = ["INTRINSIC_KEYS", "CfnResource", "Resolver", "fail"]


@dataclass(frozen=True, slots=True)
class CfnResource:
    """One `AWS::WAFv2::*` resource of a CloudFormation template."""

    logical_id: str
    kind: str  # "WebACL", "IPSet", ... (the part after AWS::WAFv2::)
    properties: JObject  # as written, intrinsics unresolved
    path: str  # "Resources.<LogicalId>.Properties"
    arn: str | None = None  # synthetic ARN, for the kinds that can be referenced as resources


def fail(message: str, node: JValue | None = None, path: str = "") -> RulesetError:
    return RulesetError(
        message, json_path=path, line=node.line if node else None, column=node.column if node else None
    )


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
# `${` up to the next `}`. An unclosed `${` takes the rest of the text and is kept as it is (the
# closing group is empty): failing instead would make the search rescan that rest from every
# later `${`, quadratic on `${${${...`.
_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)(\}?)")


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
            raise fail("CloudFormation Properties must resolve to an object", node, path)
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
            raise fail("AWS::NoValue cannot be used here", node, path)
        return value

    def _unavailable(self, name: str, node: JValue, path: str, detail: str = "") -> RulesetError:
        more = f" ({detail})" if detail else ""
        return fail(f"cannot load: {name} needs a value only AWS has{more}", node, path)

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
            literal, name, closed = match.groups()
            if not closed:
                return match.group()
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
            raise fail(
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
                raise fail(f"cannot load: {res.logical_id} refers to itself through Fn::GetAtt", None, path)
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


def _type_name(value: JValue) -> str:
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)
