"""What the engine decided for one request, and why.

A `Decision` is the single result shape: the middleware turns it into a response (or lets the
request through), `wafpy eval` into a report, and `wafpy explain` prints its `trace`. Both the
middleware and `wafpy eval` write it as an AWS WAF log record through `wafpy.logs.logrecord`; a
Decision itself never writes one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wafpy.request import Request

ALLOW = "ALLOW"
BLOCK = "BLOCK"
COUNT = "COUNT"
CAPTCHA = "CAPTCHA"
CHALLENGE = "CHALLENGE"
# Not an AWS action: a managed rule group replayed from the log (managed="log") whose outcome the
# record cannot give; `Decision.undetermined` says which group and why. Never folded into ALLOW or BLOCK.
UNDETERMINED = "UNDETERMINED"

# Rule results in a trace.
MATCH = "MATCH"
NO_MATCH = "NO_MATCH"
NOT_APPLIED = "NOT_APPLIED"  # a forwarded-IP header was absent: AWS does not apply the rule at all
NOT_REACHED = "NOT_REACHED"


@dataclass(frozen=True, slots=True)
class MatchDetail:
    """Why one statement matched: which part of the request, after which transformations, what matched.

    `statement` is the AWS statement name (`ByteMatchStatement`); `location` the component
    (`URI`, `QUERY_STRING`, `HEADER`, `BODY`, ...); `field_name` the header / argument / cookie /
    JSON pointer when the component has names; `value` the transformed element that was tested;
    `matched` the matched text, CIDR, label, country or size comparison.
    """

    statement: str
    path: str
    location: str | None = None
    field_name: str | None = None
    value: bytes | None = None
    matched: str | None = None
    condition_type: str | None = None  # SQL_INJECTION / XSS, for terminatingRuleMatchDetails
    sensitivity_level: str | None = None
    matched_data: tuple[str, ...] = ()  # the detector's tokens, for the log's matchedData

    def to_log(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "conditionType": self.condition_type,
            "location": self.location or "UNKNOWN",
            "matchedData": list(self.matched_data)
            if self.matched_data
            else ([self.matched] if self.matched is not None else []),
        }
        if self.sensitivity_level:
            entry["sensitivityLevel"] = self.sensitivity_level
        if self.field_name:
            entry["matchedFieldName"] = self.field_name
        return entry


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One rule as evaluated: its result, the action applied and the details of a match."""

    rule: str
    priority: int
    result: str  # MATCH | NO_MATCH | NOT_APPLIED
    action: str | None = None  # action applied when it matched (after overrides)
    overridden_action: str | None = None  # configured action when an override replaced it
    group: str | None = None  # rule group id when the rule is inside a group
    details: tuple[MatchDetail, ...] = ()
    labels_added: tuple[str, ...] = ()


class FixedTrace:
    """A trace already built: what a `Decision`'s `trace_builder` becomes when the Decision is pickled.

    The engine's builder is a closure over the compiled ACL, which does not pickle (and should not
    travel with every Decision): the trace is built once and carried as values instead. It equals
    any builder that builds the same trace, so a Decision equals its own unpickled copy.
    """

    __slots__ = ("rules",)
    __hash__ = None  # type: ignore[assignment]  # equal to unhashable builders; Decision is unhashable too

    def __init__(self, rules: tuple[RuleTrace, ...]) -> None:
        self.rules = rules

    def __call__(self) -> tuple[RuleTrace, ...]:
        return self.rules

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FixedTrace):
            return self.rules == other.rules
        return callable(other) and self.rules == other()

    def __reduce__(self) -> tuple[type[FixedTrace], tuple[tuple[RuleTrace, ...]]]:
        return FixedTrace, (self.rules,)

    def __repr__(self) -> str:
        return f"FixedTrace({len(self.rules)} rules)"


@dataclass(slots=True)
class Decision:
    """The outcome of evaluating one request against a web ACL."""

    action: str
    terminating_rule_id: str
    terminating_rule_type: str
    labels: tuple[str, ...] = ()
    non_terminating_matching_rules: tuple[str, ...] = ()
    response_code: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""
    inserted_request_headers: tuple[tuple[str, str], ...] = ()
    # Builds the trace on demand: evaluation records only what matched, to stay cheap.
    trace_builder: Callable[[], tuple[RuleTrace, ...]] | None = field(default=None, repr=False)
    terminating_rule_match_details: tuple[MatchDetail, ...] = ()
    # Fields kept to write the AWS WAF log record.
    log_non_terminating: tuple[dict[str, Any], ...] = ()
    rule_group_list: tuple[dict[str, Any], ...] = ()
    rate_based_rule_list: tuple[dict[str, Any], ...] = ()
    custom_response: bool = False
    captcha_response: dict[str, Any] | None = None
    challenge_response: dict[str, Any] | None = None
    oversize_fields: tuple[str, ...] = ()
    not_evaluable: tuple[str, ...] = ()  # statements that needed data the source lacks (log replay)
    web_acl_arn: str = ""
    request: Request | None = field(default=None, repr=False)
    # When the engine evaluated, in epoch milliseconds: the request's own time when it has one (a
    # replayed log record), otherwise the services clock. The log record's timestamp comes from
    # here, so writing a record never reads the wall clock and a replay is repeatable.
    evaluated_at_ms: int = 0
    # (rule group id, reason) when the action is UNDETERMINED: a managed group replayed from the
    # log whose outcome the record cannot give (wafpy.engine.fromlog).
    undetermined: tuple[tuple[str, str], ...] = ()

    @property
    def trace(self) -> tuple[RuleTrace, ...]:
        """Every rule evaluated, in order, with its result and, for a match, why."""
        return self.trace_builder() if self.trace_builder is not None else ()

    @property
    def terminated(self) -> bool:
        return self.terminating_rule_id != "Default_Action"

    def __getstate__(self) -> dict[str, Any]:
        """Every field by value; the trace is built now and carried as a `FixedTrace` (the engine's
        builder is a closure), so a Decision crosses to another process or a cluster driver whole."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        builder = self.trace_builder
        if builder is not None and not isinstance(builder, FixedTrace):
            state["trace_builder"] = FixedTrace(builder())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
