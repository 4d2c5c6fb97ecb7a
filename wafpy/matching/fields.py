"""`FieldToMatch` → extractor: which bytes of a `Request` a statement inspects.

The components and their limits: https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-fields-list.html

``extractor(field, pre_parse, limit)`` is built once at compile time. Calling it on a request
gives an `Extracted`:

* ``elements``: the strings to transform and test, each separately (a statement matches when
  any element does). No elements = the component is missing, so the statement does not match
  (waf-rule-statement-fields-list, SizeConstraint included).
* ``forced``: None to inspect the elements, or the statement's fixed result: `OversizeHandling`
  MATCH / NO_MATCH on an oversize component (waf-oversize-request-components), the JA3 / JA4 / UriFragment
  `FallbackBehavior`, JsonBody `InvalidFallbackBehavior` MATCH / NO_MATCH, gRPC bodies.
* ``oversize``: ``REQUEST_BODY``, ``REQUEST_JSON_BODY``, ``REQUEST_HEADERS`` or ``REQUEST_COOKIES``
  when the component was over its limit (log ``oversizeFields``,
  https://docs.aws.amazon.com/waf/latest/developerguide/waf-oversize-request-components.html).
* ``location`` and ``names``: for log match details (``names[i]`` names ``elements[i]``).
* ``evaluable``: False when the request carries no body (log replay) and the field reads it.

Each extractor has a hashable ``key``; equal fields (whatever rule they sit in) have equal keys, so
a per-request memo extracts each (field, pre-parse chain) once.

Every choice AWS leaves open is listed, with its reason, in `UNSPECIFIED_CHOICES` below.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Final

from wafpy import model as ast
from wafpy.errors import NotAvailableError
from wafpy.matching.jsonbody import JsonSelector
from wafpy.request import Request

__all__ = ["DEFAULT_BODY_LIMIT", "LOCATIONS", "UNSPECIFIED_CHOICES", "Extracted", "Extractor", "extractor"]

# ALB: https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html
DEFAULT_BODY_LIMIT: Final = 8192

UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "query parsing": "split on & only; each piece at its first =; a piece without = is a "
    "name with an empty value; empty pieces are skipped; names compare raw after ASCII case-folding; "
    "values raw. The pre-parse chain runs on the raw query string before the split.",
    "query string present but empty": "a target ending in ? gives QueryString element b''. "
    "Logs and ASGI cannot tell it from no ?, and both sources map it to no query string (no match).",
    "SingleHeader repeated": "every value of a repeated header is its own element, in order.",
    "headers beyond the limits": "only the first 200 headers that fit in 8,192 bytes "
    "(name + value + 4 per line) exist for SingleHeader, Headers and HeaderOrder; a header that "
    "crosses the byte limit is dropped whole, not cut.",
    "cookies": "parsed from every Cookie header in order (HTTP/2 sends several); pairs "
    "split on ;, trimmed of spaces and tabs, first = splits, no = means empty value, not decoded. "
    "Cookie data = pairs joined by '; '; only the first 200 whole cookies within 8,192 bytes are "
    "visible. Cookies come from all Cookie headers, not only the visible headers.",
    "Headers/Cookies MatchScope ALL": "each name and each value is its own element, name first.",
    "oversize reporting": "the oversize flag is reported whenever an evaluated statement "
    "met the oversize component, including when OversizeHandling MATCH / NO_MATCH fixed the result.",
    "empty body": "an absent body is present with length 0: Body yields b'' (SizeConstraint "
    "Body EQ 0 matches a GET).",
    "empty body and JsonBody": "no document, no elements, no fallback: an empty body is not invalid "
    "JSON, else InvalidFallbackBehavior MATCH would match every GET.",
    "gRPC": "content-type application/grpc* (any case): Body and JsonBody statements do not "
    "match, whatever the statement (forced False).",
    "Content-Encoding": "not decoded.",
    "JSON": "see wafpy.matching.jsonbody: unescaped strings, numbers as literal text, "
    "true/false/null as words, / is the root, depth 64 / 10,000 items.",
    "JSON oversize + CONTINUE": "the truncated body is parsed and the truncation counts as a "
    "parse failure even if the prefix happens to parse: InvalidFallbackBehavior applies (absent: the "
    "elements parsed).",
    "HeaderOrder": "names as received (lower case under ASGI/HTTP/2), one entry per header "
    "line (duplicates repeat), visible headers only; no headers at all = missing component.",
    "JA3/JA4": "an empty fingerprint string counts as absent (FallbackBehavior).",
    "UriFragment": "no # in the target → FallbackBehavior (default NO_MATCH); '#' with "
    "nothing after it is an empty element (from logs, '' means no fragment).",
    "log locations": "URI for UriPath/UriFragment; QUERY_STRING for QueryString and query "
    "arguments; HEADER for SingleHeader, Headers, Cookies, HeaderOrder; BODY for Body; UNKNOWN for "
    "JsonBody (documented), Method, JA3 and JA4.",
}

LOCATIONS: Final[Mapping[type, str]] = {
    ast.UriPath: "URI",
    ast.QueryString: "QUERY_STRING",
    ast.Method: "UNKNOWN",
    ast.AllQueryArguments: "QUERY_STRING",
    ast.SingleQueryArgument: "QUERY_STRING",
    ast.SingleHeader: "HEADER",
    ast.Headers: "HEADER",
    ast.Cookies: "HEADER",
    ast.HeaderOrder: "HEADER",
    ast.Body: "BODY",
    ast.JsonBody: "UNKNOWN",
    ast.JA3Fingerprint: "UNKNOWN",
    ast.JA4Fingerprint: "UNKNOWN",
    ast.UriFragment: "URI",
}

PreParse = Sequence[str] | Callable[[bytes], bytes] | None


class Extracted:
    """What one field yields for one request (see the module docstring)."""

    __slots__ = ("elements", "evaluable", "forced", "location", "names", "oversize")

    def __init__(
        self,
        elements: list[bytes],
        forced: bool | None = None,
        oversize: str | None = None,
        location: str = "UNKNOWN",
        names: list[bytes] | None = None,
        evaluable: bool = True,
    ) -> None:
        self.elements = elements
        self.forced = forced
        self.oversize = oversize
        self.location = location
        self.names = names
        self.evaluable = evaluable

    def __repr__(self) -> str:
        return (
            f"Extracted(elements={self.elements!r}, forced={self.forced!r}, oversize={self.oversize!r}, "
            f"location={self.location!r}, names={self.names!r}, evaluable={self.evaluable!r})"
        )


class Extractor:
    """``extractor(request) -> Extracted``; equal `key` means equal results for any request."""

    __slots__ = ("fn", "key", "location")

    def __init__(self, key: Hashable, location: str, fn: Callable[[Request], Extracted]) -> None:
        self.key = key
        self.location = location
        self.fn = fn  # called directly by the engine's hot path; __call__ is the convenient spelling

    def __call__(self, request: Request) -> Extracted:
        return self.fn(request)

    def __repr__(self) -> str:
        return f"Extractor({self.key!r})"


def extractor(
    field: ast.FieldToMatch, pre_parse: PreParse = None, limit: int = DEFAULT_BODY_LIMIT
) -> Extractor:
    """Compile a FieldToMatch into an `Extractor`.

    `pre_parse` is the statement's PreParseTextTransformations, as type names in priority order
    (resolved through `wafpy.matching.transforms.PRE_PARSE`) or as one callable; it only affects
    SingleQueryArgument and AllQueryArguments. `limit` is the body inspection limit in bytes.
    """
    location = LOCATIONS.get(type(field))
    if location is None:
        raise NotAvailableError(f"FieldToMatch {type(field).__name__} is not supported")
    fn: Callable[[Request], Extracted]
    pre_key: Hashable = None
    if isinstance(field, ast.UriPath):
        fn = _uri_path
    elif isinstance(field, ast.QueryString):
        fn = _query_string
    elif isinstance(field, ast.Method):
        fn = _method
    elif isinstance(field, (ast.SingleQueryArgument, ast.AllQueryArguments)):
        pre_fn, pre_key = _resolve_pre_parse(pre_parse)
        fn = _query_args(field, pre_fn, pre_key)
    elif isinstance(field, ast.SingleHeader):
        fn = _single_header(field.name.lower().encode("utf-8"))
    elif isinstance(field, ast.Headers):
        fn = _headers(field)
    elif isinstance(field, ast.Cookies):
        fn = _cookies(field)
    elif isinstance(field, ast.HeaderOrder):
        fn = _header_order(field.oversize_handling)
    elif isinstance(field, ast.Body):
        fn = _body(field.oversize_handling, limit)
    elif isinstance(field, ast.JsonBody):
        fn = _json_body(field, limit)
    elif isinstance(field, ast.JA3Fingerprint):
        fn = _fingerprint("ja3", field.fallback_behavior == "MATCH")
    elif isinstance(field, ast.JA4Fingerprint):
        fn = _fingerprint("ja4", field.fallback_behavior == "MATCH")
    else:
        fn = _uri_fragment(field.fallback_behavior == "MATCH")
    # Nodes compare without their source span, so the same field in two rules shares a key.
    needs_limit = isinstance(field, (ast.Body, ast.JsonBody))
    return Extractor((field, pre_key, limit if needs_limit else None), location, fn)


def _resolve_pre_parse(pre_parse: PreParse) -> tuple[Callable[[bytes], bytes] | None, Hashable]:
    """The pre-parse callable and the memo key that identifies it on `Request.query_args`."""
    if pre_parse is None:
        return None, None
    if callable(pre_parse):
        return pre_parse, pre_parse
    types = tuple(t for t in pre_parse if t != "NONE")
    if not types:
        return None, None
    # Imported here: transforms is a separate module and only these two fields need it.
    from wafpy.matching.transforms import PRE_PARSE, chain

    return chain(types, table=PRE_PARSE), ("PRE_PARSE", *types)


# ------------------------------------------------------------------------------------------------
# Simple components


def _uri_path(r: Request) -> Extracted:
    return Extracted([r.uri], location="URI")


def _query_string(r: Request) -> Extracted:
    q = r.query
    return Extracted([] if q is None else [q], location="QUERY_STRING")


def _method(r: Request) -> Extracted:
    return Extracted([r.method], location="UNKNOWN")


def _query_args(
    field: ast.SingleQueryArgument | ast.AllQueryArguments,
    pre_fn: Callable[[bytes], bytes] | None,
    pre_key: Hashable,
) -> Callable[[Request], Extracted]:
    if isinstance(field, ast.AllQueryArguments):

        def all_args(r: Request) -> Extracted:
            args = r.query_args(pre_fn, pre_key)
            return Extracted([v for _, v in args], location="QUERY_STRING", names=[n for n, _ in args])

        return all_args

    wanted = field.name.lower().encode("utf-8")

    def single_arg(r: Request) -> Extracted:
        values = []
        names = []
        for name, value in r.query_args(pre_fn, pre_key):
            if name.lower() == wanted:
                values.append(value)
                names.append(name)
        return Extracted(values, location="QUERY_STRING", names=names)

    return single_arg


def _single_header(wanted: bytes) -> Callable[[Request], Extracted]:
    def single_header(r: Request) -> Extracted:
        values = r.header_values(wanted)
        return Extracted(list(values), location="HEADER", names=[wanted] * len(values))

    return single_header


def _fingerprint(attr: str, fallback: bool) -> Callable[[Request], Extracted]:
    def fingerprint(r: Request) -> Extracted:
        value: str | None = getattr(r, attr)
        if not value:
            return Extracted([], forced=fallback, location="UNKNOWN")
        return Extracted([value.encode("utf-8")], location="UNKNOWN")

    return fingerprint


def _uri_fragment(fallback: bool) -> Callable[[Request], Extracted]:
    def uri_fragment(r: Request) -> Extracted:
        if r.fragment is None:
            return Extracted([], forced=fallback, location="URI")
        return Extracted([r.fragment], location="URI")

    return uri_fragment


# ------------------------------------------------------------------------------------------------
# Headers, cookies, header order


def _oversize_result(handling: str, flag: str, location: str) -> Extracted | None:
    """The fixed result of OversizeHandling MATCH / NO_MATCH, or None for CONTINUE.

    See waf-oversize-request-components.
    """
    if handling == "MATCH":
        return Extracted([], forced=True, oversize=flag, location=location)
    if handling == "NO_MATCH":
        return Extracted([], forced=False, oversize=flag, location=location)
    return None


def _name_filter(pattern: ast.NameMatchPattern, fold: bool) -> Callable[[bytes], bool] | None:
    """Predicate on a (case-folded when `fold`) name, or None for `All`."""
    if pattern.included:
        included = frozenset(_name(n, fold) for n in pattern.included)
        return included.__contains__
    if pattern.excluded:
        excluded = frozenset(_name(n, fold) for n in pattern.excluded)
        return lambda name: name not in excluded
    return None


def _name(name: str, fold: bool) -> bytes:
    raw = name.encode("utf-8")
    return raw.lower() if fold else raw


def _pairs_to_elements(
    pairs: Sequence[tuple[bytes, bytes]],
    keep: Callable[[bytes], bool] | None,
    fold: bool,
    keys: bool,
    values: bool,
) -> tuple[list[bytes], list[bytes]]:
    if keep is None and keys != values:
        # All headers or cookies, one scope: the common case, built without per-item appends.
        return [n if keys else v for n, v in pairs], [n for n, _ in pairs]
    elements: list[bytes] = []
    names: list[bytes] = []
    for name, value in pairs:
        if keep is not None and not keep(name.lower() if fold else name):
            continue
        if keys:
            elements.append(name)
            names.append(name)
        if values:
            elements.append(value)
            names.append(name)
    return elements, names


def _named_pairs(
    field: ast.Headers | ast.Cookies,
    *,
    fold: bool,
    pairs: Callable[[Request], Sequence[tuple[bytes, bytes]]],
    oversize: Callable[[Request], bool],
    flag: str,
) -> Callable[[Request], Extracted]:
    """Headers and Cookies: name/value pairs filtered by MatchPattern, scoped by MatchScope."""
    keep = _name_filter(field.match_pattern, fold=fold)
    keys = field.match_scope != "VALUE"
    values = field.match_scope != "KEY"
    handling = field.oversize_handling

    def extract(r: Request) -> Extracted:
        reported = None
        if oversize(r):
            fixed = _oversize_result(handling, flag, "HEADER")
            if fixed is not None:
                return fixed
            reported = flag
        elements, names = _pairs_to_elements(pairs(r), keep, fold, keys, values)
        return Extracted(elements, oversize=reported, location="HEADER", names=names)

    return extract


def _headers(field: ast.Headers) -> Callable[[Request], Extracted]:
    # Header names compare case-insensitively (waf-rule-statement-fields-list).
    return _named_pairs(
        field,
        fold=True,
        pairs=operator.attrgetter("visible_headers"),
        oversize=operator.attrgetter("headers_oversize"),
        flag="REQUEST_HEADERS",
    )


def _cookies(field: ast.Cookies) -> Callable[[Request], Extracted]:
    # Cookie names compare case-sensitively and exactly (waf-rule-statement-fields-list).
    return _named_pairs(
        field,
        fold=False,
        pairs=operator.attrgetter("cookies"),
        oversize=operator.attrgetter("cookies_oversize"),
        flag="REQUEST_COOKIES",
    )


def _header_order(handling: str) -> Callable[[Request], Extracted]:
    def header_order(r: Request) -> Extracted:
        flag = None
        if r.headers_oversize:
            fixed = _oversize_result(handling, "REQUEST_HEADERS", "HEADER")
            if fixed is not None:
                return fixed
            flag = "REQUEST_HEADERS"
        visible = r.visible_headers
        if not visible:
            return Extracted([], oversize=flag, location="HEADER")
        return Extracted([b":".join([n for n, _ in visible])], oversize=flag, location="HEADER")

    return header_order


# ------------------------------------------------------------------------------------------------
# Body and JSON body


def _is_grpc(r: Request) -> bool:
    return any(v.lstrip().lower().startswith(b"application/grpc") for v in r.header_values(b"content-type"))


def _body(handling: str, limit: int) -> Callable[[Request], Extracted]:
    def body(r: Request) -> Extracted:
        if not r.body_available:
            return Extracted([], location="BODY", evaluable=False)
        if _is_grpc(r):
            return Extracted([], forced=False, location="BODY")
        flag = None
        if max(r.body_size, len(r.body)) > limit:
            fixed = _oversize_result(handling, "REQUEST_BODY", "BODY")
            if fixed is not None:
                return fixed
            flag = "REQUEST_BODY"
        return Extracted([r.body[:limit]], oversize=flag, location="BODY")

    return body


def _json_body(field: ast.JsonBody, limit: int) -> Callable[[Request], Extracted]:
    pattern = field.match_pattern
    selector = JsonSelector(None if pattern.all else pattern.included_paths, field.match_scope)
    handling = field.oversize_handling
    fallback = field.invalid_fallback_behavior

    def json_body(r: Request) -> Extracted:
        if not r.body_available:
            return Extracted([], location="UNKNOWN", evaluable=False)
        if _is_grpc(r):
            return Extracted([], forced=False, location="UNKNOWN")
        size = max(r.body_size, len(r.body))
        flag = None
        if size > limit:
            fixed = _oversize_result(handling, "REQUEST_JSON_BODY", "UNKNOWN")
            if fixed is not None:
                return fixed
            flag = "REQUEST_JSON_BODY"
        if size == 0:
            return Extracted([], location="UNKNOWN")
        data = r.body[:limit]
        parsed = selector(data)
        if not parsed.failed and flag is None:
            return Extracted(parsed.elements, location="UNKNOWN")
        if fallback == "MATCH":
            return Extracted([], forced=True, oversize=flag, location="UNKNOWN")
        if fallback == "NO_MATCH":
            return Extracted([], forced=False, oversize=flag, location="UNKNOWN")
        if fallback == "EVALUATE_AS_STRING":
            return Extracted([data], oversize=flag, location="UNKNOWN")
        return Extracted(parsed.elements, oversize=flag, location="UNKNOWN")

    return json_body
