"""LabelMatchStatement (spec 6.4).

A key starting with `awswaf:` is fully qualified. Any other key is relative to the prefix of the
web ACL or rule group where the matching rule is defined: LABEL keys must equal the last
components of a label under that prefix, NAMESPACE keys a contiguous run of its namespaces.
"""

from __future__ import annotations

from wafpy import ast
from wafpy.context import EvalContext, Matcher
from wafpy.decision import MatchDetail
from wafpy.statements.base import CompileContext


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
            inner = lambda ctx: _first(ctx, lambda label: label.startswith(key))  # noqa: E731
    elif s.scope == "LABEL":
        inner = _relative_label(cc.label_prefix, key.split(":"))
    else:
        inner = _relative_namespace(cc.label_prefix, key.rstrip(":").split(":"))

    def match(ctx: EvalContext) -> bool:
        if inner(ctx):
            ctx.details.append(
                MatchDetail("LabelMatchStatement", path, "LABEL", matched=ctx.memo.pop("label_hit"))
            )
            return True
        return False

    return match
