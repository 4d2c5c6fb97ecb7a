"""Evaluation with batched rate counting: the engine says which counts it needs, a driver fetches them.

A rate-based rule's count decides whether it matches, and its match (labels, a terminating action)
decides which rules come after it, so the counts a request needs are only known while evaluating.
`evaluate_counted` is a generator that evaluates with *assumed* outcomes, yields the `RateHit`s it
reached (one batch for every rate-based rule of the request), receives their real counts and
returns the `Decision`:

    steps = evaluate_counted(acl, request, services, now_ms, guess)
    hits = next(steps)                   # StopIteration: no rate-based rule reached, decision ready
    counts = await counter.hit_many_async(hits, now_ms)   # or counter.hit_many(...) in a sync driver
    decision = steps.send(counts)        # StopIteration(value=decision), or another batch

The assumed outcome of each hit comes from `guess` (a key seen over its limit stays so; anything
else is assumed under). A counter counts a batch in order and stops after the first hit whose real
outcome differs from the assumption: the rules after it may not be reached on the real path, and
AWS counts only the requests that reach a rule
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-caveats.html).
The evaluation then runs again with the real counts known, which yields at most one batch more per
wrong guess; a wrong guess happens when a key crosses its limit, not per request.

When every guess was right, the first evaluation is the decision (a matched rule was assumed at
`limit + 1`, the count wafpy's counters report above the limit). Otherwise the last evaluation
uses only real counts, so the decision is exactly the one `evaluate` with a synchronous counter
gives.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace

from wafpy.decision import Decision
from wafpy.engine.compile import CompiledACL
from wafpy.engine.evaluate import evaluate
from wafpy.engine.ratelimit import RateHit, rule_settings
from wafpy.engine.services import Services
from wafpy.request import Request

# (rule id, key, now_ms) -> whether the key is assumed over its limit.
Guess = Callable[[str, tuple[str, ...], int], bool]
Steps = Generator[list[RateHit], list[int], Decision]


def assume_under(rule_id: str, key: tuple[str, ...], now_ms: int) -> bool:
    """The guess without history: every key is under its limit."""
    return False


class _Planner:
    """A `RateCounter` for one evaluation: real counts where known, else an assumed outcome."""

    __slots__ = ("guess", "known", "pending")

    def __init__(self, known: dict[tuple[str, tuple[str, ...]], int], guess: Guess) -> None:
        self.known = known
        self.guess = guess
        self.pending: list[RateHit] = []

    def hit(self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int) -> int:
        count = self.known.get((rule_id, key))
        if count is not None:
            return count
        settings = rule_settings(rule_id)
        if settings is None:
            raise ValueError(f"not a rate rule id made by the engine: {rule_id!r}")
        limit = settings[0]
        over = self.guess(rule_id, key, now_ms)
        self.pending.append(RateHit(rule_id, key, window_s, limit, over))
        return limit + 1 if over else 0


def evaluate_counted(
    acl: CompiledACL, request: Request, services: Services, now_ms: int, guess: Guess = assume_under
) -> Steps:
    """Evaluate `request`, yielding the batches of rate hits it needs counted (see the module)."""
    known: dict[tuple[str, tuple[str, ...]], int] = {}
    while True:
        planner = _Planner(known, guess)
        decision = evaluate(acl, request, replace(services, rate_counter=planner), now_ms=now_ms)
        pending = planner.pending
        if not pending:
            return decision
        counts = yield pending
        if not counts:
            raise ValueError("a rate counter answered an empty batch")
        exact = len(counts) == len(pending)
        for hit, count in zip(pending, counts, strict=False):
            known[(hit.rule_id, hit.key)] = count
            over = count > hit.limit
            if over != hit.over or (over and count != hit.limit + 1):
                # A wrong guess, or a matched rule whose count (in its match details) is not the one
                # assumed (the counters of wafpy report at most limit + 1): evaluate again.
                exact = False
        if exact:
            return decision


def drive(steps: Steps, hit_many: Callable[[list[RateHit], int], list[int]], now_ms: int) -> Decision:
    """Run `evaluate_counted` with a synchronous batch counter (`BatchRateCounter.hit_many`)."""
    try:
        hits = next(steps)
        while True:
            hits = steps.send(hit_many(hits, now_ms))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
