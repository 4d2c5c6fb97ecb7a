"""`--compare`: the new decision against what AWS logged -- "what would my change break".

Ground truth comes from `LogEntry.logged`. An AWS WAF record gives the final action and the
terminating rule, so a request changes when its action differs (ALLOW→BLOCK, BLOCK→ALLOW,
→CAPTCHA, ...) or when the action is the same but another rule decided. An ALB access log only
says whether WAF answered instead of the target (`actions_executed` ends with `waf`), which is the
same for a block, a CAPTCHA and a challenge; there the new action is reduced to BLOCK (WAF
answered) or ALLOW before comparing, and rules are not compared. Entries AWS did not decide
(`waf-failed`, no WAF in the actions) and entries without a logged outcome are counted apart.
When the logged terminating rule inspects something the log lacks (a body on a WAF log), the
change is kept apart as "(logged rule not evaluable)": it reflects the log, not the web ACL.

Memory is bounded: the matrix is actions × actions, rule pairs per change are capped, and only the
first `examples` requests of each change are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wafpy.replay.outcome import Outcome
from wafpy.replay.summary import clip
from wafpy.replay.summary_render import undetermined_table

__all__ = ["RULE_CHANGE", "UNKNOWN_SUFFIX", "ChangeExample", "Comparison", "render_comparison"]

RULE_CHANGE = "same action, other rule"
UNKNOWN_SUFFIX = " (logged rule not evaluable)"
_STOPPED = frozenset({"BLOCK", "CAPTCHA", "CHALLENGE"})
MAX_RULE_PAIRS = 200  # per change kind; beyond that, pairs are counted as "(other rules)"
_OTHER_RULES = ("(other rules)", "(other rules)")


class ChangeExample(NamedTuple):
    source: str
    line: int
    method: str
    uri: str
    old_action: str
    new_action: str
    old_rule: str | None
    new_rule: str


class Comparison:
    """Counts of changes between logged and new decisions, with the rules and first examples."""

    def __init__(self, *, examples: int = 5, rule_names: Sequence[str] = ()) -> None:
        self.max_examples = examples
        # What the new decisions are held against, in headings: "logged" (what AWS logged), or
        # "old" when `wafpy diff` compares two web ACL versions.
        self.old_label = "logged"
        self.rule_names = tuple(rule_names)
        self.compared = 0
        self.unchanged = 0
        self.no_ground_truth = 0  # nothing logged (request lines, records without an action)
        self.excluded: Counter[str] = Counter()  # note -> count (waf-failed, no WAF on the ALB)
        self.matrix: Counter[tuple[str, str]] = Counter()  # (logged action, new action)
        self.changes: Counter[str] = Counter()  # change kind ("ALLOW→BLOCK", RULE_CHANGE) -> count
        self.rules: dict[str, Counter[tuple[str, str]]] = {}  # kind -> (old rule, new rule) -> count
        self.examples: dict[str, list[ChangeExample]] = {}
        # Requests not compared because the log cannot give the new outcome (a managed group
        # replayed from the log, UNDETERMINED), per (group, reason): "cannot tell from this log".
        self.cannot_tell = 0
        self.undetermined: Counter[tuple[str, str]] = Counter()

    def add(self, outcome: Outcome) -> str | None:
        """Compare one outcome; return its change kind, or None when unchanged or not comparable."""
        logged = outcome.logged
        if logged is None or logged.action is None:
            if logged is not None and logged.excluded:
                self.excluded[logged.note or "excluded"] += 1
            else:
                self.no_ground_truth += 1
            return None
        if logged.excluded:
            self.excluded[logged.note or "excluded"] += 1
            return None
        if outcome.undetermined:
            self.cannot_tell += 1
            self.undetermined.update(outcome.undetermined)
            return None
        self.compared += 1
        old = logged.action
        new = outcome.action
        old_rule = logged.terminating_rule_id
        if outcome.kind == "alb":
            # The ALB log cannot tell a block from a CAPTCHA or challenge answer, nor which rule.
            new = "BLOCK" if new in _STOPPED else "ALLOW"
            old_rule = None
        self.matrix[(old, new)] += 1
        if old != new:
            kind = f"{old}→{new}"
        elif old_rule is not None and old_rule != outcome.rule_id:
            kind = RULE_CHANGE
        else:
            self.unchanged += 1
            return None
        if (
            old_rule is not None
            and outcome.not_evaluable
            and old_rule in self._rules_of(outcome.not_evaluable)
        ):
            # AWS decided on something the log does not carry (a body, a redacted header): the
            # change says nothing about the web ACL, so it is kept apart from real changes.
            kind += UNKNOWN_SUFFIX
        self.changes[kind] += 1
        pairs = self.rules.setdefault(kind, Counter())
        pair = (old_rule or "-", outcome.rule_id)
        if pair in pairs or len(pairs) < MAX_RULE_PAIRS:
            pairs[pair] += 1
        else:
            pairs[_OTHER_RULES] += 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < self.max_examples:
            examples.append(
                ChangeExample(
                    outcome.source,
                    outcome.line,
                    outcome.method,
                    outcome.uri,
                    old,
                    outcome.action,
                    logged.terminating_rule_id,
                    outcome.rule_id,
                )
            )
        return kind

    def merge(self, other: Comparison) -> None:
        """Add `other`, the comparison of the requests that follow those compared here.

        Merging in input order gives exactly what `add` in input order gives: change kinds,
        rule pairs and examples keep their first-seen order, and the caps apply the same way.
        """
        self.compared += other.compared
        self.unchanged += other.unchanged
        self.no_ground_truth += other.no_ground_truth
        self.cannot_tell += other.cannot_tell
        self.undetermined.update(other.undetermined)
        self.excluded.update(other.excluded)
        self.matrix.update(other.matrix)
        self.changes.update(other.changes)
        for kind, their_pairs in other.rules.items():
            pairs = self.rules.setdefault(kind, Counter())
            for pair, count in their_pairs.items():
                if pair != _OTHER_RULES and (pair in pairs or len(pairs) < MAX_RULE_PAIRS):
                    pairs[pair] += count
                else:
                    pairs[_OTHER_RULES] += count
        for kind, their_examples in other.examples.items():
            examples = self.examples.setdefault(kind, [])
            examples.extend(their_examples[: self.max_examples - len(examples)])

    def _rules_of(self, paths: Sequence[str]) -> set[str]:
        """Names of the web ACL rules holding these statement paths (`Rules[8].Statement...`)."""
        names = set()
        for path in paths:
            if path.startswith("Rules["):
                index = path[6 : path.find("]")]
                if index.isdigit() and int(index) < len(self.rule_names):
                    names.add(self.rule_names[int(index)])
        return names

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    @property
    def unknown(self) -> int:
        """Changes where the logged rule could not be evaluated from the log."""
        return sum(n for kind, n in self.changes.items() if kind.endswith(UNKNOWN_SUFFIX))

    def ordered_kinds(self) -> list[str]:
        """Change kinds, most alarming first: newly blocked, newly allowed, other actions, rules."""

        def rank(kind: str) -> tuple[int, int]:
            if kind.endswith(UNKNOWN_SUFFIX):
                return (4, -self.changes[kind])
            if kind == "ALLOW→BLOCK":
                return (0, 0)
            if kind == "BLOCK→ALLOW":
                return (1, 0)
            if kind == RULE_CHANGE:
                return (3, 0)
            return (2, -self.changes[kind])

        return sorted(self.changes, key=rank)


def render_comparison(console: Console, comparison: Comparison) -> None:
    """Print the change table, then for each change the responsible rules and first examples."""
    total = comparison.compared
    label = comparison.old_label
    head = f"[bold]Compared with the {label} decisions[/]: {total:,} requests, {comparison.changed:,} changed"
    if comparison.unknown:
        head += f" ({comparison.unknown:,} of them by a logged rule the log cannot re-evaluate)"
    if comparison.cannot_tell:
        head += f", {comparison.cannot_tell:,} cannot tell from this log (not compared)"
    if comparison.no_ground_truth:
        head += f", {comparison.no_ground_truth:,} without a logged decision"
    for note, count in comparison.excluded.items():
        head += f", {count:,} excluded ({escape(clip(note))})"
    console.print(head)
    if comparison.undetermined:
        console.print(undetermined_table(comparison.undetermined, comparison.cannot_tell))
    if not comparison.changes:
        if total:
            which = "AWS logged" if label == "logged" else f"the {label} web ACL gave"
            console.print(f"  [green]no change[/]: every compared request gets the action (and rule) {which}")
        return
    table = Table(title="Changes", title_justify="left")
    table.add_column("change")
    table.add_column("requests", justify="right")
    table.add_column("share of compared", justify="right")
    for kind in comparison.ordered_kinds():
        count = comparison.changes[kind]
        style = "bold red" if kind == "ALLOW→BLOCK" else "bold yellow" if kind == "BLOCK→ALLOW" else ""
        style = "dim" if kind.endswith(UNKNOWN_SUFFIX) else style
        table.add_row(Text(clip(kind), style=style), f"{count:,}", f"{100 * count / total:.2f}%")
    console.print(table)
    for kind in comparison.ordered_kinds():
        title = escape(clip(kind))  # the logged action is text from the logs, as are the rules
        rules = Table(title=f"{title}: rules responsible", title_justify="left")
        rules.add_column(f"{label} terminating rule", overflow="fold")
        rules.add_column("new terminating rule", overflow="fold")
        rules.add_column("requests", justify="right")
        for (old_rule, new_rule), count in comparison.rules[kind].most_common(10):
            rules.add_row(Text(clip(old_rule)), Text(clip(new_rule)), f"{count:,}")
        console.print(rules)
        examples = Table(title=f"{title}: first examples", title_justify="left")
        # At 80 columns a long file path must not squeeze out the request and the rules: the
        # path folds within its share, the request and rule columns keep a readable minimum.
        examples.add_column("where", overflow="fold")
        examples.add_column("request", overflow="fold", min_width=16, max_width=60)
        examples.add_column(f"{label} → new", overflow="fold", min_width=9)
        examples.add_column("rule", overflow="fold", min_width=14)
        for ex in comparison.examples[kind]:
            examples.add_row(
                Text(clip(f"{ex.source}:{ex.line}")),
                Text(clip(f"{ex.method} {ex.uri}")),
                Text(clip(f"{ex.old_action} → {ex.new_action}")),
                Text(clip(f"{ex.old_rule or '-'} → {ex.new_rule}")),
            )
        console.print(examples)
