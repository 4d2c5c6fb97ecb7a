"""Counters over a replay, in bounded memory (their tables: `wafpy.replay.summary_render`).

Ten million replayed requests must not need more memory than ten thousand, so nothing here grows
with the number of requests: actions and terminating rules are bounded by the web ACL, statement
paths likewise; client IPs, URIs and labels go through `TopK` (heavy hitters in a capped dict);
the timeline widens its buckets instead of adding more; examples are the first few only.

Nothing grows with the length of a value either. The keys of the top-N counters (URIs, client
IPs, labels: values from the logs, of any length) are cut to `KEY_CHARS` characters when
counted, and every table cell to `CELL_CHARS` when printed, with an ellipsis: rich lays a cell
out in time that grows faster than its length (a 4 MB URI took 13 s), so a summary of one huge
value would otherwise cost more than replaying it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from operator import itemgetter

from wafpy.replay.outcome import BadLine, Outcome, UnreadableInput

__all__ = [
    "ACTION_COLORS",
    "ACTION_ORDER",
    "CELL_CHARS",
    "KEY_CHARS",
    "Summary",
    "Timeline",
    "TopK",
    "clip",
]

# UNDETERMINED is not an AWS action: a managed group replayed from the log whose outcome the record
# cannot give (`Outcome.undetermined`); it is counted apart, never as ALLOW or BLOCK.
ACTION_ORDER = ("ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE", "COUNT", "UNDETERMINED")
ACTION_COLORS = {
    "ALLOW": "#2e9e5b",
    "BLOCK": "#d64545",
    "CAPTCHA": "#e8a33d",
    "CHALLENGE": "#8e5bd6",
    "COUNT": "#3b82c4",
    "UNDETERMINED": "#7b8794",
}
BAD_EXAMPLES = 10
INPUT_ERRORS = 100  # inputs that could not be read whole, kept with their message
ACTION_EXAMPLES = 20  # requests kept per action for `--fail-on` to name
KEY_CHARS = 1000  # a longer URI, IP or label is counted by its first KEY_CHARS - 1 characters + "…"
CELL_CHARS = 200  # a longer table cell is printed as its first CELL_CHARS - 1 characters + "…"


def clip(text: str, limit: int = CELL_CHARS) -> str:
    """`text`, or its first `limit - 1` characters and an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TopK:
    """Approximate top-N counter with bounded memory (a capped dict, pruned in batches).

    Keys are counted exactly until `2 * capacity` distinct keys are held; then only the `capacity`
    largest are kept. `error` is the largest count ever dropped: a reported count is low by at most
    that, and a key whose true count exceeds it is never lost. Batch pruning keeps `add` O(1)
    amortised, where classic space-saving needs a min-heap update per new key.
    """

    __slots__ = ("capacity", "counts", "error")

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.error = 0

    def add(self, key: str, n: int = 1) -> None:
        counts = self.counts
        counts[key] = counts.get(key, 0) + n
        if len(counts) > 2 * self.capacity:
            ranked = heapq.nlargest(self.capacity + 1, counts.items(), key=itemgetter(1))
            self.error = max(self.error, ranked[-1][1])
            self.counts = dict(ranked[:-1])

    def merge(self, other: TopK) -> None:
        """Add the counts of `other` (keys in its first-seen order, as if added one by one)."""
        self.error = max(self.error, other.error)
        add = self.add
        for key, count in other.counts.items():
            add(key, count)

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        return heapq.nlargest(n, self.counts.items(), key=itemgetter(1))

    @property
    def approximate(self) -> bool:
        return self.error > 0

    def __len__(self) -> int:
        return len(self.counts)


class Timeline:
    """Requests per time bucket and action; buckets double in width to stay under `max_buckets`."""

    __slots__ = ("buckets", "max_buckets", "width_ms")

    def __init__(self, width_ms: int = 60_000, max_buckets: int = 1440) -> None:
        self.width_ms = width_ms
        self.max_buckets = max_buckets
        self.buckets: dict[int, Counter[str]] = {}

    def add(self, timestamp_ms: int, action: str) -> None:
        start = timestamp_ms - timestamp_ms % self.width_ms
        bucket = self.buckets.get(start)
        if bucket is None:
            while len(self.buckets) >= self.max_buckets:
                self._widen()
            start = timestamp_ms - timestamp_ms % self.width_ms
            bucket = self.buckets.get(start)
            if bucket is None:
                bucket = self.buckets[start] = Counter()
        bucket[action] += 1

    def _widen(self) -> None:
        self.width_ms *= 2
        merged: dict[int, Counter[str]] = {}
        for start, counts in self.buckets.items():
            merged.setdefault(start - start % self.width_ms, Counter()).update(counts)
        self.buckets = merged

    def merge(self, other: Timeline) -> None:
        """Add the buckets of `other`: the result is what adding its requests here gives.

        The width only ever doubles, so both sides are brought to the wider one, joined, and
        widened while there are too many buckets: the narrowest width that fits, as in `add`.
        """
        while self.width_ms < other.width_ms:
            self._widen()
        width = self.width_ms
        buckets = self.buckets
        for start, counts in other.buckets.items():
            start -= start % width
            bucket = buckets.get(start)
            if bucket is None:
                buckets[start] = bucket = Counter()
            bucket.update(counts)
        while len(self.buckets) > self.max_buckets:
            self._widen()

    def series(self) -> list[tuple[int, Counter[str]]]:
        """Buckets in time order, empty ones filled in so the x axis is linear."""
        if not self.buckets:
            return []
        first, last = min(self.buckets), max(self.buckets)
        return [
            (t, self.buckets.get(t, Counter())) for t in range(first, last + self.width_ms, self.width_ms)
        ]


class Summary:
    """Everything the terminal summary and the HTML report show about one replay."""

    def __init__(self, *, top_capacity: int = 1000) -> None:
        self.total = 0
        self.by_action: Counter[str] = Counter()
        self.by_rule: Counter[tuple[str, str, str]] = Counter()  # (rule id, rule type, action)
        self.by_kind: Counter[str] = Counter()
        self.labels = TopK(top_capacity)
        self.blocked_ips = TopK(top_capacity)
        self.blocked_uris = TopK(top_capacity)
        self._counted: Counter[str] = Counter()  # rule -> requests it matched without terminating
        self.requests_counted = 0
        self._not_evaluable: Counter[str] = Counter()  # statement path -> requests
        self.requests_not_evaluable = 0
        # (managed group, reason) -> requests whose outcome the log cannot give (managed="log")
        self.undetermined: Counter[tuple[str, str]] = Counter()
        self.requests_undetermined = 0
        # Requests name the same few tuples of rules / statement paths over and over: count the
        # tuples, and spread them over the names only when the counters are read.
        self._counted_tuples: dict[tuple[str, ...], int] = {}
        self._gap_tuples: dict[tuple[str, ...], int] = {}
        self.bad_lines = 0
        self.bad_examples: list[BadLine] = []
        # Inputs not read whole (also counted as bad lines): the first INPUT_ERRORS, and how many.
        self.input_errors: list[UnreadableInput] = []
        self.unreadable_inputs = 0
        self.filtered = 0
        # The first requests given each action ("COUNT": a Count rule matched), for `--fail-on`
        # to name: (file, line, terminating or counting rule).
        self.action_examples: dict[str, list[tuple[str, int, str]]] = {}
        self.timeline = Timeline()
        self.first_ms: int | None = None
        self.last_ms: int | None = None

    def add(self, outcome: Outcome) -> None:
        # Called for every request: one unpacking, no attribute lookups on the outcome.
        src, line, ts, kind, _, uri, ip, action, rule_id, rule_type, labels, counted, gaps, _, _, why = (
            outcome
        )
        self.total += 1
        self.by_action[action] += 1
        examples = self.action_examples.get(action)
        if examples is None:
            self.action_examples[action] = [(src, line, rule_id)]
        elif len(examples) < ACTION_EXAMPLES:
            examples.append((src, line, rule_id))
        self.by_rule[(rule_id, rule_type, action)] += 1
        self.by_kind[kind] += 1
        if labels:
            add_label = self.labels.add
            for label in labels:
                add_label(label if len(label) <= KEY_CHARS else clip(label, KEY_CHARS))
        if action == "BLOCK":
            ip = ip or "-"
            uri = uri or "-"
            self.blocked_ips.add(ip if len(ip) <= KEY_CHARS else clip(ip, KEY_CHARS))
            self.blocked_uris.add(uri if len(uri) <= KEY_CHARS else clip(uri, KEY_CHARS))
        if counted or why or gaps:
            self._add_rare(src, line, counted, gaps, why)
        if ts is not None:
            timeline = self.timeline
            bucket = timeline.buckets.get(ts - ts % timeline.width_ms)
            if bucket is None:
                timeline.add(ts, action)
            else:  # the usual case, inline: the bucket of this minute exists
                bucket[action] += 1
            first = self.first_ms
            if first is None or ts < first:
                self.first_ms = ts
            last = self.last_ms
            if last is None or ts > last:
                self.last_ms = ts

    def add_many(self, outcomes: list[Outcome]) -> None:
        """`add` for each outcome, in order, with the same result.

        A replay counts a few hundred outcomes at a time: the counters are looked up once for
        all of them, and (action, rule, type, kind), which repeat, are counted together first.
        """
        if not outcomes:
            return
        rules: dict[tuple[str, str, str, str], int] = {}
        examples_of = self.action_examples
        full: set[str] = {a for a, found in examples_of.items() if len(found) >= ACTION_EXAMPLES}
        labels_add = self.labels.add
        timeline = self.timeline
        buckets = timeline.buckets
        first, last = self.first_ms, self.last_ms
        for outcome in outcomes:
            src, line, ts, kind, _, uri, ip, action, rule_id, rule_type, labels, counted, gaps, _, _, why = (
                outcome
            )
            key = (action, rule_id, rule_type, kind)
            rules[key] = rules.get(key, 0) + 1
            if action not in full:
                examples = examples_of.get(action)
                if examples is None:
                    examples_of[action] = [(src, line, rule_id)]
                elif len(examples) < ACTION_EXAMPLES:
                    examples.append((src, line, rule_id))
                else:
                    full.add(action)
            if labels:
                for label in labels:
                    labels_add(label if len(label) <= KEY_CHARS else clip(label, KEY_CHARS))
            if action == "BLOCK":
                ip = ip or "-"
                uri = uri or "-"
                self.blocked_ips.add(ip if len(ip) <= KEY_CHARS else clip(ip, KEY_CHARS))
                self.blocked_uris.add(uri if len(uri) <= KEY_CHARS else clip(uri, KEY_CHARS))
            if counted or why or gaps:
                self._add_rare(src, line, counted, gaps, why)
            if ts is not None:
                bucket = buckets.get(ts - ts % timeline.width_ms)
                if bucket is None:
                    timeline.add(ts, action)
                    buckets = timeline.buckets  # widening replaces the dict
                else:
                    bucket[action] += 1
                if first is None or ts < first:
                    first = ts
                if last is None or ts > last:
                    last = ts
        self.first_ms, self.last_ms = first, last
        self.total += len(outcomes)
        by_action, by_rule, by_kind = self.by_action, self.by_rule, self.by_kind
        for (action, rule_id, rule_type, kind), n in rules.items():
            by_action[action] += n
            by_rule[(rule_id, rule_type, action)] += n
            by_kind[kind] += n

    def _add_rare(
        self,
        src: str,
        line: int,
        counted: tuple[str, ...],
        gaps: tuple[str, ...],
        why: tuple[tuple[str, str], ...],
    ) -> None:
        """The part of `add` for outcomes with counted rules, undetermined groups or gaps."""
        if counted:
            self.requests_counted += 1
            examples = self.action_examples.setdefault("COUNT", [])
            if len(examples) < ACTION_EXAMPLES:
                examples.append((src, line, counted[0]))
            pending = self._counted_tuples
            pending[counted] = pending.get(counted, 0) + 1
            if len(pending) > _PENDING_TUPLES:
                _spread(pending, self._counted)
        if why:
            self.requests_undetermined += 1
            self.undetermined.update(why)
        if gaps:
            self.requests_not_evaluable += 1
            pending = self._gap_tuples
            pending[gaps] = pending.get(gaps, 0) + 1
            if len(pending) > _PENDING_TUPLES:
                _spread(pending, self._not_evaluable)

    @property
    def counted(self) -> Counter[str]:
        """Rule -> requests it matched without terminating (Count rules and the like)."""
        if self._counted_tuples:
            _spread(self._counted_tuples, self._counted)
        return self._counted

    @property
    def not_evaluable(self) -> Counter[str]:
        """Statement path -> requests whose log lacks what it inspects."""
        if self._gap_tuples:
            _spread(self._gap_tuples, self._not_evaluable)
        return self._not_evaluable

    def merge(self, other: Summary) -> None:
        """Add the counts of `other`, a summary of the requests that follow those counted here.

        Merging summaries of consecutive chunks in order gives what adding every outcome in
        order gives (the top-N counters may prune at other moments once they overflow, which
        keeps their documented error bound).
        """
        self.total += other.total
        self.by_action.update(other.by_action)
        self.by_rule.update(other.by_rule)
        self.by_kind.update(other.by_kind)
        self.labels.merge(other.labels)
        self.blocked_ips.merge(other.blocked_ips)
        self.blocked_uris.merge(other.blocked_uris)
        self.counted.update(other.counted)  # (the properties spread pending tuples first)
        self.requests_counted += other.requests_counted
        self.not_evaluable.update(other.not_evaluable)
        self.requests_not_evaluable += other.requests_not_evaluable
        self.undetermined.update(other.undetermined)
        self.requests_undetermined += other.requests_undetermined
        self.bad_lines += other.bad_lines
        self.bad_examples.extend(other.bad_examples[: BAD_EXAMPLES - len(self.bad_examples)])
        self.unreadable_inputs += other.unreadable_inputs
        self.input_errors.extend(other.input_errors[: INPUT_ERRORS - len(self.input_errors)])
        self.filtered += other.filtered
        for action, theirs in other.action_examples.items():
            ours = self.action_examples.setdefault(action, [])
            ours.extend(theirs[: ACTION_EXAMPLES - len(ours)])
        self.timeline.merge(other.timeline)
        if other.first_ms is not None and (self.first_ms is None or other.first_ms < self.first_ms):
            self.first_ms = other.first_ms
        if other.last_ms is not None and (self.last_ms is None or other.last_ms > self.last_ms):
            self.last_ms = other.last_ms

    def add_bad(self, bad: BadLine) -> None:
        self.bad_lines += 1
        if len(self.bad_examples) < BAD_EXAMPLES:
            self.bad_examples.append(bad)
        if type(bad) is UnreadableInput:
            self.unreadable_inputs += 1
            if len(self.input_errors) < INPUT_ERRORS:
                self.input_errors.append(bad)

    def add_all(self, items: Iterable[Outcome | BadLine]) -> None:
        for item in items:
            if isinstance(item, BadLine):
                self.add_bad(item)
            else:
                self.add(item)


_PENDING_TUPLES = 256


def _spread(pending: dict[tuple[str, ...], int], counter: Counter[str]) -> None:
    """Add counted tuples name by name; first-seen order is kept (tuples are in first-seen order)."""
    for names, n in pending.items():
        for name in names:
            counter[name] += n
    pending.clear()
