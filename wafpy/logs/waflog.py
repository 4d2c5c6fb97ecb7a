"""AWS WAF log records and `get-sampled-requests` output -> LogEntry.

The record fields: https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html

Unknown fields are ignored and any field may be missing or null. Values hidden by data
protection or `RedactedFields` — the literal `REDACTED` or a 64-hex SHA-256 — are not data:
a hidden header is dropped, a hidden URI, query or method is blanked, and the part leaves
`LogEntry.available` so statements on it are reported "not evaluable" instead of guessed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from wafpy.errors import LogFormatError
from wafpy.logs.records import ALL_PARTS, LogEntry, LoggedOutcome, to_epoch_ms
from wafpy.logs.rulegroups import logged_groups

__all__ = ["entry_from_sampled", "entry_from_waf_record", "is_hidden", "parse_waf_line"]

_REDACTED = "REDACTED"
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_HASH_IN_QUERY = re.compile(r"(?:^|[&=;])[0-9a-fA-F]{64}(?:$|[&;])")

# httpRequest string fields -> the part of the request they carry.
_FIELDS = (
    ("clientIp", "client_ip"),
    ("country", "country"),
    ("uri", "uri"),
    ("args", "query"),
    ("httpVersion", "http_version"),
    ("httpMethod", "method"),
)
_OPTIONAL = (("fragment", "fragment"), ("scheme", "scheme"), ("host", "host"), ("requestId", None))
# Missing values replaced so `Request.from_log` accepts the mapping; the part is then unavailable.
_FILL = {"clientIp": "", "uri": "", "httpMethod": "", "country": "-", "args": ""}
_NO_BODY = ALL_PARTS - {"body"}


def is_hidden(value: str) -> bool:
    """True for a value replaced by data protection: `REDACTED` or a 64-hex SHA-256."""
    return value == _REDACTED or (len(value) == 64 and _HASH.fullmatch(value) is not None)


def _partly_hidden(text: str) -> bool:
    """A query string or cookie header with a hidden piece (single argument / cookie redaction)."""
    return _REDACTED in text or (len(text) >= 64 and _HASH_IN_QUERY.search(text) is not None)


class _Bad(ValueError):
    """A malformed field; turned into LogFormatError with the file and line by the caller."""


def _headers(value: Any, parts: set[str]) -> list[Any]:
    if value is None:
        parts.difference_update(("headers", "cookies"))
        return []
    if not isinstance(value, list):
        raise _Bad(f"httpRequest.headers must be a list, got {type(value).__name__}")
    kept: list[Any] | None = None  # copy only when something is dropped (the rare case)
    complete = True
    known: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _Bad(f"httpRequest.headers[{i}] must be an object with a string name")
        text = item.get("value")
        if text is not None and not isinstance(text, str):
            raise _Bad(f"httpRequest.headers[{i}].value must be a string")
        lower = item["name"].lower()
        if text is None or is_hidden(text):
            complete = False
            if kept is None:
                kept = list(value[:i])
            continue
        if lower == "cookie" and _partly_hidden(text):
            complete = False  # keep the other cookies' header, but it is not trustworthy whole
            parts.discard("cookies")
        else:
            known.append(lower)
        if kept is not None:
            kept.append(item)
    if not complete:
        parts.discard("headers")
        if "cookie" not in known:
            parts.discard("cookies")
        parts.update(f"header:{name}" for name in known)
    return value if kept is None else kept


def normalize_http_request(req: Any, parts: set[str]) -> dict[str, Any]:
    """A clean `httpRequest` mapping; removes from `parts` what the record does not carry."""
    if not isinstance(req, dict):
        raise _Bad("httpRequest must be an object" if req is not None else "httpRequest is missing")
    out: dict[str, Any] = {}
    for key, part in _FIELDS:
        value = req.get(key)
        if value is None:
            parts.discard(part)
            out[key] = _FILL.get(key)
            continue
        if not isinstance(value, str):
            raise _Bad(f"httpRequest.{key} must be a string, got {type(value).__name__}")
        if key == "args":
            if value and _partly_hidden(value):
                parts.discard(part)
        elif key != "clientIp" and key != "country" and is_hidden(value):
            parts.discard(part)
            value = _FILL.get(key, "")
        out[key] = value
    if out["httpVersion"] is None:
        del out["httpVersion"]
    for key, opt_part in _OPTIONAL:
        value = req.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _Bad(f"httpRequest.{key} must be a string, got {type(value).__name__}")
        out[key] = value
        if opt_part is not None:
            parts.add(opt_part)
    out["headers"] = _headers(req.get("headers"), parts)
    return out


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    """The `key` of each object in a list of objects (labels, matching rules); [] for null."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad(f"{where} must be a list, got {type(value).__name__}")
    out = []
    for item in value:
        name = item.get(key) if isinstance(item, dict) else None
        if isinstance(name, str):
            out.append(name)
    return tuple(out)


def _opt(record: dict[str, Any], key: str, kind: type) -> Any:
    value = record.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise _Bad(f"{key} must be {'a string' if kind is str else 'an integer'}, got {value!r}")
    return value


def entry_from_waf_record(record: Any, source: str, line: int) -> LogEntry:
    """One decoded AWS WAF log record -> LogEntry (kind "waf", no body)."""
    try:
        if not isinstance(record, dict):
            raise _Bad(f"a log record must be a JSON object, got {type(record).__name__}")
        parts = set(_NO_BODY)
        http = normalize_http_request(record.get("httpRequest"), parts)
        for key, part in (("ja3Fingerprint", "ja3"), ("ja4Fingerprint", "ja4")):
            value = _opt(record, key, str)
            if value:
                http[key] = value
                parts.add(part)
        action = _opt(record, "action", str)
        rule_id = _opt(record, "terminatingRuleId", str)
        labels = _names(record.get("labels"), "name", "labels")
        get = record.get
        groups = logged_groups(get("ruleGroupList"), labels, get("captchaResponse"), get("challengeResponse"))
        logged = None
        if action is not None or rule_id is not None:
            logged = LoggedOutcome(
                action=action,
                terminating_rule_id=rule_id,
                terminating_rule_type=_opt(record, "terminatingRuleType", str),
                labels=labels,
                non_terminating_rule_ids=_names(
                    record.get("nonTerminatingMatchingRules"), "ruleId", "nonTerminatingMatchingRules"
                ),
                status_code=_opt(record, "responseCodeSent", int),
            )
        timestamp = to_epoch_ms(record.get("timestamp"))
    except ValueError as exc:  # _Bad and bad timestamps
        raise LogFormatError(str(exc), file=source, line=line) from None
    return LogEntry(http, timestamp, source, line, "waf", False, frozenset(parts), logged, record, groups)


def parse_waf_line(raw: bytes, source: str, line: int) -> LogEntry:
    """One NDJSON line of an AWS WAF log -> LogEntry; LogFormatError when it cannot be read."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LogFormatError(f"not valid JSON: {exc}", file=source, line=line) from None
    return entry_from_waf_record(record, source, line)


def entry_from_sampled(item: Any, source: str, line: int) -> LogEntry:
    """One `SampledRequests[]` item of `aws wafv2 get-sampled-requests` -> LogEntry (kind "waf").

    The API spells the request differently (ClientIP, Country, URI, Method, HTTPVersion,
    Headers [{Name, Value}]), has no query string, and gives `Timestamp` in epoch seconds.
    """
    try:
        if not isinstance(item, dict) or not isinstance(item.get("Request"), dict):
            raise _Bad("a sampled request must be an object with a Request object")
        req = item["Request"]
        headers = req.get("Headers")
        if headers is not None and not isinstance(headers, list):
            raise _Bad("Request.Headers must be a list")
        converted = {
            "clientIp": req.get("ClientIP"),
            "country": req.get("Country"),
            "uri": req.get("URI"),
            "httpVersion": req.get("HTTPVersion"),
            "httpMethod": req.get("Method"),
            "headers": None
            if headers is None
            else [
                {"name": h.get("Name"), "value": h.get("Value")} if isinstance(h, dict) else h
                for h in headers
            ],
        }
        parts = set(_NO_BODY)
        http = normalize_http_request(converted, parts)
        parts.discard("query")  # the API reports the path only
        action = _opt(item, "Action", str)
        logged = None
        if action is not None:
            logged = LoggedOutcome(
                action=action,
                labels=_names(item.get("Labels"), "Name", "Labels"),
                status_code=_opt(item, "ResponseCodeSent", int),
                note=_opt(item, "RuleNameWithinRuleGroup", str),
            )
        timestamp = to_epoch_ms(item.get("Timestamp"), seconds=True)
    except ValueError as exc:
        raise LogFormatError(str(exc), file=source, line=line) from None
    return LogEntry(http, timestamp, source, line, "waf", False, frozenset(parts), logged, None)
