"""The fast path from a log line to a `Request` and the `httpRequest` to write back (for replays).

`wafpy.logs` reads every shape of every log and normalises it into a `LogEntry`, which
`Request.from_log` then checks field by field again. That is the reference, and it stays the path
for anything unusual. A replay reads millions of ordinary records, so here one AWS WAF record (or,
in `wafpy.logs.decode_alb`, one ALB line) goes straight to the `Request`, with each field checked
once, and the `httpRequest` object that `Request.to_http_request` would rebuild from bytes is
built from the decoded strings instead. The formats registry (`wafpy.logs.formats`) names, per
format, the fast decoder built on these functions beside its reference parser.

The fast path gives exactly what the reference gives, or declines (returns None) and the
caller takes the reference path, which also produces the error messages:

* a WAF record goes fast only when no value can be hidden by data protection: the raw line
  contains no `REDACTED`, no run of 64 hex digits (a SHA-256) and no `\\u` escape (which could
  spell either). One `in` and one `translate` on the raw bytes decide it, so redaction is never
  checked header by header;
* every field it reads must have the type AWS writes (strings, a list of `{name, value}`
  headers, an integer timestamp); a missing field, a null header value or any other type
  declines.

`decode_waf_line` is the first try for a JSON line: msgspec decodes it straight into typed
structs (`_WafRecord`), which checks the types in C and builds no dict per header. It declines
(and the caller decodes the line with orjson and `decode_waf`, as before) unless the result is
certainly what the orjson path gives:

* the line must be ASCII: msgspec does not check UTF-8 in values it skips, orjson does;
* every key must be one AWS writes (`forbid_unknown_fields`): nothing is skipped unchecked, so a
  number orjson rejects (out of range) cannot hide in an unknown field; the documented fields
  that the replay does not read are decoded as `Any`, which checks them as orjson does;
* integers must fit in 64 bits (orjson reads larger ones as floats; a run of 309 digits, which
  orjson rejects, is a run of hex digits and declined with the hashes);
* the same redaction checks as `decode_waf`, on the raw line, before decoding.

Its `httpRequest` to write back is the decoded struct itself, completed in place (country,
version, fragment, host as `to_http_request` writes them) and encoded with msgspec, which writes
the JSON orjson writes (same escapes, same key order; tests compare them).
"""

from __future__ import annotations

from typing import Any

import msgspec

from wafpy.logs.records import ALL_PARTS, LoggedOutcome, to_epoch_ms
from wafpy.logs.rulegroups import logged_groups
from wafpy.request import Request

__all__ = ["Decoded", "decode_waf", "decode_waf_line", "encode_record", "http_request_out"]

# (request, available parts, logged outcome, httpRequest to write (a dict, or the decoded
#  `_HttpRequest`: both encode alike), source name, source id, method, uri, client IP as the log
#  wrote them)
Decoded = tuple[Request, frozenset[str], LoggedOutcome | None, Any, str, str, str, str, str]

# Writes what `orjson.dumps` writes for the records (dicts, lists, strings, 64-bit integers,
# None, booleans) and also the structs below.
encode_record = msgspec.json.Encoder().encode

_HEX_DIGITS = b"0123456789abcdefABCDEF"
# Hex digits -> "x", every other byte -> ".": a SHA-256 becomes a run of 64 "x".
_HEX_TABLE = bytes(0x78 if i in _HEX_DIGITS else 0x2E for i in range(256))
_HEX_RUN = b"x" * 64

_NO_BODY = ALL_PARTS - {"body"}
# Optional parts by bit: fragment, scheme, host, ja3, ja4.
_OPTIONAL_PARTS = ("fragment", "scheme", "host", "ja3", "ja4")
_AVAILABLE = tuple(
    frozenset(_NO_BODY | {p for bit, p in enumerate(_OPTIONAL_PARTS) if mask >> bit & 1})
    for mask in range(1 << len(_OPTIONAL_PARTS))
)

_LOGGED: dict[tuple[Any, ...], LoggedOutcome] = {}
_LOGGED_MAX = 4096


def http_request_out(
    client_ip: str,
    country: str | None,
    headers: list[dict[str, str]],
    uri: str,
    args: str,
    http_version: str,
    method: str,
    request_id: str | None,
    fragment: str | None,
    scheme: str | None,
    host: str | None,
) -> dict[str, Any]:
    """What `Request.to_http_request` returns for the request built from these decoded values.

    Same keys, same order, same values: `country` "-" when unknown, no `fragment` when empty,
    `requestId` / `scheme` / `host` only when known.
    """
    out: dict[str, Any] = {
        "clientIp": client_ip,
        "country": country or "-",
        "headers": headers,
        "uri": uri,
        "args": args,
        "httpVersion": http_version,
        "httpMethod": method,
    }
    if request_id is not None:
        out["requestId"] = request_id
    if fragment:
        out["fragment"] = fragment
    if scheme is not None:
        out["scheme"] = scheme
    if host is not None:
        out["host"] = host
    return out


class _Header(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str
    value: str


class _HttpRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """`httpRequest` as AWS writes it; field order and omitted defaults are `to_http_request`'s."""

    clientIp: str
    country: str
    headers: list[_Header]
    uri: str
    args: str
    httpVersion: str
    httpMethod: str
    requestId: str | None = None
    fragment: str | None = None
    scheme: str | None = None
    host: str | None = None


class _WafRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The keys of an AWS WAF log record; those the replay does not read are checked as `Any`."""

    httpRequest: _HttpRequest
    timestamp: int | None = None
    action: str | None = None
    terminatingRuleId: str | None = None
    terminatingRuleType: str | None = None
    responseCodeSent: int | None = None
    labels: Any = None
    nonTerminatingMatchingRules: Any = None
    httpSourceName: Any = None
    httpSourceId: Any = None
    ja3Fingerprint: str | None = None
    ja4Fingerprint: str | None = None
    formatVersion: Any = None
    webaclId: Any = None
    terminatingRuleMatchDetails: Any = None
    ruleGroupList: Any = None
    rateBasedRuleList: Any = None
    requestHeadersInserted: Any = None
    captchaResponse: Any = None
    challengeResponse: Any = None
    requestBodySize: Any = None
    requestBodySizeInspectedByWAF: Any = None
    oversizeFields: Any = None


_decode_record = msgspec.json.Decoder(_WafRecord).decode
_INT_MIN, _INT_END = -(1 << 63), 1 << 64  # integers orjson reads as int


def _hidden(raw: bytes) -> bool:
    """True when a value of the line may be redacted or hashed by data protection."""
    return (
        b"REDACTED" in raw
        or (0x5C in raw and b"\\u" in raw)  # a backslash (memchr) before the slower 2-byte search
        or _HEX_RUN in raw.translate(_HEX_TABLE)
    )


def decode_waf_line(raw: bytes) -> tuple[int | None, Decoded] | None:
    """An AWS WAF log record line -> (timestamp, Decoded) through msgspec; None to decline.

    Gives what `decode_waf(orjson.loads(raw), raw)` gives, or declines (see the module docs).
    """
    if not raw.isascii() or _hidden(raw):
        return None
    try:
        record = _decode_record(raw)
    except (msgspec.DecodeError, RecursionError):  # (ValidationError too) the orjson path decides
        return None
    timestamp = record.timestamp
    status = record.responseCodeSent
    if (timestamp is not None and not _INT_MIN <= timestamp < _INT_END) or (
        status is not None and not _INT_MIN <= status < _INT_END
    ):
        return None
    http = record.httpRequest
    fragment = http.fragment
    scheme = http.scheme
    host = http.host
    ja3 = record.ja3Fingerprint
    ja4 = record.ja4Fingerprint
    mask = (
        (fragment is not None)
        | (scheme is not None) << 1
        | (host is not None) << 2
        | bool(ja3) << 3
        | bool(ja4) << 4
    )
    headers = http.headers
    pairs = tuple([(h.name.encode(), h.value.encode()) for h in headers])
    if host is None:
        for header in headers:
            name = header.name
            if len(name) == 4 and name.lower() == "host":
                host = http.host = header.value
                break
    action = record.action
    rule_id = record.terminatingRuleId
    labels = _names(record.labels, "name")
    if labels is None:
        return None
    try:
        groups = logged_groups(record.ruleGroupList, labels, record.captchaResponse, record.challengeResponse)
    except ValueError:  # the reference parser words the error
        return None
    logged: LoggedOutcome | None = None
    if action is not None or rule_id is not None:
        rules = _names(record.nonTerminatingMatchingRules, "ruleId")
        if rules is None:
            return None
        logged = _logged_outcome(action, rule_id, record.terminatingRuleType, labels, rules, status)
    method = http.httpMethod
    uri = http.uri
    args = http.args
    client_ip = http.clientIp
    country = http.country
    version = http.httpVersion
    if version == "":
        version = http.httpVersion = "HTTP/1.1"
    if country == "" or country == "-":
        http.country = "-"
        country = None  # type: ignore[assignment]
    if fragment == "":
        http.fragment = None
    request = Request.from_log_parts(
        method.encode(),
        uri.encode(),
        args.encode() if args else None,
        fragment.encode() if fragment else None,
        pairs,
        client_ip,
        country,
        version,
        scheme,
        host,
        ja3 or None,
        ja4 or None,
        timestamp,
        http.requestId,
        False,
        groups,
    )
    source_name = record.httpSourceName
    source_id = record.httpSourceId
    return timestamp, (
        request,
        _AVAILABLE[mask],
        logged,
        http,
        source_name if type(source_name) is str else "ALB",
        source_id if type(source_id) is str else "-",
        method,
        uri,
        client_ip,
    )


def _logged_outcome(
    action: str | None,
    rule_id: str | None,
    rule_type: str | None,
    labels: tuple[str, ...],
    rules: tuple[str, ...],
    status: int | None,
) -> LoggedOutcome:
    """The logged outcome, shared between equal ones."""
    key = (action, rule_id, rule_type, labels, rules, status)
    found = _LOGGED.get(key)
    if found is None:
        if len(_LOGGED) >= _LOGGED_MAX:
            _LOGGED.clear()
        found = _LOGGED[key] = LoggedOutcome(action, rule_id, rule_type, labels, rules, status)
    return found


def _names(value: Any, key: str) -> tuple[str, ...] | None:
    """Like `waflog._names`; None (decline) where it would raise."""
    if value is None:
        return ()
    if type(value) is not list:
        return None
    out = []
    for item in value:
        name = item.get(key) if isinstance(item, dict) else None
        if isinstance(name, str):
            out.append(name)
    return tuple(out)


def _logged(
    record: dict[str, Any], action: str | None, rule_id: str | None, labels: tuple[str, ...]
) -> LoggedOutcome | None:
    """The logged outcome, shared between equal ones; None to decline."""
    get = record.get
    rule_type = get("terminatingRuleType")
    status = get("responseCodeSent")
    if (rule_type is not None and type(rule_type) is not str) or (
        status is not None and type(status) is not int
    ):
        return None
    rules = _names(get("nonTerminatingMatchingRules"), "ruleId")
    if rules is None:
        return None
    return _logged_outcome(action, rule_id, rule_type, labels, rules, status)


def decode_waf(record: dict[str, Any], raw: bytes) -> tuple[int | None, Decoded] | None:
    """An AWS WAF log record (decoded from `raw`) -> (timestamp, Decoded); None to decline."""
    if _hidden(raw):
        return None
    http = record["httpRequest"]
    if type(http) is not dict:
        return None
    get = http.get
    client_ip = get("clientIp")
    country = get("country")
    uri = get("uri")
    args = get("args")
    version = get("httpVersion")
    method = get("httpMethod")
    headers = get("headers")
    if (
        type(client_ip) is not str
        or type(country) is not str
        or type(uri) is not str
        or type(args) is not str
        or type(version) is not str
        or type(method) is not str
        or type(headers) is not list
    ):
        return None
    fragment = get("fragment")
    scheme = get("scheme")
    host = get("host")
    request_id = get("requestId")
    ja3 = record.get("ja3Fingerprint")
    ja4 = record.get("ja4Fingerprint")
    mask = 0
    if fragment is not None:
        if type(fragment) is not str:
            return None
        mask = 1
    if scheme is not None:
        if type(scheme) is not str:
            return None
        mask |= 2
    if host is not None:
        if type(host) is not str:
            return None
        mask |= 4
    if request_id is not None and type(request_id) is not str:
        return None
    if ja3 is not None:
        if type(ja3) is not str:
            return None
        if ja3:
            mask |= 8
    if ja4 is not None:
        if type(ja4) is not str:
            return None
        if ja4:
            mask |= 16

    pairs: list[tuple[bytes, bytes]] = []
    out_headers: list[dict[str, str]] = []
    add_pair = pairs.append
    add_out = out_headers.append
    find_host = host is None
    for item in headers:
        # Decoded JSON: only an object can be indexed by a string (a list or a string raises
        # TypeError), so no type test on the item itself.
        try:
            name = item["name"]
            value = item["value"]
        except (KeyError, TypeError):
            return None
        if type(name) is not str or type(value) is not str:
            return None
        name_bytes = name.encode()
        add_pair((name_bytes, value.encode()))
        add_out({"name": name, "value": value})
        if find_host and len(name_bytes) == 4 and name_bytes.lower() == b"host":
            host = value
            find_host = False

    action = record.get("action")
    rule_id = record.get("terminatingRuleId")
    if (action is not None and type(action) is not str) or (rule_id is not None and type(rule_id) is not str):
        return None
    get_field = record.get
    labels = _names(get_field("labels"), "name")
    if labels is None:
        return None
    try:
        groups = logged_groups(
            get_field("ruleGroupList"), labels, get_field("captchaResponse"), get_field("challengeResponse")
        )
    except ValueError:  # the reference parser words the error
        return None
    logged: LoggedOutcome | None = None
    if action is not None or rule_id is not None:
        logged = _logged(record, action, rule_id, labels)
        if logged is None:
            return None
    timestamp = record.get("timestamp")
    if timestamp is not None and type(timestamp) is not int:
        try:
            timestamp = to_epoch_ms(timestamp)
        except ValueError:
            return None
    source_name = record.get("httpSourceName")
    source_id = record.get("httpSourceId")
    if version == "":
        version = "HTTP/1.1"
    request = Request.from_log_parts(
        method.encode(),
        uri.encode(),
        args.encode() if args else None,
        fragment.encode() if fragment else None,
        tuple(pairs),
        client_ip,
        None if country == "" or country == "-" else country,
        version,
        scheme,
        host,
        ja3 or None,
        ja4 or None,
        timestamp,
        request_id,
        False,
        groups,
    )
    out = http_request_out(
        client_ip, country, out_headers, uri, args, version, method, request_id, fragment, scheme, host
    )
    return timestamp, (
        request,
        _AVAILABLE[mask],
        logged,
        out,
        source_name if type(source_name) is str else "ALB",
        source_id if type(source_id) is str else "-",
        method,
        uri,
        client_ip,
    )
