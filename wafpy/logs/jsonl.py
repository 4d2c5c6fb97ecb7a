"""wafpy request lines: one `httpRequest`-shaped JSON object per line, bodies included.

    {"httpMethod": "POST", "uri": "/login", "args": "", "clientIp": "198.51.100.7",
     "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
     "body": "user=alice&pass=x", "timestamp": 1700000000123}

Unlike a WAF log, these lines describe the whole request: an absent `args`, `headers` or
`body` means none was sent, so every part is available. `headers` may also be written as an
object `{"Name": "value"}`. `body` is UTF-8 text, `bodyBase64` any bytes; give at most one.
`timestamp` is epoch milliseconds or ISO 8601 text.
"""

from __future__ import annotations

from typing import Any

import orjson

from wafpy.errors import LogFormatError
from wafpy.logs.records import ALL_PARTS, LogEntry, to_epoch_ms

__all__ = ["entry_from_request_line", "parse_jsonl_line"]

_STRINGS = (
    "httpMethod",
    "uri",
    "args",
    "clientIp",
    "country",
    "httpVersion",
    "requestId",
    "fragment",
    "scheme",
    "host",
    "body",
    "bodyBase64",
    "ja3Fingerprint",
    "ja4Fingerprint",
)
_EXTRA_PARTS = {
    "fragment": "fragment",
    "scheme": "scheme",
    "host": "host",
    "ja3Fingerprint": "ja3",
    "ja4Fingerprint": "ja4",
}


def _bad(message: str, source: str, line: int) -> LogFormatError:
    return LogFormatError(message, file=source, line=line)


def entry_from_request_line(obj: Any, source: str, line: int) -> LogEntry:
    """One decoded request line -> LogEntry (kind "jsonl", body available)."""
    if not isinstance(obj, dict):
        raise _bad(f"a request line must be a JSON object, got {type(obj).__name__}", source, line)
    if not isinstance(obj.get("httpMethod"), str) or not isinstance(obj.get("uri"), str):
        raise _bad("a request line needs string httpMethod and uri", source, line)
    http: dict[str, Any] = {"clientIp": "", "country": "-", "args": ""}
    parts = set(ALL_PARTS)
    for key in _STRINGS:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _bad(f"{key} must be a string, got {type(value).__name__}", source, line)
        http[key] = value
        if key in _EXTRA_PARTS:
            parts.add(_EXTRA_PARTS[key])
    if "body" in http and "bodyBase64" in http:
        raise _bad("give body or bodyBase64, not both", source, line)
    if not http["clientIp"]:
        parts.discard("client_ip")
    if http["country"] == "-":
        parts.discard("country")
    http["headers"] = _headers(obj.get("headers"), source, line)
    try:
        timestamp = to_epoch_ms(obj.get("timestamp"))
    except ValueError as exc:
        raise _bad(str(exc), source, line) from None
    return LogEntry(http, timestamp, source, line, "jsonl", True, frozenset(parts))


def _headers(value: Any, source: str, line: int) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [{"name": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise _bad(f"headers must be a list or an object, got {type(value).__name__}", source, line)
    out = []
    for i, item in enumerate(value):
        if isinstance(item, list) and len(item) == 2:
            item = {"name": item[0], "value": item[1]}
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("value", ""), str)
        ):
            raise _bad(f"headers[{i}] must be {{name, value}} with string values", source, line)
        out.append({"name": item["name"], "value": item.get("value", "")})
    return out


def parse_jsonl_line(raw: bytes, source: str, line: int) -> LogEntry:
    """One wafpy request line -> LogEntry; LogFormatError when it cannot be read."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"not valid JSON: {exc}", source, line) from None
    return entry_from_request_line(obj, source, line)
