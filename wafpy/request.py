"""`Request`: the one normalized view of an HTTP request that every statement inspects.

Two sources produce it: an ASGI scope (the middleware, `Request.from_asgi`) and the `httpRequest`
object of an AWS WAF log record (`wafpy eval`, conformance files, `Request.from_log`). Everything
is kept as raw bytes, exactly as WAF would see it: the path is not percent-decoded, the query string
is not split, header names keep the case they arrived in.

Building the view is cheap because the ASGI middleware builds one per request: `from_asgi` and
`from_log` take what they are given and decode nothing. The parts that need decoding or encoding
(method, path, query, headers, host...) are left unset and made, all at once, the first time
anything reads one of them (`__getattr__`, which Python calls only for an unset slot, so a part
already made costs a plain slot read). Derived parts (visible headers, a header index, cookies,
query arguments) are computed the first time a rule needs them and memoized the same way; a
request that only meets IP rules never parses a cookie, and one that meets no rule at all never
decodes its headers. `from_log` still checks every field when it is called, so a malformed
record fails there, as before.

The view is immutable by convention: slots are assigned directly (an enforcing ``__setattr__``
would triple the construction cost). Use `Request.replace` to derive a changed copy.

Text given as ``str`` (keyword constructor, log records) is encoded as **UTF-8**: JSON log records
are Unicode, and a non-ASCII character in them almost always came from UTF-8 bytes on the wire,
which is also what a SearchString written as text becomes. `to_http_request` decodes UTF-8 and
falls back to latin-1 for byte strings that are not UTF-8, so ``from_log(r.to_http_request())``
round-trips every request that ``from_log`` can build, and never fails on arbitrary bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

from wafpy._requestparts import (
    COOKIE_BYTES_LIMIT,
    COOKIE_COUNT_LIMIT,
    HEADER_BYTES_LIMIT,
    HEADER_COUNT_LIMIT,
    Header,
    HeadersInput,
    QueryArg,
    fill_asgi,
    header_tuple,
    http_request_object,
    read_http_request,
    split_query,
    split_target,
    to_bytes,
    visible_cookies,
    visible_headers,
)

if TYPE_CHECKING:
    from wafpy.loggedgroups import LoggedGroups

__all__ = [
    "COOKIE_BYTES_LIMIT",
    "COOKIE_COUNT_LIMIT",
    "HEADER_BYTES_LIMIT",
    "HEADER_COUNT_LIMIT",
    "Request",
]

_PUBLIC = (
    "method",
    "uri",
    "query",
    "fragment",
    "headers",
    "body",
    "body_size",
    "client_ip",
    "country",
    "asn",
    "http_version",
    "scheme",
    "host",
    "ja3",
    "ja4",
    "timestamp_ms",
    "request_id",
    "body_available",
    "logged_groups",
)


class Request:
    """A request as AWS WAF sees it; attributes are documented in docs/architecture.md.

    Example::

        Request(method="POST", uri="/login", query="next=%2F", headers=[("Host", "example.com")],
                body=b'{"user":"bob"}', client_ip="198.51.100.7")

    The keyword constructor checks what it is given:

    - `uri` is the path, as AWS WAF's UriPath; `query` the query string without `?`, as
      QueryString. A `uri` holding a whole request target is split as the request line is: the
      first `?` starts the query and a `#` the fragment, so ``Request(uri="/search?q=1")`` is
      ``Request(uri="/search", query="q=1")`` (and ``uri="/a?"`` an empty query string). Giving
      the query both ways (a `?` in `uri` and `query=`) is a ValueError, as is a fragment both ways.
    - `headers` is a sequence of `(name, value)` pairs, in order, or a mapping of name to value
      (a list value repeats the header). Anything else is a TypeError.
    - `body_available` is True: a request built from its parts has the body it was given.
    """

    __slots__ = (
        *_PUBLIC,
        "_cookies",
        "_cookies_oversize",
        "_headers_oversize",
        "_index",
        "_pending",
        "_query_args",
        "_visible",
    )

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
    # What the AWS WAF record being replayed says happened inside its rule groups (managed="log");
    # None for every other source.
    logged_groups: LoggedGroups | None

    _visible: tuple[Header, ...]
    _headers_oversize: bool
    _index: dict[bytes, list[bytes]]
    _cookies: list[tuple[bytes, bytes]]
    _cookies_oversize: bool
    _query_args: dict[Hashable, list[QueryArg]]
    # (filler, its arguments...) of the parts not made yet; None once made (see `__getattr__`).
    _pending: tuple[Any, ...] | None

    def __init__(
        self,
        *,
        method: bytes | str = b"GET",
        uri: bytes | str = b"/",
        query: bytes | str | None = None,
        fragment: bytes | str | None = None,
        headers: HeadersInput = (),
        body: bytes | str = b"",
        body_size: int | None = None,
        client_ip: str = "127.0.0.1",
        country: str | None = None,
        asn: int | None = None,
        http_version: str = "HTTP/1.1",
        scheme: str | None = None,
        host: str | None = None,
        ja3: str | None = None,
        ja4: str | None = None,
        timestamp_ms: int | None = None,
        request_id: str | None = None,
        body_available: bool = True,
        logged_groups: LoggedGroups | None = None,
    ) -> None:
        self.method = to_bytes(method)
        self.uri, self.query, self.fragment = split_target(
            to_bytes(uri),
            None if query is None else to_bytes(query),
            None if fragment is None else to_bytes(fragment),
        )
        self.headers = header_tuple(headers)
        self.body = to_bytes(body)
        self.body_size = len(self.body) if body_size is None else body_size
        self.client_ip = client_ip
        self.country = country
        self.asn = asn
        self.http_version = http_version
        self.scheme = scheme
        self.host = host
        self.ja3 = ja3
        self.ja4 = ja4
        self.timestamp_ms = timestamp_ms
        self.request_id = request_id
        self.body_available = body_available
        self.logged_groups = logged_groups

    # ----------------------------------------------------------------------------------------
    # Parts made on first use

    def __getattr__(self, name: str) -> Any:
        # Called only when a slot is unset. A view built by `from_asgi` / `from_log` holds the
        # inputs of its lazy parts in `_pending` until one is read; the memoized derived parts
        # are computed here the first time too.
        if name in _LAZY:
            try:
                pending = self._pending
            except AttributeError:
                pending = None
            if pending is not None:
                # Filled before `_pending` is cleared: another thread reading meanwhile fills
                # the same values again rather than finding neither.
                pending[0](self, *pending[1:])
                self._pending = None
                return object.__getattribute__(self, name)
        else:
            compute = _MEMOS.get(name)
            if compute is not None:
                compute(self)
                return object.__getattribute__(self, name)
        raise AttributeError(f"'Request' object has no attribute {name!r}")

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        # Pickled and copied whole: the lazy parts are made first, the memos are left out.
        return None, {name: getattr(self, name) for name in _PUBLIC}

    # ----------------------------------------------------------------------------------------
    # Value semantics

    def _public(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _PUBLIC)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return self._public() == other._public()

    def __hash__(self) -> int:
        return hash(self._public())

    def __repr__(self) -> str:
        query = b"" if self.query is None else b"?" + self.query
        return (
            f"Request({self.method.decode('latin-1')} {(self.uri + query).decode('latin-1')!r}, "
            f"{len(self.headers)} headers, body {self.body_size} B, client {self.client_ip})"
        )

    def replace(self, **changes: Any) -> Request:
        """A copy with some public attributes changed (memoized parts are recomputed).

        The path, query and fragment are split again only when one of them is changed: a copy
        keeps what `from_log` read, even a logged `uri` holding `?`.
        """
        values = {name: getattr(self, name) for name in _PUBLIC}
        if "body" in changes and "body_size" not in changes:
            values["body_size"] = None
        values.update(changes)
        if changes.keys() & {"uri", "query", "fragment"}:
            return Request(**values)
        values.update(uri=b"/", query=None, fragment=None)
        copy = Request(**values)
        copy.uri, copy.query, copy.fragment = self.uri, self.query, self.fragment
        return copy

    # ----------------------------------------------------------------------------------------
    # Headers

    def _compute_visible(self) -> None:
        self._visible, self._headers_oversize = visible_headers(self.headers)

    def _compute_index(self) -> None:
        index: dict[bytes, list[bytes]] = {}
        for name, value in self.visible_headers:
            key = name.lower()
            found = index.get(key)
            if found is None:
                index[key] = [value]
            else:
                found.append(value)
        self._index = index

    # An unset memo slot reaches `__getattr__`, which computes it: no try/except on the way.
    @property
    def visible_headers(self) -> tuple[Header, ...]:
        """The headers WAF can see: the first 200 and within 8,192 bytes (waf-oversize-request-components)."""
        return self._visible

    @property
    def headers_oversize(self) -> bool:
        """True when the request has more than 200 headers or more than 8,192 bytes of them."""
        return self._headers_oversize

    def header_values(self, lower_name: bytes) -> list[bytes]:
        """Values of every visible header named `lower_name` (ASCII lower case), in order.

        The returned list is shared with the memo: do not modify it.
        """
        return self._index.get(lower_name) or []

    # ----------------------------------------------------------------------------------------
    # Cookies

    def _compute_cookies(self) -> None:
        self._cookies, self._cookies_oversize = visible_cookies(self.headers)

    @property
    def cookies(self) -> list[tuple[bytes, bytes]]:
        """Visible `(name, value)` cookies from every Cookie header, values not decoded."""
        return self._cookies

    @property
    def cookies_oversize(self) -> bool:
        """True when there are more than 200 cookies or more than 8,192 bytes of cookie data."""
        return self._cookies_oversize

    # ----------------------------------------------------------------------------------------
    # Query arguments

    def query_args(
        self, pre_parse: Callable[[bytes], bytes] | None = None, key: Hashable = None
    ) -> list[QueryArg]:
        """`(name, value)` query arguments, raw, after the pre-parse chain (waf-rule-statement-fields-list).

        The chain runs on the raw query string before it is split on `&` (a `;` is not a
        separator). Each piece splits at its first `=`; a piece without `=` is a name with an
        empty value; empty pieces are skipped. Results are memoized per `key`, which must
        identify `pre_parse` (None for no chain). No query string gives an empty list.
        """
        memo = self._query_args
        found = memo.get(key)
        if found is not None:
            return found
        args = memo[key] = split_query(self.query, pre_parse)
        return args

    # ----------------------------------------------------------------------------------------
    # Constructors

    @classmethod
    def from_log(
        cls,
        http_request: Mapping[str, Any],
        timestamp: int | None = None,
        *,
        body_available: bool | None = None,
        body_size: int | None = None,
        ja3: str | None = None,
        ja4: str | None = None,
        logged_groups: LoggedGroups | None = None,
    ) -> Request:
        """Build from the `httpRequest` object of an AWS WAF log record (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html).

        Besides the logged fields, the mapping may carry `body` (UTF-8 text) or `bodyBase64`
        (as conformance cases do) and `ja3Fingerprint` / `ja4Fingerprint` (record-level fields
        a caller may merge in; the `ja3` / `ja4` keywords take precedence). A whole log record
        is accepted too: its `httpRequest` is read, and its `timestamp` and fingerprints are used
        unless the arguments give them.

        `body_available` defaults to what the object can carry: True when it has `body` or
        `bodyBase64`, False otherwise, since AWS WAF logs carry no body and body statements
        are then reported as not evaluable. Pass True for a request known to have no body.

        Choices: `args` "" means *no query string* — logs write "" both for a target without `?`
        and for one ending in `?`, and no query is the common case; likewise `fragment` "" means
        none. `country` "-" means unknown. A missing body reads as empty (body_size 0); whether
        it counts as present is `body_available` (waf-rule-statement-fields-list).

        Raises ValueError naming the field when the input is malformed.
        """
        self = cls.__new__(cls)
        read_http_request(
            self,
            http_request,
            timestamp,
            body_available=body_available,
            body_size=body_size,
            ja3=ja3,
            ja4=ja4,
        )
        self.logged_groups = logged_groups
        return self

    @classmethod
    def from_log_parts(
        cls,
        method: bytes,
        uri: bytes,
        query: bytes | None,
        fragment: bytes | None,
        headers: tuple[Header, ...],
        client_ip: str,
        country: str | None,
        http_version: str,
        scheme: str | None,
        host: str | None,
        ja3: str | None,
        ja4: str | None,
        timestamp_ms: int | None,
        request_id: str | None,
        body_available: bool,
        logged_groups: LoggedGroups | None = None,
    ) -> Request:
        """`from_log` without its checks, for a log reader that has validated every field itself.

        The values are final: bytes where the request keeps bytes, None for absent, `country`
        None when unknown, `http_version` never empty. There is no body (logs carry none). A
        replay builds millions of requests, and the checks of `from_log` cost more than this.
        """
        self = cls.__new__(cls)
        self.method = method
        self.uri = uri
        self.query = query
        self.fragment = fragment
        self.headers = headers
        self.body = b""
        self.body_size = 0
        self.client_ip = client_ip
        self.country = country
        self.asn = None
        self.http_version = http_version
        self.scheme = scheme
        self.host = host
        self.ja3 = ja3
        self.ja4 = ja4
        self.timestamp_ms = timestamp_ms
        self.request_id = request_id
        self.body_available = body_available
        self.logged_groups = logged_groups
        return self

    @classmethod
    def from_asgi(
        cls,
        scope: Mapping[str, Any],
        body: bytes = b"",
        body_size: int | None = None,
        *,
        client_ip: str | None = None,
        country: str | None = None,
        asn: int | None = None,
        ja3: str | None = None,
        ja4: str | None = None,
        timestamp_ms: int | None = None,
        request_id: str | None = None,
    ) -> Request:
        """Build from an ASGI HTTP scope and the buffered body (the view an ALB gives AWS WAF).

        The path is `raw_path` as sent (never the decoded `path`; when a server omits
        `raw_path`, `path` is percent-encoded again). An ASGI server gives `query_string` b""
        both for no `?` and for a bare `?`; both become None (no query string). Header names
        arrive lower-cased from ASGI servers, unlike the client's casing that AWS sees.
        `client_ip` overrides `scope["client"]`; without either it is "" (unknown).
        """
        # Only what the scope holds is taken now (immutable values and a snapshot of the header
        # list, which the app may change later); `fill_asgi` decodes it on first use.
        headers = scope.get("headers") or ()
        if type(headers) is not tuple:
            headers = tuple(headers)
        if client_ip is None:
            client = scope.get("client")
            client_ip = client[0] if client else ""
        self = cls.__new__(cls)
        self._pending = (
            fill_asgi,
            scope.get("raw_path"),
            scope.get("path"),
            scope.get("query_string"),
            headers,
            scope["method"],
            scope.get("http_version"),
            scope.get("scheme"),
        )
        self.body = body
        self.body_size = len(body) if body_size is None else body_size
        self.client_ip = client_ip
        self.country = country
        self.asn = asn
        self.ja3 = ja3
        self.ja4 = ja4
        self.timestamp_ms = timestamp_ms
        self.request_id = request_id
        self.body_available = True
        self.logged_groups = None
        return self

    def to_http_request(self) -> dict[str, Any]:
        """The `httpRequest` object of an AWS WAF log record for this request (logging-fields)."""
        return http_request_object(self)


def _new_query_memo(self: Request) -> None:
    self._query_args = {}


# Public parts a lazy view makes on first use (`from_asgi`: all of these; `from_log`: the ones it
# encodes), and the memoized derived parts with what computes them.
_LAZY = frozenset({"method", "uri", "query", "fragment", "headers", "http_version", "scheme", "host"})
_MEMOS: dict[str, Callable[[Request], None]] = {
    "_visible": Request._compute_visible,
    "_headers_oversize": Request._compute_visible,
    "_index": Request._compute_index,
    "_cookies": Request._compute_cookies,
    "_cookies_oversize": Request._compute_cookies,
    "_query_args": _new_query_memo,
}
