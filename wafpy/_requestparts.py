"""The parsing behind `wafpy.request.Request`: what AWS WAF sees of the headers and cookies, and
the `httpRequest` object of an AWS WAF log record, read and written.

Private to `wafpy.request`, which re-exports the limits. It imports nothing of wafpy, so the
request module stays a leaf of the root vocabulary.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

# WAF sees at most the first 200 headers / 8 KB of header data and the first 200 cookies / 8 KB
# of cookie data (https://docs.aws.amazon.com/waf/latest/developerguide/waf-oversize-request-components.html).
# Byte counting is UNSPECIFIED; see `Request.visible_headers`.
HEADER_COUNT_LIMIT = 200
HEADER_BYTES_LIMIT = 8192
COOKIE_COUNT_LIMIT = 200
COOKIE_BYTES_LIMIT = 8192

Header = tuple[bytes, bytes]
QueryArg = tuple[bytes, bytes]


def to_bytes(value: str | bytes) -> bytes:
    """Text as UTF-8 (see the `wafpy.request` docstring); bytes as they are."""
    return value.encode("utf-8") if isinstance(value, str) else value


def to_text(value: bytes) -> str:
    """UTF-8 if the bytes are UTF-8, else latin-1: never fails, and round-trips through `to_bytes`."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


HeadersInput = (
    Iterable[tuple[bytes | str, bytes | str]] | Mapping[bytes | str, bytes | str | Iterable[bytes | str]]
)


def header_tuple(headers: HeadersInput | object) -> tuple[Header, ...]:
    """`(name, value)` pairs as bytes, from pairs or from a mapping (a list value repeats the header).

    Raises TypeError when `headers` is neither: a string, or an item that is not a pair.
    """
    if type(headers) is tuple and all(
        type(h) is tuple and len(h) == 2 and type(h[0]) is bytes and type(h[1]) is bytes for h in headers
    ):
        return headers
    if isinstance(headers, (str, bytes)):
        raise TypeError("headers must be (name, value) pairs or a mapping of name to value, not a string")
    out: list[Header] = []
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if not isinstance(name, (str, bytes)):
                raise TypeError(f"header name {name!r} is not a string")
            if isinstance(value, (str, bytes)):
                out.append((to_bytes(name), to_bytes(value)))
            elif isinstance(value, Iterable):
                out.extend((to_bytes(name), _header_value(name, v)) for v in value)
            else:
                raise TypeError(f"header {name!r}: value {value!r} is not a string")
        return tuple(out)
    if not isinstance(headers, Iterable):
        raise TypeError(f"headers must be (name, value) pairs or a mapping, not {type(headers).__name__}")
    for item in headers:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"headers must be (name, value) pairs or a mapping; got the item {item!r}")
        name, value = item
        if not isinstance(name, (str, bytes)):
            raise TypeError(f"header name {name!r} is not a string")
        out.append((to_bytes(name), _header_value(name, value)))
    return tuple(out)


def _header_value(name: str | bytes, value: object) -> bytes:
    if not isinstance(value, (str, bytes)):
        raise TypeError(f"header {name!r}: value {value!r} is not a string")
    return to_bytes(value)


def split_target(
    uri: bytes, query: bytes | None, fragment: bytes | None
) -> tuple[bytes, bytes | None, bytes | None]:
    """(path, query, fragment) of a `uri` that may be a whole request target (`/p?q#f`).

    AWS WAF inspects the path (UriPath) and the query string (QueryString) separately; on the
    request line the first `?` starts the query and a `#` the fragment, so a path never holds
    either unescaped (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-fields-list.html).
    Raises ValueError when the target holds a part that is also given on its own.
    """
    if 0x23 in uri:  # b"#"
        if fragment is not None:
            raise ValueError(f"uri {uri!r} has a '#' fragment and fragment= is given too: give it once")
        uri, _, fragment = uri.partition(b"#")
    if 0x3F in uri:  # b"?"
        if query is not None:
            raise ValueError(
                f"uri {uri!r} has a '?' query string and query= is given too: "
                "pass the path as uri= and the query string (without '?') as query="
            )
        uri, _, query = uri.partition(b"?")
    return uri, query, fragment


# ------------------------------------------------------------------------------------------------
# Headers and cookies within the limits


def visible_headers(headers: tuple[Header, ...]) -> tuple[tuple[Header, ...], bool]:
    """(the headers WAF can see, whether the header block is over a limit)."""
    if len(headers) <= HEADER_COUNT_LIMIT:
        # Common case first: everything fits, no per-header bookkeeping.
        size = sum([len(n) + len(v) for n, v in headers]) + 4 * len(headers)
        if size <= HEADER_BYTES_LIMIT:
            return headers, False
    total = 0
    cut = len(headers)
    # wafpy's byte count (waf-oversize-request-components gives none): name + value + ": " +
    # CRLF per header line. A header that would cross the limit is not visible at all
    # (treated as absent, as that page says of what AWS WAF cannot inspect).
    for i, (name, value) in enumerate(headers):
        total += len(name) + len(value) + 4
        if total > HEADER_BYTES_LIMIT and cut == len(headers):
            cut = i
    cut = min(cut, HEADER_COUNT_LIMIT)
    visible = headers if cut == len(headers) else headers[:cut]
    return visible, len(headers) > HEADER_COUNT_LIMIT or total > HEADER_BYTES_LIMIT


def _split_cookies(value: bytes, out: list[tuple[bytes, bytes]]) -> None:
    # `;`-separated pairs, surrounding spaces trimmed, first `=` splits, a pair without `=` is a
    # name with an empty value, values stay encoded (waf-rule-statement-fields-list, Cookies).
    for piece in value.split(b";"):
        piece = piece.strip(b" \t")
        if piece:
            name, _, val = piece.partition(b"=")
            out.append((name, val))


def visible_cookies(headers: tuple[Header, ...]) -> tuple[list[tuple[bytes, bytes]], bool]:
    """(the cookies WAF can see, whether the cookie data is over a limit)."""
    pairs: list[tuple[bytes, bytes]] = []
    # All Cookie header lines, concatenated in order (HTTP/2 sends one per cookie):
    # https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-fields-list.html
    for name, value in headers:
        if len(name) == 6 and name.lower() == b"cookie":
            _split_cookies(value, pairs)
    # Cookie data = the pairs as "name=value" joined by "; " (wafpy's choice); only
    # whole cookies within the first 8,192 bytes and the first 200 cookies are visible.
    total = 0
    cut = len(pairs)
    for i, (name, value) in enumerate(pairs):
        total += len(name) + len(value) + 1 + (2 if i else 0)
        if total > COOKIE_BYTES_LIMIT and cut == len(pairs):
            cut = i
    cut = min(cut, COOKIE_COUNT_LIMIT)
    oversize = len(pairs) > COOKIE_COUNT_LIMIT or total > COOKIE_BYTES_LIMIT
    return (pairs if cut == len(pairs) else pairs[:cut]), oversize


# ------------------------------------------------------------------------------------------------
# The httpRequest object of a log record


def _required_str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        what = "missing" if value is None else f"a {type(value).__name__}, not a string"
        raise ValueError(f"httpRequest.{field} is {what}")
    return value


def _optional_str(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"httpRequest.{field} must be a string, got {type(value).__name__}")


def _log_headers(value: Any) -> list[tuple[str, str]]:
    """The checked `(name, value)` text pairs of `httpRequest.headers` (encoded later, when read)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"httpRequest.headers must be a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        # `type(...) is dict` first: the usual JSON object skips the ABC check of Mapping.
        if type(item) is not dict and not isinstance(item, Mapping):
            raise ValueError(f"httpRequest.headers[{i}] must be an object with name and value")
        name = item.get("name")
        val = item.get("value")
        if type(name) is not str and not isinstance(name, str):
            raise ValueError(f"httpRequest.headers[{i}].name must be a string")
        if val is None:
            val = ""
        elif type(val) is not str and not isinstance(val, str):
            raise ValueError(f"httpRequest.headers[{i}].value must be a string")
        out.append((name, val))
    return out


def encode_log_headers(pairs: list[tuple[str, str]]) -> tuple[Header, ...]:
    return tuple([(name.encode("utf-8"), value.encode("utf-8")) for name, value in pairs])


def _log_body(text_body: Any, b64_body: Any) -> bytes:
    """The body of an `httpRequest` object: `body` (UTF-8 text) or `bodyBase64`, else empty."""
    if text_body is not None and b64_body is not None:
        raise ValueError("httpRequest has both body and bodyBase64; give one")
    if text_body is not None:
        if not isinstance(text_body, str):
            raise ValueError(f"httpRequest.body must be a string, got {type(text_body).__name__}")
        return text_body.encode("utf-8")
    if b64_body is not None:
        if not isinstance(b64_body, str):
            raise ValueError(f"httpRequest.bodyBase64 must be a string, got {type(b64_body).__name__}")
        try:
            return base64.b64decode(b64_body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"httpRequest.bodyBase64 is not valid base64: {exc}") from None
    return b""


class RequestFields(Protocol):
    """The public attributes of `wafpy.request.Request`, which the functions below read or set."""

    method: bytes
    uri: bytes
    query: bytes | None
    fragment: bytes | None
    headers: tuple[Header, ...]
    body: bytes
    body_size: int
    client_ip: str
    country: str | None
    asn: int | None
    http_version: str
    scheme: str | None
    host: str | None
    ja3: str | None
    ja4: str | None
    timestamp_ms: int | None
    request_id: str | None
    body_available: bool
    # The inputs of the parts not made yet (`Request.__getattr__` makes them on first use).
    _pending: tuple[Any, ...] | None


def read_http_request(
    request: RequestFields,
    http_request: Mapping[str, Any],
    timestamp: int | None,
    *,
    body_available: bool | None,
    body_size: int | None,
    ja3: str | None,
    ja4: str | None,
) -> None:
    """Set every attribute of a new `request` from an `httpRequest` object (`Request.from_log`).

    A whole log record (with `httpRequest` inside) is read too: its `timestamp`, `ja3Fingerprint`
    and `ja4Fingerprint` fill what the arguments leave None. `body_available` None means what the
    object can carry: True when it has `body` or `bodyBase64`, else False (logs carry no body).
    """
    if not isinstance(http_request, Mapping):
        raise ValueError(f"httpRequest must be an object, got {type(http_request).__name__}")
    inner = http_request.get("httpRequest")
    if inner is not None:
        record = http_request
        if not isinstance(inner, Mapping):
            raise ValueError(f"httpRequest must be an object, got {type(inner).__name__}")
        if timestamp is None:
            timestamp = record.get("timestamp")
        if ja3 is None:
            ja3 = _optional_str(record.get("ja3Fingerprint"), "ja3Fingerprint")
        if ja4 is None:
            ja4 = _optional_str(record.get("ja4Fingerprint"), "ja4Fingerprint")
        http_request = inner
    get = http_request.get
    if body_available is None:
        body_available = get("body") is not None or get("bodyBase64") is not None
    method = _required_str(get("httpMethod"), "httpMethod")
    uri = _required_str(get("uri"), "uri")
    client_ip = _required_str(get("clientIp"), "clientIp")
    args = _optional_str(get("args"), "args")
    fragment = _optional_str(get("fragment"), "fragment")
    country = _optional_str(get("country"), "country")
    version = _optional_str(get("httpVersion"), "httpVersion")
    headers = _log_headers(get("headers"))

    body = _log_body(get("body"), get("bodyBase64"))
    if timestamp is not None and (not isinstance(timestamp, int) or isinstance(timestamp, bool)):
        raise ValueError(f"timestamp must be an integer, got {type(timestamp).__name__}")
    if body_size is None:
        body_size = len(body)

    host = _optional_str(get("host"), "host")
    # Checked now, encoded when first read (`fill_from_log`): the values kept are immutable text.
    request._pending = (fill_from_log, method, uri, args, fragment, headers, host)
    request.body = body
    request.body_size = body_size
    request.client_ip = client_ip
    request.country = None if country in (None, "", "-") else country
    request.asn = None
    request.http_version = version or "HTTP/1.1"
    request.scheme = _optional_str(get("scheme"), "scheme")
    request.ja3 = ja3 if ja3 is not None else _optional_str(get("ja3Fingerprint"), "ja3Fingerprint")
    request.ja4 = ja4 if ja4 is not None else _optional_str(get("ja4Fingerprint"), "ja4Fingerprint")
    request.timestamp_ms = timestamp
    request.request_id = _optional_str(get("requestId"), "requestId")
    request.body_available = body_available


def fill_from_log(
    request: RequestFields,
    method: str,
    uri: str,
    args: str | None,
    fragment: str | None,
    headers: list[tuple[str, str]],
    host: str | None,
) -> None:
    """The encoded parts of a `from_log` view, made when the first is read."""
    encoded = encode_log_headers(headers)
    if host is None:
        for name, value in encoded:
            if name.lower() == b"host":
                host = to_text(value)
                break
    request.method = method.encode("utf-8")
    request.uri = uri.encode("utf-8")
    request.query = args.encode("utf-8") if args else None
    request.fragment = fragment.encode("utf-8") if fragment else None
    request.headers = encoded
    request.host = host


def http_request_object(request: RequestFields) -> dict[str, Any]:
    """The `httpRequest` object of an AWS WAF log record for `request` (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html)."""
    out: dict[str, Any] = {
        "clientIp": request.client_ip,
        "country": request.country or "-",
        "headers": [{"name": to_text(n), "value": to_text(v)} for n, v in request.headers],
        "uri": to_text(request.uri),
        "args": "" if request.query is None else to_text(request.query),
        "httpVersion": request.http_version,
        "httpMethod": to_text(request.method),
    }
    if request.request_id is not None:
        out["requestId"] = request.request_id
    if request.fragment is not None:
        out["fragment"] = to_text(request.fragment)
    if request.scheme is not None:
        out["scheme"] = request.scheme
    if request.host is not None:
        out["host"] = request.host
    return out


def split_query(query: bytes | None, pre_parse: Callable[[bytes], bytes] | None) -> list[tuple[bytes, bytes]]:
    """`(name, value)` pairs of a raw query string, after the pre-parse chain (see `Request.query_args`)."""
    args: list[tuple[bytes, bytes]] = []
    if query is not None:
        if pre_parse is not None:
            query = pre_parse(query)
        for piece in query.split(b"&"):
            if piece:
                name, _, value = piece.partition(b"=")
                args.append((name, value))
    return args


# RFC 3986 pchar plus "/": characters that may appear unescaped in a path. Used only when an
# ASGI server gives no raw_path and the decoded path must be re-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=~"


# from_asgi runs per request: the usual methods and ASGI versions are looked up, not re-encoded.
_ASGI_METHODS = {
    m: m.encode("latin-1")
    for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE")
}
_ASGI_VERSIONS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2.0", "3": "HTTP/3.0"}


def fill_asgi(
    self: RequestFields,
    raw: bytes | None,
    path: str | None,
    query: bytes | None,
    headers: tuple[Any, ...],
    method: str,
    version: str | None,
    scheme: str | None,
) -> None:
    """The parts of a `from_asgi` view that need decoding, made when the first is read."""
    if raw is None:
        raw = quote(path or "/", safe=_PATH_SAFE).encode("ascii")
    fragment: bytes | None = None
    # Some servers put the whole target in raw_path; WAF's UriPath stops at `?` and `#`.
    # (An int operand: `0x3F in raw` is a memchr, `b"?" in raw` costs 8 times as much.)
    if 0x3F in raw:  # b"?"
        raw = raw.partition(b"?")[0]
    if 0x23 in raw:  # b"#"
        raw, _, fragment = raw.partition(b"#")
    # Servers give 2-tuples; the spec allows any 2-item iterables (checked on the first item
    # only: a server is uniform).
    if headers and type(headers[0]) is not tuple:
        headers = tuple([(bytes(n), bytes(v)) for n, v in headers])
    host: str | None = None
    for name, value in headers:
        # The length test first: most names are not 4 bytes long and skip the lower().
        if len(name) == 4 and (name == b"host" or name.lower() == b"host"):
            host = value.decode("latin-1")
            break
    version = version or "1.1"
    self.method = _ASGI_METHODS.get(method) or method.encode("latin-1")
    self.uri = raw
    self.query = query or None
    self.fragment = fragment
    self.headers = headers
    # AWS logs write HTTP/2.0; ASGI says "2".
    self.http_version = _ASGI_VERSIONS.get(version) or "HTTP/" + (
        version if "." in version else version + ".0"
    )
    self.scheme = scheme or "http"
    self.host = host
