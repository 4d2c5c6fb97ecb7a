"""The trace of an evaluation (`Decision.trace`), made only when someone reads it.

The evaluation records an entry only for the rules that matched or were not applied, and keeps
each as the arguments of its `RuleTrace`; the builder fills in the rules that did not match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wafpy.decision import NO_MATCH, RuleTrace
from wafpy.engine.compile import CompiledRule

# (rule, priority, result, group) for a rule that did not match or was not applied; the eight
# RuleTrace fields in order for one that matched; a RuleTrace; or a list of RuleTraces (the rules
# of a group the prefilter skipped at once).
TraceEntry = RuleTrace | tuple[Any, ...] | list[RuleTrace]


def _trace_entry(entry: RuleTrace | tuple[Any, ...]) -> RuleTrace:
    if isinstance(entry, RuleTrace):
        return entry
    if len(entry) == 4:
        return RuleTrace(entry[0], entry[1], entry[2], group=entry[3])
    return RuleTrace(*entry)


def trace_builder(
    rules: tuple[CompiledRule, ...],
    last: int,
    events: list[tuple[int, TraceEntry]],
) -> Callable[[], tuple[RuleTrace, ...]]:
    """Build the trace only when asked: the scanner records nothing for rules that did not match."""

    def build() -> tuple[RuleTrace, ...]:
        by_index: dict[int, list[TraceEntry]] = {}
        for index, entry in events:
            by_index.setdefault(index, []).append(entry)
        out: list[RuleTrace] = []
        for index in range(last + 1):
            rule = rules[index]
            entries = by_index.get(index) or [(rule.name, rule.priority, NO_MATCH, None)]
            for entry in entries:
                if isinstance(entry, list):
                    out += entry
                else:
                    out.append(_trace_entry(entry))
        return tuple(out)

    return build
