"""LabelMatchStatement (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-label-match.html).

A key starting with `awswaf:` is fully qualified. Any other key is relative to the prefix of the
web ACL or rule group where the matching rule is defined: LABEL keys must equal the last
components of a label under that prefix, NAMESPACE keys a contiguous run of its namespaces.
Keys and labels compare as whole `:`-separated components, never as character prefixes: the
namespace `...:core-like` is not a prefix of `...:core-like-ext:name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from wafpy import model as ast
from wafpy.decision import MatchDetail
from wafpy.engine.context import EvalContext, Matcher
from wafpy.engine.statements.base import CompileContext

__all__ = ["UNSPECIFIED_CHOICES", "label_match", "namespace_parts"]

UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "relative `NAMESPACE` label keys": "a contiguous run of the label's namespaces, anywhere "
    "after the context prefix, compared component by component",
    "`NAMESPACE` key without a trailing `:`": "the same namespaces as with it (`a:b` = `a:b:`); "
    "only one trailing ':' ends the key, so `a:b::` names an empty component and matches nothing",
}


def namespace_parts(key: str) -> list[str]:
    """The namespace components a NAMESPACE key names: `a:b:` and `a:b` both give ["a", "b"]."""
    return (key[:-1] if key.endswith(":") else key).split(":")


def _relative_label(prefix: str, key_parts: list[str]) -> Matcher:
    n = len(key_parts)

    def test(label: str) -> bool:
        if not label.startswith(prefix):
            return False
        parts = label[len(prefix) :].split(":")
        return len(parts) >= n and parts[-n:] == key_parts

    return lambda ctx: _first(ctx, test)


def _relative_namespace(prefix: str, key_parts: list[str]) -> Matcher:
    n = len(key_parts)

    def test(label: str) -> bool:
        if not label.startswith(prefix):
            return False
        namespaces = label[len(prefix) :].split(":")[:-1]
        return any(namespaces[i : i + n] == key_parts for i in range(len(namespaces) - n + 1))

    return lambda ctx: _first(ctx, test)


def _first(ctx: EvalContext, test: object) -> bool:
    for label in ctx.labels:
        if test(label):  # type: ignore[operator]
            ctx.memo["label_hit"] = label
            return True
    return False


def label_match(s: ast.LabelMatch, cc: CompileContext) -> Matcher:
    key = s.key
    path = cc.path
    inner: Matcher
    if key.startswith("awswaf:"):
        if s.scope == "LABEL":

            def exact(ctx: EvalContext) -> bool:
                if key in ctx.label_set:
                    ctx.memo["label_hit"] = key
                    return True
                return False

            inner = exact
        else:
            # The label's namespaces must begin with the key's: a string prefix that ends at a ':'
            # after the key's last component, so `...:core-like` never matches `...:core-like-ext:x`.
            namespace = ":".join(namespace_parts(key)) + ":"
            inner = lambda ctx: _first(ctx, lambda label: label.startswith(namespace))  # noqa: E731
    elif s.scope == "LABEL":
        inner = _relative_label(cc.label_prefix, key.split(":"))
    else:
        inner = _relative_namespace(cc.label_prefix, namespace_parts(key))

    def match(ctx: EvalContext) -> bool:
        if inner(ctx):
            ctx.details.append(
                MatchDetail("LabelMatchStatement", path, "LABEL", matched=ctx.memo.pop("label_hit"))
            )
            return True
        return False

    return match
