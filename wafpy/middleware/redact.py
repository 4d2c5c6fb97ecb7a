"""AWS's `RedactedFields` applied to a log record: every place a redacted value can appear.

AWS lets a logging configuration redact four fields: `UriPath`, `QueryString`, `SingleHeader
{Name}` and `Method` (WAFv2 API Reference, `LoggingConfiguration.RedactedFields`). The value is
replaced by the literal `REDACTED`.

AWS documents that a redaction applies only to rules that use that same `FieldToMatch` (a
`SingleHeader` redaction does not cover a rule inspecting `Headers`). wafpy goes further and
removes the value from every place of its record where it can appear, since a log written
locally has no reason to keep what its owner asked to hide (`UNSPECIFIED_CHOICES` below):

* `httpRequest`: `uri`, `args`, `httpMethod`, the values of redacted headers, `host` when the
  `Host` header is redacted, `requestId` when `X-Amzn-Trace-Id` is.
* match details (`terminatingRuleMatchDetails` and every `ruleMatchDetails`, at the top level and
  in each `ruleGroupList` entry's `terminatingRule` and `nonTerminatingMatchingRules`), chosen by
  the detail's `location`, since the log does not say which `FieldToMatch` produced it:
  `URI` (UriPath, UriFragment) when the URI path is redacted; `QUERY_STRING` (the query string and
  its arguments, names included) when the query string is; `HEADER` when its `matchedFieldName` is a
  redacted header, or names a cookie while `Cookie` is redacted, or has no name (`HeaderOrder`)
  while any header is; `UNKNOWN` (Method, and also JsonBody, JA3, JA4) when the method is.
* rate-based entries: `customValues` whose key reads a redacted field (`HEADER` by name, `COOKIE`,
  `QUERY_ARG`, `QUERY_STRING`, `URI_PATH`, `HTTP_METHOD`), and a `FORWARDED_IP` `limitValue` or
  custom value found in a redacted header.

Labels never carry a request value (they are the ACL's own names, or AWS's fixed ones such as
geo labels), so they are left as they are.

The record is changed in place, but nested objects are replaced rather than edited: a record
shares its rule-group and match entries with the `Decision` it came from, which the app may hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

Record = dict[str, Any]

REDACTED = "REDACTED"

UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "RedactedFields scope": (
        "a redacted value is removed from every place of the record where it can appear (httpRequest,"
        " match details at every level, rate-based key values), not only from details of rules using"
        " the same FieldToMatch as AWS documents"
    ),
    "RedactedFields and match locations": (
        "match details are chosen by location: URI (UriPath and UriFragment) for UriPath, QUERY_STRING"
        " (names and values) for QueryString, HEADER by matchedFieldName for SingleHeader (any cookie"
        " name for Cookie, any nameless HEADER detail for any header), UNKNOWN (Method, JsonBody, JA3,"
        " JA4) for Method"
    ),
}

# Rate-based custom key tokens -> the redacted field they read.
_URI_KEYS = frozenset({"URI_PATH"})
_QUERY_KEYS = frozenset({"QUERY_ARG", "QUERY_STRING"})
_METHOD_KEYS = frozenset({"HTTP_METHOD"})
_DETAIL_KEYS = ("terminatingRuleMatchDetails", "ruleMatchDetails")
_TRACE_HEADER = "x-amzn-trace-id"


def _cookie_names(values: Iterable[str]) -> set[str]:
    names = set()
    for value in values:
        for piece in value.split(";"):
            name = piece.split("=", 1)[0].strip(" \t")
            if name:
                names.add(name.lower())
    return names


class _Request:
    """What the redactor needs to know about the request behind one record."""

    __slots__ = ("cookie_names", "header_names", "header_values")

    def __init__(self, header_names: set[str], header_values: list[str], cookie_names: set[str]) -> None:
        self.header_names = header_names  # every header name of the request, lower-cased
        self.header_values = header_values  # the raw values of the redacted headers, lower-cased
        self.cookie_names = cookie_names  # cookie names, when the Cookie header is redacted


class Redactor:
    """AWS's `RedactedFields` applied to a log record (see the module docstring)."""

    def __init__(self, fields: Iterable[Mapping[str, Any]]) -> None:
        self.uri = self.query = self.method = False
        self.headers: set[str] = set()
        for i, field in enumerate(fields):
            if "UriPath" in field:
                self.uri = True
            elif "QueryString" in field:
                self.query = True
            elif "Method" in field:
                self.method = True
            elif "SingleHeader" in field:
                self.headers.add(field["SingleHeader"]["Name"].lower())
            else:
                raise ValueError(
                    f"RedactedFields[{i}]: only UriPath, QueryString, SingleHeader and Method can be redacted"
                )
        self.cookie = "cookie" in self.headers

    # ------------------------------------------------------------------------------------------
    # httpRequest

    def _http(self, http: Mapping[str, Any]) -> tuple[dict[str, Any], _Request]:
        out = dict(http)
        if self.uri and "uri" in out:
            out["uri"] = REDACTED
        if self.query and "args" in out:
            out["args"] = REDACTED
        if self.method and "httpMethod" in out:
            out["httpMethod"] = REDACTED
        names: set[str] = set()
        hidden: list[str] = []
        cookies: list[str] = []
        headers = out.get("headers")
        if isinstance(headers, list):
            new_headers = []
            for header in headers:
                name = str(header.get("name", "")).lower()
                names.add(name)
                if name in self.headers:
                    value = str(header.get("value", ""))
                    hidden.append(value.lower())
                    if name == "cookie":
                        cookies.append(value)
                    header = {**header, "value": REDACTED}
                new_headers.append(header)
            out["headers"] = new_headers
        if "host" in self.headers and "host" in out:
            out["host"] = REDACTED
        if _TRACE_HEADER in self.headers and "requestId" in out:
            out["requestId"] = REDACTED
        return out, _Request(names, hidden, _cookie_names(cookies))

    # ------------------------------------------------------------------------------------------
    # Match details

    def _hides_detail(self, detail: Mapping[str, Any], request: _Request) -> bool:
        location = detail.get("location")
        if location == "URI":
            return self.uri
        if location == "QUERY_STRING":
            return self.query
        if location == "HEADER":
            if not self.headers:
                return False
            name = str(detail.get("matchedFieldName") or "").lower()
            if not name or name in self.headers:
                return True
            # Cookies report the cookie's name: hide it when the Cookie header is redacted, and
            # when the name is no header of the request (then it can only be a cookie's).
            return self.cookie and (name in request.cookie_names or name not in request.header_names)
        if location == "UNKNOWN":
            return self.method
        return False

    def _detail(self, detail: Any, request: _Request) -> Any:
        if not isinstance(detail, Mapping) or not self._hides_detail(detail, request):
            return detail
        out = dict(detail)
        out["matchedData"] = [REDACTED]
        name = out.get("matchedFieldName")
        if name and (
            detail.get("location") == "QUERY_STRING"
            or (detail.get("location") == "HEADER" and str(name).lower() not in request.header_names)
        ):
            # A query argument's name is part of the query string, a cookie's part of the Cookie header.
            out["matchedFieldName"] = REDACTED
        return out

    # ------------------------------------------------------------------------------------------
    # Rate-based key values

    def _in_hidden_header(self, value: Any, request: _Request) -> bool:
        text = str(value).lower()
        return bool(text) and any(text in hidden for hidden in request.header_values)

    def _hides_custom(self, item: Mapping[str, Any], request: _Request) -> bool:
        key = item.get("key")
        if key == "HEADER":
            return str(item.get("name") or "").lower() in self.headers
        if key == "COOKIE":
            return self.cookie
        if key in _QUERY_KEYS:
            return self.query
        if key in _URI_KEYS:
            return self.uri
        if key in _METHOD_KEYS:
            return self.method
        if key == "FORWARDED_IP":
            return self._in_hidden_header(item.get("value"), request)
        return False

    def _custom_values(self, values: Any, request: _Request) -> Any:
        if not isinstance(values, list):
            return values
        new = [
            {**item, "value": REDACTED}
            if isinstance(item, Mapping) and self._hides_custom(item, request)
            else item
            for item in values
        ]
        return new if any(a is not b for a, b in zip(new, values, strict=True)) else values

    # ------------------------------------------------------------------------------------------
    # The whole record

    def _walk(self, value: Any, request: _Request) -> Any:
        """`value` with every match detail and rate-based value redacted; a new object if changed."""
        if isinstance(value, list):
            items = [self._walk(item, request) for item in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if isinstance(value, Mapping):
            changes = self._changes(value, request)
            return {**value, **changes} if changes else value
        return value

    def _changes(self, value: Mapping[str, Any], request: _Request) -> dict[str, Any]:
        """The entries of `value` that redaction replaces (httpRequest is handled apart)."""
        changes: dict[str, Any] = {}
        for key, item in value.items():
            new: Any = item
            if key in _DETAIL_KEYS and isinstance(item, list):
                details = [self._detail(detail, request) for detail in item]
                if any(a is not b for a, b in zip(details, item, strict=True)):
                    new = details
            elif key == "customValues":
                new = self._custom_values(item, request)
            elif key == "limitValue":
                if value.get("limitKey") == "FORWARDED_IP" and self._in_hidden_header(item, request):
                    new = REDACTED
            elif key != "httpRequest" and isinstance(item, (list, Mapping)):
                new = self._walk(item, request)
            if new is not item:
                changes[key] = new
        return changes

    def __call__(self, record: Record) -> None:
        http = record.get("httpRequest")
        if isinstance(http, Mapping):
            record["httpRequest"], request = self._http(http)
        else:
            request = _Request(set(), [], set())
        record.update(self._changes(record, request))
