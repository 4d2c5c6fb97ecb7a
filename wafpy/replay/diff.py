"""`wafpy diff`: two versions of a web ACL evaluated by wafpy on the same traffic.

Unlike `--compare`, which holds the new decision against what AWS logged, both sides here are
wafpy's own decisions on the same requests. What a log cannot show (a body, a redacted header)
is absent for both versions alike, and managed rule groups are evaluated the same way on both
sides, so those differences cancel out: what changes is what the edit changed.

The logs are read once; each line is decoded once into a `Request`, which both web ACLs
evaluate (an `Evaluator` per side, sharing the decoded request). The pair is counted in a
`Comparison` (the change matrix, the rules responsible and the first examples), with the old
decision standing where `--compare` puts the logged one, and the new side in a `Summary` (bad
lines, undetermined requests). A request that either side cannot decide from the log
(UNDETERMINED, a managed group replayed with `--managed log`) is counted apart, never as a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wafpy.logs.decode import Decoded
from wafpy.logs.records import LoggedOutcome
from wafpy.replay.chunks import read_chunks
from wafpy.replay.compare import Comparison
from wafpy.replay.evaluator import PIECE_LINES, Evaluator
from wafpy.replay.outcome import BadLine, Outcome, ReplayOptions, StrictStop
from wafpy.replay.summary import Summary
from wafpy.webacl import WebACL

__all__ = ["DIFF_KIND", "AclDiff", "diff_comparison_json", "diff_logs"]

# `Outcome.kind` of a paired outcome: not "alb", so that `Comparison` compares actions and rules
# as they are (both sides are wafpy decisions, not an ALB's "blocked or not").
DIFF_KIND = "diff"


class AclDiff:
    """The result of `diff_logs`: the comparison (old → new) and the new side's summary."""

    def __init__(self, comparison: Comparison, summary: Summary) -> None:
        self.comparison = comparison
        self.summary = summary
        self.filtered = 0


class _PairEvaluator(Evaluator):
    """Evaluates each decoded request against the old web ACL (as `Evaluator`) and the new one.

    `_decide` returns the new side's outcome with the old decision in `logged`, so `Comparison`
    treats the old web ACL as the ground truth.
    """

    def __init__(self, old: WebACL, new: WebACL, options: ReplayOptions) -> None:
        super().__init__(old, options)
        self._new = Evaluator(new, options)

    def _decide(
        self, source: str, number: int, timestamp: int | None, kind: str, decoded: Decoded
    ) -> Outcome:
        before = super()._decide(source, number, timestamp, kind, decoded)
        after = self._new._decide(source, number, timestamp, kind, decoded)
        undetermined = after.undetermined + tuple(
            u for u in before.undetermined if u not in after.undetermined
        )
        return after._replace(
            kind=DIFF_KIND,
            logged=LoggedOutcome(
                before.action, before.rule_id, before.rule_type, before.labels, before.counted
            ),
            # Both sides lack the same parts of the request: nothing to keep apart for that.
            not_evaluable=(),
            undetermined=undetermined,
        )


def diff_logs(
    old: WebACL,
    new: WebACL,
    paths: Sequence[str],
    options: ReplayOptions | None = None,
    *,
    examples: int = 5,
) -> AclDiff:
    """Read `paths` once and evaluate every request against `old` and `new`.

    Bad lines and unreadable inputs are counted in the summary (with `options.strict`, the first
    one raises `StrictStop`); `options.limit` stops after that many requests.
    """
    options = options or ReplayOptions()
    comparison = Comparison(examples=examples, rule_names=[r.name for r in old.model.rules])
    comparison.old_label = "old"
    result = AclDiff(comparison, Summary())
    evaluator = _PairEvaluator(old, new, options)
    replayed = 0
    for chunk in read_chunks(paths, options.format, min(options.chunk_lines, PIECE_LINES)):
        items, filtered = evaluator.run(chunk)
        result.filtered += filtered
        for item in items:
            if isinstance(item, BadLine):
                if options.strict:
                    raise StrictStop(item)
                result.summary.add_bad(item)
                continue
            result.summary.add(item)
            comparison.add(item)
            replayed += 1
            if options.limit is not None and replayed >= options.limit:
                result.summary.filtered = result.filtered
                return result
    result.summary.filtered = result.filtered
    return result


def diff_comparison_json(diff: AclDiff, *, old: str, new: str, inputs: Sequence[str]) -> dict[str, Any]:
    """The diff as plain JSON data: counts, the change matrix, rules responsible and examples."""
    c = diff.comparison
    return {
        "old": old,
        "new": new,
        "inputs": list(inputs),
        "requests": diff.summary.total,
        "compared": c.compared,
        "unchanged": c.unchanged,
        "changed": c.changed,
        "undetermined": c.cannot_tell,
        "undetermined_by_group": [
            {"group": group, "reason": reason, "requests": n}
            for (group, reason), n in c.undetermined.most_common()
        ],
        "bad_lines": diff.summary.bad_lines,
        "unreadable_inputs": diff.summary.unreadable_inputs,
        "matrix": [
            {"old": o, "new": n, "requests": count}
            for (o, n), count in sorted(c.matrix.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "changes": [
            {
                "change": kind,
                "requests": c.changes[kind],
                "rules": [
                    {"old_rule": o, "new_rule": n, "requests": count}
                    for (o, n), count in c.rules[kind].most_common()
                ],
                "examples": [
                    {
                        "where": f"{ex.source}:{ex.line}",
                        "method": ex.method,
                        "uri": ex.uri,
                        "old_action": ex.old_action,
                        "new_action": ex.new_action,
                        "old_rule": ex.old_rule,
                        "new_rule": ex.new_rule,
                    }
                    for ex in c.examples[kind]
                ],
            }
            for kind in c.ordered_kinds()
        ],
    }
