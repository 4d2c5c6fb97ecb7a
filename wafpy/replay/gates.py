"""CI gates on a replay and the machine-readable counts behind them.

`change_gate` decides `--fail-on-change KIND... [--max-changes N|P%]` from a change matrix (change
kind -> requests), so that any comparison producing one -- the logged decisions against the new
ones (`--compare`), or two web ACLs on the same traffic -- shares the same rule. `summary_counts`
gives what `--summary-json` writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wafpy.replay.compare import Comparison
from wafpy.replay.summary import Summary

__all__ = [
    "ARROW",
    "ChangeGate",
    "Threshold",
    "change_gate",
    "parse_change_kind",
    "parse_threshold",
    "summary_counts",
]

ARROW = "→"  # the arrow of the change kinds `Comparison` counts ("ALLOW→BLOCK")


def parse_change_kind(text: str) -> str:
    """`ALLOW->BLOCK` (or `allow→block`) as the matrix spells it; ValueError when not OLD->NEW."""
    old, sep, new = text.upper().replace("->", ARROW).partition(ARROW)
    if not sep or not old.strip() or not new.strip() or ARROW in new:
        raise ValueError(f"not a change OLD->NEW (for example ALLOW->BLOCK): {text!r}")
    return f"{old.strip()}{ARROW}{new.strip()}"


@dataclass(frozen=True)
class Threshold:
    """How many changes a gate lets through: a number of requests, or a percentage of those compared."""

    count: int = 0
    percent: float | None = None

    def limit(self, compared: int) -> float:
        return self.count if self.percent is None else compared * self.percent / 100

    def __str__(self) -> str:
        return f"{self.count:,}" if self.percent is None else f"{self.percent:g}%"


def parse_threshold(text: str) -> Threshold:
    """`N` (requests) or `P%` (of the requests compared); ValueError otherwise."""
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return Threshold(percent=percent)
        count = int(text)
        if count < 0:
            raise ValueError
        return Threshold(count=count)
    except ValueError:
        raise ValueError(f"not a number of requests or a percentage (5 or 5%): {text!r}") from None


@dataclass(frozen=True)
class ChangeGate:
    """The outcome of a change gate: the requests that changed in the watched kinds, per kind."""

    kinds: tuple[str, ...]
    found: dict[str, int]
    compared: int
    threshold: Threshold

    @property
    def changed(self) -> int:
        return sum(self.found.values())

    @property
    def failed(self) -> bool:
        return self.changed > self.threshold.limit(self.compared)

    def describe(self) -> str:
        per = ", ".join(f"{n:,} {kind}" for kind, n in self.found.items() if n) or "none"
        verdict = "over" if self.failed else "within"
        return (
            f"--fail-on-change: {self.changed:,} of {self.compared:,} requests changed ({per}), "
            f"{verdict} the {self.threshold} allowed"
        )


def change_gate(
    changes: Mapping[str, int], compared: int, kinds: Sequence[str], threshold: Threshold | None = None
) -> ChangeGate:
    """Count the requests of `changes` in the watched `kinds`.

    A matrix may keep apart the changes it cannot vouch for under a suffixed kind
    ("ALLOW→BLOCK (logged rule not evaluable)"): the gate counts them with their kind, since a
    gate that ignores what it cannot explain would pass on it.
    """
    found = {
        kind: sum(n for k, n in changes.items() if k == kind or k.startswith(kind + " ")) for kind in kinds
    }
    return ChangeGate(tuple(kinds), found, compared, threshold or Threshold())


def summary_counts(summary: Summary, comparison: Comparison | None = None) -> dict[str, Any]:
    """The counts of a replay as plain JSON values (`--summary-json`)."""
    counts: dict[str, Any] = {
        "requests": summary.total,
        "actions": dict(summary.by_action.most_common()),
        "terminating_rules": [
            {"rule": rule, "type": kind, "action": action, "requests": n}
            for (rule, kind, action), n in summary.by_rule.most_common()
        ],
        "requests_counted": summary.requests_counted,
        "undetermined": {
            "requests": summary.requests_undetermined,
            "by_group": [
                {"group": group, "reason": reason, "requests": n}
                for (group, reason), n in summary.undetermined.most_common()
            ],
        },
        "bad_lines": summary.bad_lines,
        "unreadable_inputs": summary.unreadable_inputs,
        "filtered": summary.filtered,
    }
    if comparison is not None:
        counts["changes"] = {
            "compared": comparison.compared,
            "unchanged": comparison.unchanged,
            "changed": comparison.changed,
            "no_ground_truth": comparison.no_ground_truth,
            "cannot_tell": comparison.cannot_tell,
            "by_kind": dict(comparison.changes.most_common()),
            "matrix": [
                {"from": old, "to": new, "requests": n} for (old, new), n in comparison.matrix.most_common()
            ],
        }
    return counts
