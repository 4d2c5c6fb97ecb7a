"""The terminal summary and comparison of `wafpy eval` print values from the logs safely.

A value from the logs can be megabytes long (one URI of 4 MB) or look like rich markup
(`/[/x]`); the tables must cost time in proportion to the input, never more, and print the
value as text.
"""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from tests.replay_fixtures import T0
from wafpy.logs.records import LoggedOutcome
from wafpy.replay import BadLine, Outcome
from wafpy.replay.compare import Comparison, render_comparison
from wafpy.replay.summary import CELL_CHARS, KEY_CHARS, Summary
from wafpy.replay.summary_render import render_summary


def blocked(uri: str, *, label: str = "awswaf:test:x", logged: str = "ALLOW") -> Outcome:
    return Outcome(
        "waf.jsonl",
        1,
        T0,
        "waf",
        "GET",
        uri,
        "203.0.113.5",
        "BLOCK",
        "block-admin",
        "REGULAR",
        (label,),
        (),
        (),
        LoggedOutcome(logged, "Default_Action"),
        None,
    )


def summarise(outcome: Outcome) -> str:
    """What `wafpy eval` does with one outcome: count it, print the summary and the comparison."""
    summary = Summary()
    summary.add(outcome)
    summary.add_bad(BadLine(f"not valid JSON near {outcome.uri}", "waf.jsonl", 2))
    comparison = Comparison()
    comparison.add(outcome)
    text = io.StringIO()
    console = Console(file=text, width=120)
    render_summary(console, summary)
    render_comparison(console, comparison)
    return text.getvalue()


def fastest(outcome: Outcome, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        summarise(outcome)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.slow
def test_summary_time_is_linear_in_the_longest_value() -> None:
    """A 4 MB URI (and label) against a 40 KB one: 100 times the input may cost at most 100
    times as much (it cost 200 times, 13 s, when cells were laid out whole)."""
    small, large = 40_000, 4_000_000
    small_time = fastest(blocked("/" + "a" * small, label="l" * small), 5)
    large_time = fastest(blocked("/" + "a" * large, label="l" * large), 2)
    assert large_time / small_time < (large / small) / 4


def test_long_values_are_printed_clipped_with_an_ellipsis() -> None:
    text = summarise(blocked("/" + "Z" * 100_000, label="Y" * 100_000))
    # The URI is in three cells (top blocked URIs, the bad line, the example), the label in one.
    assert 2 * CELL_CHARS < text.count("Z") < 3 * CELL_CHARS
    assert text.count("Y") == CELL_CHARS - 1
    assert text.count("…") >= 4 and len(text) < 40_000


def test_long_values_are_counted_by_a_bounded_key() -> None:
    summary = Summary()
    for tail in "xyz":
        summary.add(blocked("/" + "a" * 5000 + tail, label="l" * 5000 + tail))
    [(uri, count)] = summary.blocked_uris.top()
    assert count == 3 and len(uri) == KEY_CHARS and uri.endswith("…")
    [(label, count)] = summary.labels.top()
    assert count == 3 and len(label) == KEY_CHARS


@pytest.mark.parametrize("value", ["/[/x]", "/[bold]x", "/[link=http://e.test]x[/link]", "/\\[x]"])
def test_values_that_look_like_markup_are_printed_as_text(value: str) -> None:
    text = summarise(blocked(value, label=f"label:{value}", logged=f"ALLOW{value}"))
    assert value in text and f"label:{value}" in text and f"ALLOW{value}→BLOCK" in text
