"""What one log line says: the request as WAF saw it, what the log carries, and what AWS decided.

A `LogEntry` is format-neutral: AWS WAF records, ALB access-log lines, `get-sampled-requests`
output and wafpy's own request lines all become one. `http_request` is always shaped like the
`httpRequest` object of an AWS WAF log record, so `Request.from_log` reads every source:
https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from wafpy.loggedgroups import LoggedGroups

__all__ = [
    "ALB_PARTS",
    "ALL_PARTS",
    "LogEntry",
    "LogKind",
    "LoggedOutcome",
    "to_epoch_ms",
]

LogKind = Literal["waf", "alb", "jsonl", "cloudwatch"]  # a cloudwatch entry reads as "waf"

# Names of request parts a log may or may not carry (`LogEntry.available`). A statement that
# inspects a part missing from `available` is "not evaluable" for that entry (logging-fields;
# ALB access logs).
# "headers" means the complete header list (so every single header, header order and cookies);
# a log that knows only some headers lists them as "header:<lower-case name>" instead.
ALL_PARTS: frozenset[str] = frozenset(
    {
        "method",
        "uri",
        "query",
        "headers",
        "cookies",
        "body",
        "client_ip",
        "country",
        "http_version",
    }
)
# Parts that only newer or richer records carry; added to `available` when present:
# "fragment", "scheme", "host", "ja3", "ja4".
ALB_PARTS: frozenset[str] = frozenset(
    {"method", "uri", "query", "header:host", "header:user-agent", "client_ip", "http_version", "scheme"}
)


@dataclass(frozen=True, slots=True)
class LoggedOutcome:
    """What AWS did with the request, as far as the log tells (the ground truth for `--compare`).

    From an AWS WAF record: the final `action` (ALLOW, BLOCK, CAPTCHA, CHALLENGE), the terminating
    rule and its type, the label names, the rule ids of web-ACL-level non-terminating matches and
    `responseCodeSent`. From an ALB line only "did WAF answer instead of the target"
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html):
    `action` is BLOCK when `actions_executed` ends with `waf` (a CAPTCHA or Challenge answer looks
    the same there), ALLOW when `waf` ran and the ALB went on, and `status_code` is the ELB status.
    `excluded` marks entries that must not be compared (a `waf-failed` ALB row, an ALB without
    WAF), with the reason in `note`.
    """

    action: str | None
    terminating_rule_id: str | None = None
    terminating_rule_type: str | None = None
    labels: tuple[str, ...] = ()
    non_terminating_rule_ids: tuple[str, ...] = ()
    status_code: int | None = None
    excluded: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One request read from a log.

    `http_request` is `httpRequest`-shaped (clientIp, country, headers [{name, value}], uri, args,
    httpVersion, httpMethod, requestId, optional body/bodyBase64, fragment, scheme, host,
    ja3Fingerprint/ja4Fingerprint) with unknown values already removed: a REDACTED or hashed
    header is dropped, a REDACTED uri becomes "" — check `available` before trusting a part.
    `line` is the 1-based line of `source` where the entry starts. `record` is the original AWS
    WAF record (None for other kinds) so a replay can write it back out. `rule_groups` is what
    an AWS WAF record says happened inside its rule groups (None when it has no `ruleGroupList`,
    and for other kinds), which `managed="log"` replays.
    """

    http_request: dict[str, Any]
    timestamp_ms: int | None
    source: str
    line: int
    kind: LogKind
    body_available: bool
    available: frozenset[str]
    logged: LoggedOutcome | None = None
    record: dict[str, Any] | None = None
    rule_groups: LoggedGroups | None = None

    def carries(self, part: str) -> bool:
        """True when the log carries `part` ("uri", "body", "header:user-agent", ...)."""
        if part in self.available:
            return True
        return part.startswith("header:") and "headers" in self.available


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_ms(value: Any, *, seconds: bool = False) -> int | None:
    """A log timestamp as epoch milliseconds; None for null, "" and "-".

    Accepts integers and floats (milliseconds, or seconds when `seconds` — the unit of
    `get-sampled-requests`), digit strings, and ISO 8601 text (`2024-03-20T10:30:00.000Z`; a time
    without offset is UTC, as AWS writes them). Raises ValueError for anything else.
    """
    if value is None or value in ("", "-"):
        return None
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be a number or ISO 8601 text, got {value!r}")
    if isinstance(value, int | float):
        return round(value * 1000) if seconds else int(value)
    if isinstance(value, str):
        if value.isdigit():
            return int(value) * (1000 if seconds else 1)
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"timestamp is not ISO 8601: {value!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - _EPOCH) // _MS
    raise ValueError(f"timestamp must be a number or ISO 8601 text, got {type(value).__name__}")


_MS = datetime.resolution * 1000
