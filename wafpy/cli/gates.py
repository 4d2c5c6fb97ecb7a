"""The gates of `wafpy eval` and what CI reads of them: the exit code, `--summary-json`, `--junit`.

Each gate is one check with a verdict: every input read whole, at least one request evaluated,
`--strict` not stopped, each `--fail-on ACTION`, and `--fail-on-change`. The exit code is the
first failed check in the order of precedence below; `--junit` writes one testcase per check
(not per request: a replay of a million requests is one CI step, and the failed check's message
names the requests or changes behind it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from wafpy.cli.common import EXIT_EMPTY, EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, EXIT_STRICT
from wafpy.cli.waftest import JUnitCase, junit_document
from wafpy.replay.compare import Comparison
from wafpy.replay.gates import change_gate, parse_change_kind, parse_threshold, summary_counts
from wafpy.replay.outcome import BadLine
from wafpy.replay.summary import Summary

__all__ = [
    "Check",
    "add_gate_arguments",
    "check_gate_arguments",
    "evaluate_checks",
    "exit_code",
    "offenders",
    "write_ci_outputs",
]

T = TypeVar("T")
SHOWN = 10  # offending requests printed per --fail-on action


@dataclass
class Check:
    """One gate: its name, and what failed (None when it passed) with the exit code it gives."""

    name: str
    problem: str | None = None
    code: int = EXIT_OK
    detail: str = ""
    error: bool = False  # could not check (inputs not read), rather than checked and failed


def _type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ValueError with a message worth showing."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def add_gate_arguments(p: argparse.ArgumentParser) -> None:
    """`--fail-on-change`, `--max-changes`, `--summary-json`, `--junit`."""
    p.add_argument(
        "--fail-on-change",
        metavar="OLD->NEW",
        nargs="+",
        action="extend",
        default=[],
        type=_type(parse_change_kind),
        help="with --compare: exit 2 when requests change this way (for example ALLOW->BLOCK)",
    )
    p.add_argument(
        "--max-changes",
        metavar="N|P%",
        type=_type(parse_threshold),
        help="--fail-on-change lets through up to N requests, or P%% of those compared (default 0)",
    )
    p.add_argument("--summary-json", metavar="FILE", help="write the counts (and changes) as JSON")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report, one testcase per gate")


def check_gate_arguments(args: argparse.Namespace) -> str | None:
    """The usage error of the gate options, if any."""
    if args.fail_on_change and not args.compare:
        return "--fail-on-change needs --compare (the logged decisions to compare with)"
    if args.max_changes is not None and not args.fail_on_change:
        return "--max-changes applies to --fail-on-change"
    return None


def evaluate_checks(
    args: argparse.Namespace,
    summary: Summary,
    comparison: Comparison | None,
    unreadable: Sequence[BadLine],
    stopped: BadLine | None,
) -> list[Check]:
    """Every gate of the run, in order of precedence of their exit codes."""
    checks = [
        Check(
            "--strict: no bad line",
            None if stopped is None else stopped.describe(),
            EXIT_STRICT,
        ),
        Check(
            "every input read whole",
            None
            if not unreadable
            else f"{summary.unreadable_inputs or len(unreadable):,} inputs not read whole",
            EXIT_INPUT,
            "\n".join(bad.describe() for bad in unreadable),
            error=True,
        ),
    ]
    if not args.strict:
        checks.pop(0)
    # COUNT never ends an evaluation: it means "a Count rule matched" (a rule tried out in count mode).
    # UNDETERMINED requests are never counted as ALLOW or BLOCK; --fail-on UNDETERMINED fails on them.
    for action in args.fail_on:
        n = summary.requests_counted if action == "COUNT" else summary.by_action.get(action, 0)
        checks.append(
            Check(
                f"--fail-on {action}",
                f"{n:,} {action}" if n else None,
                EXIT_FAIL_ON,
                offenders(summary, action),
            )
        )
    if comparison is not None and args.fail_on_change:
        gate = change_gate(comparison.changes, comparison.compared, args.fail_on_change, args.max_changes)
        checks.append(
            Check(
                f"--fail-on-change {' '.join(args.fail_on_change)}",
                gate.describe() if gate.failed else None,
                EXIT_FAIL_ON,
                "\n".join(
                    f"{ex.source}:{ex.line}: {ex.old_action}->{ex.new_action} {ex.method} {ex.uri} "
                    f"({ex.old_rule or '-'} -> {ex.new_rule})"
                    for kind, examples in comparison.examples.items()
                    if any(kind == k or kind.startswith(k + " ") for k in args.fail_on_change)
                    for ex in examples
                ),
            )
        )
    empty = summary.total == 0 and (bool(args.fail_on) or not args.allow_empty)
    checks.append(
        Check("at least one request evaluated", "no request evaluated" if empty else None, EXIT_EMPTY)
    )
    return checks


def offenders(summary: Summary, action: str, shown: int = SHOWN) -> str:
    """The first requests given `action`, one `file:line: ACTION by RULE` a line, then how many more."""
    examples = summary.action_examples.get(action, [])[:shown]
    total = summary.requests_counted if action == "COUNT" else summary.by_action.get(action, 0)
    lines = [f"{source}:{line}: {action} by {rule}" for source, line, rule in examples]
    if total > len(examples):
        lines.append(f"... and {total - len(examples):,} more")
    return "\n".join(lines)


def exit_code(checks: Sequence[Check]) -> int:
    """The code of the first failed check."""
    return next((c.code for c in checks if c.problem is not None), EXIT_OK)


def write_ci_outputs(
    args: argparse.Namespace,
    summary: Summary,
    comparison: Comparison | None,
    checks: Sequence[Check],
    seconds: float,
) -> str | None:
    """Write `--summary-json` and `--junit`; the error message when one cannot be written."""
    if args.summary_json:
        counts = summary_counts(summary, comparison)
        counts["exit_code"] = exit_code(checks)
        counts["gates"] = [
            {"name": c.name, "passed": c.problem is None, "problem": c.problem} for c in checks
        ]
        try:
            Path(args.summary_json).write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            return f"cannot write {args.summary_json}: {exc.strerror or exc}"
    if args.junit:
        cases = [
            JUnitCase(
                check.name,
                "wafpy eval",
                seconds=seconds if i == 0 else 0.0,
                problem=check.problem,
                detail=check.detail,
                problem_type="gate",
                error=check.error,
            )
            for i, check in enumerate(checks)
        ]
        data = junit_document("wafpy eval", seconds, [(" ".join(args.logs), seconds, cases)])
        try:
            Path(args.junit).write_bytes(data)
        except OSError as exc:
            return f"cannot write {args.junit}: {exc.strerror or exc}"
    return None
