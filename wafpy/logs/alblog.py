"""ALB access-log lines -> LogEntry.

The layout: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html

One compiled regex tokenizes a line: a field is either a double-quoted string (a `"` inside is
backslash-escaped) or a run of non-spaces; `-` means empty. The 2015 field set (16 fields, up to
`ssl_protocol`) and the current one (up to 33) are both read; later fields are ignored and
missing newer fields tolerated. Lines without the leading `type` field (Classic Load Balancer,
15 fields) are read too.

An ALB log knows little of the request: method, scheme, host, path and query (field 13),
User-Agent (field 14) and the client address (field 4). `LogEntry.available` says exactly that,
so statements on other headers, cookies or the body are "not evaluable". Non-UTF-8 bytes are
replaced (U+FFFD).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from wafpy.errors import LogFormatError
from wafpy.logs.records import ALB_PARTS, LogEntry, LoggedOutcome, to_epoch_ms

__all__ = ["alb_fields", "is_alb_line", "join_wrapped", "parse_alb_line", "split_alb"]

TYPES = frozenset({"http", "https", "h2", "grpcs", "ws", "wss"})
MIN_FIELDS = 16  # through ssl_protocol: the 2015 field set
_TOKEN = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"|(\S+)')
_SIMPLE_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_ESCAPE = re.compile(r"\\(.)")
_ALB_START = re.compile(rb"(?:https?|h2|grpcs|wss?) \d{4}-\d\d-\d\dT")
# Anchored: only the start of a line is tried (a search would rescan from every timestamp).
_ELB_START = re.compile(rb"\A\d{4}-\d\d-\d\dT\S+ \S+ \S+:\d+ ")
_DEFAULT_PORT = {"http": "80", "https": "443", "ws": "80", "wss": "443"}

# 0-based field positions in the ALB access-log layout (the documented order, counted from 0).
_TIME, _CLIENT, _ELB_STATUS, _REQUEST, _AGENT, _TRACE, _CREATED, _ACTIONS = 1, 3, 8, 12, 13, 17, 21, 22
_FIELDS_READ = _ACTIONS + 2  # fields a line is read to (one more for a Classic ELB line without type)


def split_alb(text: str, limit: int | None = None) -> list[str]:
    """The fields of one line, quotes removed and `\\"` unescaped (`-` kept as is).

    With `limit`, the result may stop after `limit` fields or more (the rest is not needed).
    """
    if "\\" not in text:  # the common case: no escapes
        fields = _split_quoted(text, limit or len(text) + 1)
        if fields is not None:
            return fields
        return [bare or quoted for quoted, bare in _SIMPLE_TOKEN.findall(text)]
    out = []
    for quoted, bare in _TOKEN.findall(text):
        if bare:
            out.append(bare)
        elif "\\" in quoted:
            out.append(_ESCAPE.sub(r"\1", quoted))
        else:
            out.append(quoted)
    return out


def _split_quoted(text: str, limit: int) -> list[str] | None:
    """`split_alb` of a line without backslashes by `str.split`, three times faster than the regex.

    Cutting at every `"` leaves the quoted fields at odd positions and the unquoted runs between
    them, which split on whitespace. That is what the tokenizer finds when every quoted field
    stands alone: its opening quote at the start of the line or after whitespace, its closing
    quote at the end or before whitespace. Otherwise (an odd number of quotes, `a"b"`) None.
    The tokenizer reads left to right, so the first fields do not depend on the rest of the
    line: once there are `limit` fields, the rest is left unread.
    """
    parts = text.split('"')
    last = len(parts) - 1
    if last & 1:
        return None
    fields = parts[0].split()
    if last:
        first = parts[0]
        if first and not first[-1].isspace():
            return None
        for i in range(1, last, 2):
            fields.append(parts[i])
            between = parts[i + 1]
            if between:
                if not between[0].isspace() or (i + 1 < last and not between[-1].isspace()):
                    return None
                fields += between.split()
            if len(fields) >= limit:
                break
    return fields


def _split_standard(text: str) -> list[str] | None:
    """The first 23 fields (through actions_executed) of a line in the current ALB layout; None
    for anything else, which `split_alb` reads.

    An ALB writes 12 bare fields, then the quoted request and user agent, 3 bare fields, the
    quoted trace id, domain and certificate, 2 bare fields and the quoted actions, each pair of
    quoted fields one space apart. Checking exactly that shape (and what `_split_quoted` checks
    around each quote) and cutting at the first 12 quotes gives its fields with no per-field
    loop; the fields after are never read (`alb_fields` reads up to actions_executed).
    """
    parts = text.split('"', 12)
    if len(parts) < 12:
        return None
    head, middle, tail = parts[0], parts[4], parts[10]
    if not (
        parts[2] == " "
        and parts[6] == " "
        and parts[8] == " "
        and head[-1:] == " "
        and middle[:1] == " "
        and middle[-1:] == " "
        and tail[:1] == " "
        and tail[-1:] == " "
        and (len(parts) == 12 or parts[12][:1].isspace() or parts[12] == "")
        and (len(parts) == 12 or parts[12].count('"') % 2 == 0)
    ):
        return None
    fields = head.split()
    bare_middle = middle.split()
    bare_tail = tail.split()
    if len(fields) != 12 or len(bare_middle) != 3 or len(bare_tail) != 2:
        return None
    fields.append(parts[1])
    fields.append(parts[3])
    fields += bare_middle
    fields.append(parts[5])
    fields.append(parts[7])
    fields.append(parts[9])
    fields += bare_tail
    fields.append(parts[11])
    return fields


def is_alb_line(raw: bytes) -> bool:
    """Does this line start like an ALB (type + ISO time) or Classic ELB (ISO time) entry?"""
    return _ALB_START.match(raw) is not None or _ELB_START.match(raw) is not None


def join_wrapped(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Re-join entries wrapped over several lines (as the ELB user guide prints them).

    A line that does not start an entry continues the previous one only when that one is
    incomplete on its own (fewer than 16 fields) or is already a join, so a stray line after a
    complete entry is still reported as bad. Logs written by an ALB have one entry per line and
    pass through unchanged, tokenized by nobody here.
    """
    pending: tuple[int, bytes] | None = None
    joined = False
    for number, raw in lines:
        if pending is not None and not is_alb_line(raw):
            text = pending[1]
            if joined or len(split_alb(text.decode("utf-8", "replace"))) < MIN_FIELDS:
                pending = (pending[0], text.rstrip() + b" " + raw.strip())
                joined = True
                continue
        if pending is not None:
            yield pending
        pending, joined = (number, raw), False
    if pending is not None:
        yield pending


def _split_target(url: str) -> tuple[str | None, str | None, str, str, str | None]:
    """`scheme://authority/path?query#fragment` -> scheme, authority, path, query, fragment."""
    scheme = authority = None
    rest = url
    if "://" in url:
        scheme, _, rest = url.partition("://")
        cut = len(rest)
        for mark in "/?#":
            found = rest.find(mark)
            if 0 <= found < cut:
                cut = found
        authority, rest = rest[:cut], rest[cut:]
    rest, hashmark, fragment = rest.partition("#")
    path, _, query = rest.partition("?")
    return scheme, authority, path or "/", query, fragment if hashmark else None


def _host_header(authority: str, scheme: str | None) -> str:
    """The Host header the client sent: the URL authority without userinfo and default port."""
    host = authority.rpartition("@")[2]
    if not host.endswith("]"):
        name, colon, port = host.rpartition(":")
        if colon and port == _DEFAULT_PORT.get(scheme or ""):
            host = name
    return host


def parse_alb_line(raw: bytes, source: str, line: int) -> LogEntry:
    """One ALB (or Classic ELB) access-log line -> LogEntry; LogFormatError when unreadable."""
    http, timestamp, parts, logged = alb_fields(raw, source, line)
    return LogEntry(http, timestamp, source, line, "alb", False, parts, logged, None)


def alb_fields(
    raw: bytes, source: str, line: int
) -> tuple[dict[str, Any], int | None, frozenset[str], LoggedOutcome | None]:
    """What `parse_alb_line` puts in the LogEntry: `httpRequest`, timestamp, available parts, outcome.

    The `httpRequest` values are all strings and its headers `{"name", "value"}` objects, which a
    replay relies on to build the `Request` without `Request.from_log`'s checks.
    """
    text = raw.decode("utf-8", "replace")
    fields = _split_standard(text) if "\\" not in text else None
    if fields is None:
        fields = split_alb(text, _FIELDS_READ)
    if fields and fields[0] not in TYPES and fields[0][:1].isdigit():
        fields.insert(0, "")  # Classic ELB: no type field
    if len(fields) < MIN_FIELDS:
        raise LogFormatError(
            f"an ALB log entry has at least {MIN_FIELDS} fields, got {len(fields)}", file=source, line=line
        )

    def bad(message: str) -> LogFormatError:
        return LogFormatError(message, file=source, line=line)

    request = fields[_REQUEST]
    method, _, target = request.partition(" ")
    target, _, version = target.rpartition(" ")
    if method in ("", "-") or target in ("", "-"):
        raise bad(f"the ALB could not parse this request (logged {request!r}); nothing to replay")
    scheme, authority, path, query, fragment = _split_target(target)

    missing = 0  # bits: no client, no host, no scheme, a fragment (see `_parts`)
    client = fields[_CLIENT]
    if client == "-":
        client_ip = ""
        missing = 1
    else:
        client_ip = client.rpartition(":")[0] or client  # IPv6 without brackets: port is last
    headers = []
    host = None
    if authority:
        host = _host_header(authority, scheme)
        headers.append({"name": "Host", "value": host})
    else:
        missing |= 2
    agent = fields[_AGENT]
    if agent != "-":
        headers.append({"name": "User-Agent", "value": agent})
    # Keys in the order of `Request.to_http_request`, so a replay can write this object back.
    http: dict[str, Any] = {
        "clientIp": client_ip,
        "country": "-",
        "headers": headers,
        "uri": path,
        "args": query,
        "httpVersion": version if version.startswith("HTTP/") else "HTTP/1.1",
        "httpMethod": method,
    }
    if len(fields) > _TRACE and fields[_TRACE] != "-":
        trace = fields[_TRACE]
        http["requestId"] = trace.partition("Root=")[2].partition(";")[0] if "Root=" in trace else trace
    if fragment is not None:
        http["fragment"] = fragment
        missing |= 8
    if scheme:
        http["scheme"] = scheme
    else:
        missing |= 4
    if host is not None:
        http["host"] = host

    try:
        when = fields[_CREATED] if len(fields) > _CREATED and fields[_CREATED] != "-" else fields[_TIME]
        timestamp = _epoch_ms(when)
    except ValueError as exc:
        raise bad(str(exc)) from None
    status_text = fields[_ELB_STATUS]
    if status_text != "-" and not status_text.isdigit():
        raise bad(f"elb_status_code must be a number, got {status_text!r}")
    status = int(status_text) if status_text != "-" else None
    logged = _outcome(fields[_ACTIONS], status) if len(fields) > _ACTIONS else None
    return http, timestamp, _PARTS[missing], logged


_SECONDS: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> epoch ms, for `_epoch_ms`


def _epoch_ms(text: str) -> int | None:
    """`to_epoch_ms` for ALB times; the usual `2024-03-20T10:30:00.123456Z` from a per-second cache.

    A log has many entries per second: the date and time are parsed once per second, and the
    milliseconds (microseconds floored, as `to_epoch_ms` does) added from the text.
    """
    if len(text) == 27 and text[19] == "." and text[26] == "Z" and text[20:26].isdigit():
        second = text[:19]
        base = _SECONDS.get(second)
        if base is None:
            try:
                base = to_epoch_ms(second + "Z")
            except ValueError:
                base = None
            if base is None:  # not a time: the error names the whole text
                return to_epoch_ms(text)
            if len(_SECONDS) >= 4096:
                _SECONDS.clear()
            _SECONDS[second] = base
        return base + int(text[20:23])
    return to_epoch_ms(text)


def _parts(missing: int) -> frozenset[str]:
    parts = set(ALB_PARTS)
    if missing & 1:
        parts.discard("client_ip")
    if missing & 2:
        parts.discard("header:host")
    if missing & 4:
        parts.discard("scheme")
    if missing & 8:
        parts.add("fragment")
    return frozenset(parts)


# The available parts of every combination, shared (a frozenset's hash is computed once).
_PARTS = tuple(_parts(missing) for missing in range(16))


@functools.lru_cache(maxsize=1024)
def _outcome(actions_executed: str, status: int | None) -> LoggedOutcome:
    """Ground truth from `actions_executed`: WAF blocked <=> `waf` is the last action.

    Cached: a log has few (actions, status) pairs, and the outcome is immutable.
    """
    actions = actions_executed.split(",")
    if "waf-failed" in actions:
        return LoggedOutcome(None, status_code=status, excluded=True, note="waf-failed")
    if actions[-1] == "waf":
        return LoggedOutcome("BLOCK", status_code=status)
    if "waf" in actions:
        return LoggedOutcome("ALLOW", status_code=status)
    return LoggedOutcome(None, status_code=status, excluded=True, note="WAF not in actions_executed")
