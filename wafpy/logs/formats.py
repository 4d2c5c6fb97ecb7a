"""The log formats wafpy reads, in one registry: name, detection, reference parser, fast decoder.

Every reader takes its formats from here: `read_entries` (and so `wafpy explain`), the replay
of `wafpy eval`, and the `--format` choices of the CLI. A format has

* a `name`, the value of `--format` (`choice`) or, for `json`, what detection gives for a file of
  JSON lines: each line is then read as whichever JSON shape it is, so one file may mix AWS WAF
  records, sampled requests and request lines;
* `detect`, which says from a file's first record line whether the file is in this format
  (`--format auto`); a format without it is only read when asked for by name;
* `parse`, the reference parser: one record line -> `LogEntry`, `LogFormatError` when unreadable;
* `fast`, an optional faster decoder for replays: one record line straight to the `Request`
  (`wafpy.logs.decode`), or, where it declines, the `LogEntry` the reference reading gives (from
  what it has already decoded, so a declined JSON line is not decoded twice). It must give what
  `parse` followed by `Request.from_log` gives; the tests check every registered one;
* `join`, for formats whose entries may be wrapped over several lines (ALB logs as the ELB user
  guide prints them): re-joins them; a line that `detect` accepts starts an entry.

Formats: https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html (AWS WAF log
records), https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html
(ALB access logs), https://docs.aws.amazon.com/waf/latest/APIReference/API_GetSampledRequests.html
(sampled requests), https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
(CloudWatch Logs events, `aws logs filter-log-events` output, whose `message` is one AWS WAF
log record as a JSON string); request lines are wafpy's own (`wafpy.logs.jsonl`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from wafpy.errors import LogFormatError
from wafpy.logs.alblog import alb_fields, is_alb_line, join_wrapped, parse_alb_line
from wafpy.logs.decode import Decoded, decode_waf, decode_waf_line
from wafpy.logs.decode_alb import decode_alb
from wafpy.logs.jsonl import entry_from_request_line, parse_jsonl_line
from wafpy.logs.records import LogEntry, LogKind
from wafpy.logs.remote import ListingError, is_remote, list_objects
from wafpy.logs.sources import STDIN, iter_sources
from wafpy.logs.waflog import entry_from_sampled, entry_from_waf_record

__all__ = [
    "AUTO",
    "CHOICES",
    "NOT_A_LOG",
    "NOT_A_LOG_LINES",
    "REGISTRY",
    "UNDETECTED",
    "FastDecoder",
    "FastResult",
    "Format",
    "Parser",
    "detect",
    "entry_from_json",
    "format_named",
    "parse_json_line",
    "waf_records_only",
]

Parser = Callable[[bytes, str, int], LogEntry]
# (kind, timestamp, request and what goes with it) when decoded fast; the reference's LogEntry
# when the fast decoder declined.
FastResult = tuple[LogKind, int | None, Decoded] | LogEntry
FastDecoder = Callable[[bytes, str, int], FastResult]
Lines = Iterable[tuple[int, bytes]]

AUTO = "auto"  # `--format auto`: decide per file with `detect`
UNDETECTED = "not an AWS WAF log record, ALB log entry or request line"
NOT_A_LOG_LINES = 10  # undetected record lines that open a file before it is called no log at all
NOT_A_LOG = (
    f"not a log: its first {NOT_A_LOG_LINES} record lines are neither AWS WAF log records, "
    "ALB log entries nor request lines"
)


@dataclass(frozen=True, slots=True)
class Format:
    """One log format wafpy reads (see the module documentation)."""

    name: str
    parse: Parser
    detect: Callable[[bytes], bool] | None = None
    fast: FastDecoder | None = None
    join: Callable[[Lines], Iterator[tuple[int, bytes]]] | None = None
    choice: bool = True  # offered as a `--format` value


def parse_json_line(raw: bytes, source: str, line: int) -> LogEntry:
    """A JSON line of any supported shape: AWS WAF record, sampled request, or request line.

    A WAF record has `httpRequest` (and normally `action` / `terminatingRuleId` / `webaclId`);
    a sampled request has a `Request` object; anything else must be a request line.
    """
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogFormatError(f"not valid JSON: {exc}", file=source, line=line) from None
    return entry_from_json(obj, source, line)


def entry_from_json(obj: Any, source: str, line: int) -> LogEntry:
    """`parse_json_line` for a line already decoded."""
    if isinstance(obj, dict):
        if "httpRequest" in obj:
            return entry_from_waf_record(obj, source, line)
        if _is_event_object(obj):
            return _parse_waf_line(_event_message(obj, source, line), source, line)
        if isinstance(obj.get("Request"), dict):
            return entry_from_sampled(obj, source, line)
    return entry_from_request_line(obj, source, line)


def _parse_waf_line(raw: bytes, source: str, line: int) -> LogEntry:
    """`--format waf`: an AWS WAF log record, or a sampled request (from the same API)."""
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogFormatError(f"not valid JSON: {exc}", file=source, line=line) from None
    if isinstance(obj, dict) and "httpRequest" not in obj and isinstance(obj.get("Request"), dict):
        return entry_from_sampled(obj, source, line)
    if isinstance(obj, dict) and "httpRequest" not in obj:
        raise LogFormatError("not an AWS WAF log record (no httpRequest)", file=source, line=line)
    return entry_from_waf_record(obj, source, line)


def _fast_json(raw: bytes, source: str, line: int) -> FastResult:
    """An ordinary AWS WAF record straight to its request; any other JSON line the reference way.

    msgspec first (`decode_waf_line`), then orjson and `decode_waf`; each may decline, and the
    line, decoded once, is then read by `entry_from_json`.
    """
    fast = decode_waf_line(raw)
    if fast is None:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise LogFormatError(f"not valid JSON: {exc}", file=source, line=line) from None
        fast = decode_waf(obj, raw) if type(obj) is dict and "httpRequest" in obj else None
        if fast is None:
            return entry_from_json(obj, source, line)
    return "waf", fast[0], fast[1]


def _fast_waf(raw: bytes, source: str, line: int) -> FastResult:
    """`_fast_json` for `--format waf`. A line that is not an AWS WAF record, or that the fast
    path cannot read, goes the reference way, so its error is the reference's own."""
    try:
        result = _fast_json(raw, source, line)
    except LogFormatError:
        return _parse_waf_line(raw, source, line)
    if type(result) is LogEntry and result.kind != "waf":
        return _parse_waf_line(raw, source, line)
    return result


def _fast_alb(raw: bytes, source: str, line: int) -> FastResult:
    """An ALB line's fields (`alb_fields`, as `parse_alb_line` reads them) straight to its request."""
    http, timestamp, available, logged = alb_fields(raw, source, line)
    return "alb", timestamp, decode_alb(http, timestamp, available, logged)


def _is_event_object(obj: dict[str, Any]) -> bool:
    """A CloudWatch Logs event (`filter-log-events` `events[]`, `get-log-events` too): a string
    `message` beside the event's own members."""
    return isinstance(obj.get("message"), str) and not _EVENT_MEMBERS.isdisjoint(obj)


_EVENT_MEMBERS = frozenset({"eventId", "logStreamName", "ingestionTime"})


def _event_message(obj: dict[str, Any], source: str, line: int) -> bytes:
    message = obj.get("message")
    if not isinstance(message, str):
        raise LogFormatError("not a CloudWatch Logs event (no message string)", file=source, line=line)
    return message.encode("utf-8", "surrogatepass")


def _is_event_line(raw: bytes) -> bool:
    """`detect` for CloudWatch Logs events: one event object per line (as the reader yields the
    `events` of a `filter-log-events` document, or `jq -c '.events[]'` writes them)."""
    if b'"message"' not in raw or raw.lstrip()[:1] != b"{":
        return False
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and "httpRequest" not in obj and _is_event_object(obj)


def _event_record(raw: bytes, source: str, line: int) -> bytes:
    """The AWS WAF log record a CloudWatch Logs event line carries (its `message`)."""
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogFormatError(f"not valid JSON: {exc}", file=source, line=line) from None
    if not isinstance(obj, dict):
        raise LogFormatError("not a CloudWatch Logs event (not a JSON object)", file=source, line=line)
    return _event_message(obj, source, line)


def _parse_event(raw: bytes, source: str, line: int) -> LogEntry:
    """`--format cloudwatch`: a CloudWatch Logs event whose message is an AWS WAF log record."""
    return _parse_waf_line(_event_record(raw, source, line), source, line)


def _fast_event(raw: bytes, source: str, line: int) -> FastResult:
    """The event's message through the msgspec fast path for AWS WAF records (`decode_waf_line`)."""
    message = _event_record(raw, source, line)
    fast = decode_waf_line(message)
    if fast is None:  # declined: the reference reading (which refuses what is no WAF record)
        return _parse_waf_line(message, source, line)
    return "waf", fast[0], fast[1]


def _starts_json(raw: bytes) -> bool:
    return raw.lstrip()[:1] in (b"{", b"[") and not _is_event_line(raw)


# In the order of the `--format` choices after "auto"; `detect` functions do not overlap.
REGISTRY: tuple[Format, ...] = (
    Format("waf", _parse_waf_line, fast=_fast_waf),
    Format("alb", parse_alb_line, detect=is_alb_line, fast=_fast_alb, join=join_wrapped),
    Format("jsonl", parse_jsonl_line),
    Format("cloudwatch", _parse_event, detect=_is_event_line, fast=_fast_event),
    Format("json", parse_json_line, detect=_starts_json, fast=_fast_json, choice=False),
)
_BY_NAME = {fmt.name: fmt for fmt in REGISTRY}
CHOICES: tuple[str, ...] = (AUTO, *(fmt.name for fmt in REGISTRY if fmt.choice))  # `--format` values
_DETECTED = tuple((fmt, fmt.detect) for fmt in REGISTRY if fmt.detect is not None)


def format_named(name: str) -> Format | None:
    """The registered format called `name` (`json` included), None for anything else ("auto")."""
    return _BY_NAME.get(name)


def detect(raw: bytes) -> Format | None:
    """The format of a file whose first record line is `raw`; None when it looks like none."""
    for fmt, looks_like in _DETECTED:
        if looks_like(raw):
            return fmt
    return None


def _first_object(path: str) -> str:
    """`path`, or for an S3 URL the first object it stands for (itself when it cannot be listed)."""
    if not is_remote(path):
        return path
    try:
        return list_objects(path)[0]
    except ListingError:
        return path


def waf_records_only(paths: Sequence[str], fmt: str = AUTO) -> bool:
    """Whether every input is an AWS WAF log: its first record line is a record with `httpRequest`.

    Stdin cannot be looked at without consuming it: it counts as an AWS WAF log only with
    `--format waf`. An S3 folder or key prefix is judged by its first object: AWS delivers a web
    ACL's logs under a prefix of their own, and looking into each of thousands of objects would
    cost a request each before the replay starts. Unreadable inputs are left to the replay, which
    reports them.
    """
    if fmt == "waf":
        return True
    if fmt != AUTO or not paths or STDIN in paths:
        return False
    found = False
    for _, lines in iter_sources([_first_object(p) for p in paths], lambda error: None):
        with contextlib.closing(lines):
            for _, raw in lines:
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return False
                if type(obj) is not dict or "httpRequest" not in obj:
                    return False
                found = True
                break
    return found
