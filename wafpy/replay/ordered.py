"""Merging partial summaries of parts of the input, whatever order the parts were evaluated in.

A replay split by rate key (worker processes each owning some keys, `wafpy.replay.keyed`; Spark
tasks, `wafpy.spark`) counts each part into a summary of its own. Counts add up in any order.
What does not are the examples a summary keeps: the first few requests per action, the first bad
lines, the first unreadable inputs, and the comparison's first examples per change, which in one
ordered pass are the first in input order. Each partial summary keeps the first ones *in input
order among its own requests* (its part is added in input order), so the first N of the union,
sorted by position, are the first N of the whole input: `merge_in_order` keeps exactly those.
(Top-N tables order equal counts by first sight, which may differ: the counts do not.)

A position is (rank of the input file, file, line): `position_of` maps each file to its rank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wafpy.replay.compare import Comparison
from wafpy.replay.summary import ACTION_EXAMPLES, BAD_EXAMPLES, INPUT_ERRORS, Summary

__all__ = ["Position", "merge_comparison_in_order", "merge_in_order", "position_of"]

Position = Callable[[str | None, int | None], tuple[int, str, int]]


def position_of(ranks: Mapping[str, int]) -> Position:
    """The input position of (file name, line) given each file's rank; unknown files go last."""
    last = len(ranks)

    def position(source: str | None, line: int | None) -> tuple[int, str, int]:
        name = source or ""
        return ranks.get(name, last), name, -1 if line is None else line

    return position


def _first(items: list[Any], limit: int, key: Callable[[Any], tuple[int, str, int]]) -> list[Any]:
    items.sort(key=key)
    del items[limit:]
    return items


def merge_in_order(total: Summary, part: Summary, position: Position) -> None:
    """`total.merge(part)`, keeping the examples that come first in input order."""
    actions = {action: list(examples) for action, examples in total.action_examples.items()}
    bad = list(total.bad_examples)
    inputs = list(total.input_errors)
    total.merge(part)
    for action in total.action_examples:
        joined = actions.get(action, []) + part.action_examples.get(action, [])
        total.action_examples[action] = _first(joined, ACTION_EXAMPLES, lambda e: position(e[0], e[1]))
    total.bad_examples = _first(bad + part.bad_examples, BAD_EXAMPLES, lambda b: position(b.file, b.line))
    total.input_errors = _first(inputs + part.input_errors, INPUT_ERRORS, lambda b: position(b.file, b.line))


def merge_comparison_in_order(total: Comparison, part: Comparison, position: Position) -> None:
    """`total.merge(part)`, keeping the first examples of each change in input order."""
    before = {kind: list(examples) for kind, examples in total.examples.items()}
    total.merge(part)
    for kind in total.examples:
        joined = before.get(kind, []) + part.examples.get(kind, [])
        total.examples[kind] = _first(joined, total.max_examples, lambda e: position(e.source, e.line))
