"""A generated scanner: one straight-line function per rule list, run until a rule needs attention.

Most rules do not match most requests. Calling a generic per-rule routine for each costs more than
the checks themselves, so each web ACL gets a function, generated once at compile time, that
evaluates rule after rule inline (And/Or become Python `and`/`or`; leaves are the compiled
matcher closures, which record why they matched). It returns the index of the first rule that
matched, was not applied, added labels, or references a rule group, and the evaluation loop
handles that rule with the full machinery before resuming the scan after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wafpy import ast
from wafpy.context import EvalContext, Matcher, NotApplied
from wafpy.statements.base import CompileContext
from wafpy.statements.logic import contains_geo

GROUP = "group"  # scan result: the rule at this index references a rule group

# (index of the rule that needs attention, or len(rules); its match result: True / False,
# None when it was not applied, GROUP for a rule-group reference)
ScanResult = tuple[int, bool | str | None]
Scanner = Callable[[EvalContext, int], ScanResult]


def expression(
    statement: ast.Statement,
    cc: CompileContext,
    compile_statement: Callable[[ast.Statement, CompileContext], Matcher],
    names: dict[str, Any],
) -> str:
    """Python source deciding `statement` for `ctx`; leaves become calls of compiled closures."""
    # Geo subtrees must evaluate every child for their labels (spec 2.12), so they stay closures.
    if isinstance(statement, (ast.And, ast.Or)) and not contains_geo(statement):
        member = "AndStatement" if isinstance(statement, ast.And) else "OrStatement"
        inner = cc.at(member)
        parts = [
            expression(child, inner.at(f"Statements[{i}]"), compile_statement, names)
            for i, child in enumerate(statement.statements)
        ]
        return "(" + (" and " if isinstance(statement, ast.And) else " or ").join(parts) + ")"
    name = f"m{len(names)}"
    names[name] = compile_statement(statement, cc)
    return f"{name}(ctx)"


def build_scanner(rule_expressions: list[str | None], names: dict[str, Any]) -> Scanner:
    """The scanner for rules whose statements are given as expressions (None = rule group)."""
    lines = ["def scan(ctx, start):", "    details = ctx.details"]
    for index, source in enumerate(rule_expressions):
        lines.append(f"    if start <= {index}:")
        if source is None:
            lines.append(f"        return {index}, GROUP")
            continue
        lines += [
            "        try:",
            f"            m = {source}",
            "        except NotApplied:",
            f"            return {index}, None",
            "        if m or ctx.pending_labels:",
            f"            return {index}, m",
            "        if details:",
            "            del details[:]",
        ]
    lines.append(f"    return {len(rule_expressions)}, False")
    namespace: dict[str, Any] = {"NotApplied": NotApplied, "GROUP": GROUP, **names}
    exec(compile("\n".join(lines), "<wafpy scanner>", "exec"), namespace)
    scanner: Scanner = namespace["scan"]
    return scanner
