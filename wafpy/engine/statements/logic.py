"""And, Or, Not.

AWS does not say whether it short-circuits. It only shows when a GeoMatchStatement inside adds its
labels as a side effect, so subtrees holding one evaluate every child (wafpy's choice;
https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statements-logical.html is silent);
all other subtrees short-circuit, which gives identical results faster.
"""

from __future__ import annotations

from dataclasses import replace

from wafpy import model as ast
from wafpy.decision import MatchDetail
from wafpy.engine.context import EvalContext, Matcher
from wafpy.engine.statements.base import CompileContext


def contains_geo(statement: ast.Statement) -> bool:
    if isinstance(statement, ast.GeoMatch):
        return True
    if isinstance(statement, (ast.And, ast.Or)):
        return any(contains_geo(s) for s in statement.statements)
    if isinstance(statement, ast.Not):
        return contains_geo(statement.statement)
    return False


def and_statement(s: ast.And, cc: CompileContext) -> Matcher:
    children = tuple(cc.child(c, f"Statements[{i}]") for i, c in enumerate(s.statements))
    if contains_geo(s):

        def match_all(ctx: EvalContext) -> bool:
            results = [child(ctx) for child in children]
            return all(results)

        return match_all

    def match(ctx: EvalContext) -> bool:
        for child in children:  # noqa: SIM110 - a plain loop is faster than all() over a generator
            if not child(ctx):
                return False
        return True

    return match


def or_statement(s: ast.Or, cc: CompileContext) -> Matcher:
    children = tuple(cc.child(c, f"Statements[{i}]") for i, c in enumerate(s.statements))
    if contains_geo(s):

        def match_all(ctx: EvalContext) -> bool:
            results = [child(ctx) for child in children]
            return any(results)

        return match_all

    def match(ctx: EvalContext) -> bool:
        for child in children:  # noqa: SIM110 - a plain loop is faster than any() over a generator
            if child(ctx):
                return True
        return False

    return match


def not_statement(s: ast.Not, cc: CompileContext) -> Matcher:
    inner = replace(cc, record_details=False).child(s.statement, "Statement")
    path = cc.path

    def match(ctx: EvalContext) -> bool:
        mark = len(ctx.details)
        if inner(ctx):
            del ctx.details[mark:]
            return False
        ctx.details.append(MatchDetail("NotStatement", path, matched="inner statement did not match"))
        return True

    return match
