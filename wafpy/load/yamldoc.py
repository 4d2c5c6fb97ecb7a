"""YAML text (CloudFormation templates above all) -> positioned JSON values (`wafpy.load.jsontree`).

CloudFormation writes intrinsic functions in YAML with short-form tags (`!Ref Param`,
`!GetAtt Set.Arn`, `!Sub "..."`); each becomes its JSON long form (`{"Ref": "Param"}`,
`{"Fn::GetAtt": ["Set", "Arn"]}`, `{"Fn::Sub": "..."}`) so that the template resolver reads one
form: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html

PyYAML builds the node graph (`yaml.compose`, safe: no Python object is constructed from a
tag); every node keeps its 1-based line and column, so errors point into the YAML text. PyYAML is
an optional dependency (`pip install 'wafpy-engine[yaml]'`): without it, YAML input is refused
with a message naming the extra.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from wafpy.errors import RulesetError
from wafpy.load.jsontree import JArray, JBool, JMember, JNull, JNumber, JObject, JString, JValue

__all__ = ["SHORT_FORM_TAGS", "YAML_EXTRA_MESSAGE", "parse_yaml", "yaml_available"]

# Short-form tag -> long-form key.
SHORT_FORM_TAGS: dict[str, str] = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in (
            "Sub", "GetAtt", "If", "Join", "Select", "Split", "Base64", "FindInMap", "Equals", "Not",
            "And", "Or", "ImportValue", "GetAZs", "Cidr", "Transform", "Length", "ToJsonString",
        )
    },
}  # fmt: skip
YAML_EXTRA_MESSAGE = (
    "this is YAML, and reading YAML needs PyYAML: pip install 'wafpy-engine[yaml]' (or convert "
    "the document to JSON)"
)
_STR = "tag:yaml.org,2002:str"
_NULL, _BOOL = "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


def yaml_available() -> bool:
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def parse_yaml(text: str, *, source: str | None = None) -> JValue:
    """One YAML document as positioned JSON; a `RulesetError` (line:column) for bad YAML, an unknown
    `!tag`, a key that is not a string, or more than one document."""
    try:
        import yaml
    except ImportError:
        raise RulesetError(YAML_EXTRA_MESSAGE, source=source, line=1, column=1) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RulesetError(
            f"invalid YAML: {exc.problem or exc.context}",
            source=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:  # e.g. "expected a single document in the stream"
        raise RulesetError(f"invalid YAML: {exc}", source=source) from None
    if node is None:
        raise RulesetError("the YAML document is empty", source=source, line=1, column=1)
    return _Converter(yaml, source).convert(node)


def _at(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Converter:
    """Nodes -> jsontree values, iteratively (a deep document cannot exhaust Python's stack)."""

    def __init__(self, yaml: Any, source: str | None) -> None:
        self.yaml = yaml
        self.source = source
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, message: str, node: Any) -> RulesetError:
        line, column = _at(node)
        return RulesetError(message, source=self.source, line=line, column=column)

    def convert(self, root: Any) -> JValue:
        yaml = self.yaml
        result: list[JValue] = []
        # (node, sink) to convert, or (finish, None): build a container from its converted children.
        stack: list[tuple[Any, Any]] = [(root, result)]
        open_nodes: set[int] = set()  # an alias that points to an enclosing node would never end
        while stack:
            node, sink = stack.pop()
            if callable(node):
                node()
                continue
            tag = node.tag
            long_form = SHORT_FORM_TAGS.get(tag) if tag.startswith("!") else None
            if tag.startswith("!") and long_form is None:
                raise self.fail(f"unknown YAML tag {tag} (CloudFormation short forms: !Ref, !Sub...)", node)
            if long_form is not None:  # the value converts into a list of its own, then is wrapped
                finish, sink = self._short_form(node, long_form, sink)
                stack.append((finish, None))
            if isinstance(node, yaml.ScalarNode):
                sink.append(self.scalar(node, tagged=long_form is not None))
                continue
            if id(node) in open_nodes:
                raise self.fail("a YAML alias refers to a node that contains it", node)
            open_nodes.add(id(node))
            children: list[JValue] = []
            if isinstance(node, yaml.SequenceNode):
                stack.append((self._finish_array(node, children, sink, open_nodes), None))
                stack.extend((child, children) for child in reversed(node.value))
            else:
                keys: list[tuple[str, int, int]] = []
                for key_node, _ in node.value:
                    if key_node.tag == _MERGE:
                        raise self.fail("YAML merge keys (<<) are not supported", key_node)
                    if not isinstance(key_node, yaml.ScalarNode):
                        raise self.fail("a mapping key must be a string", key_node)
                    keys.append((str(key_node.value), *_at(key_node)))
                stack.append((self._finish_object(node, keys, children, sink, open_nodes), None))
                stack.extend((value, children) for _, value in reversed(node.value))
        return result[0]

    def _short_form(self, node: Any, key: str, sink: list[JValue]) -> tuple[Any, list[JValue]]:
        """`!Tag value` -> `{"Fn::Tag": value}`: (the step that wraps, the list the value goes to)."""
        inner: list[JValue] = []
        line, column = _at(node)

        def finish() -> None:
            value = inner[0]
            if key == "Fn::GetAtt" and isinstance(value, JString):  # !GetAtt Resource.Attribute
                resource, _, attribute = value.value.partition(".")
                value = JArray(
                    (
                        JString(resource, value.line, value.column),
                        JString(attribute, value.line, value.column),
                    ),
                    value.line,
                    value.column,
                )
            sink.append(JObject((JMember(key, line, column, value),), line, column))

        return finish, inner

    def _finish_array(self, node: Any, children: list[JValue], sink: list[JValue], opened: set[int]) -> Any:
        line, column = _at(node)

        def finish() -> None:
            opened.discard(id(node))
            sink.append(JArray(tuple(children), line, column))

        return finish

    def _finish_object(
        self,
        node: Any,
        keys: list[tuple[str, int, int]],
        children: list[JValue],
        sink: list[JValue],
        opened: set[int],
    ) -> Any:
        line, column = _at(node)

        def finish() -> None:
            opened.discard(id(node))
            members = (JMember(k, kl, kc, v) for (k, kl, kc), v in zip(keys, children, strict=True))
            sink.append(JObject(tuple(members), line, column))

        return finish

    def scalar(self, node: Any, *, tagged: bool) -> JValue:
        line, column = _at(node)
        raw = str(node.value)
        # A short-form tag makes its scalar a string (`!Ref 5` is {"Ref": "5"}), as does quoting.
        if tagged or node.tag == _STR:
            return JString(raw, line, column)
        if node.tag == _NULL:
            return JNull(line, column)
        if node.tag == _BOOL:
            return JBool(bool(self.constructor.construct_yaml_bool(node)), line, column)
        if node.tag in (_INT, _FLOAT):
            value = self.constructor.construct_object(node)
            if isinstance(value, float) and not math.isfinite(value):
                return JString(raw, line, column)  # .nan / .inf have no JSON number
            return JNumber(value, raw, line, column)
        if node.tag == "tag:yaml.org,2002:binary":
            try:
                return JString(base64.b64decode(raw).decode("utf-8", "replace"), line, column)
            except (binascii.Error, ValueError):
                return JString(raw, line, column)
        return JString(raw, line, column)  # timestamps and other scalars: their text
