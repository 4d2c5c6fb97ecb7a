"""The fast path from an ALB access-log line to a `Request` (for replays); see `wafpy.logs.decode`.

`wafpy.logs.alblog.alb_fields` has already split the line into strings; this builds the `Request`
from them with no further checks, and the `httpRequest` to write back from the same strings.
"""

from __future__ import annotations

from typing import Any

from wafpy.logs.decode import Decoded, http_request_out
from wafpy.logs.records import LoggedOutcome
from wafpy.request import Request

__all__ = ["decode_alb"]


def decode_alb(
    http: dict[str, Any], timestamp: int | None, available: frozenset[str], logged: LoggedOutcome | None
) -> Decoded:
    """The parts of an ALB line (`wafpy.logs.alblog.alb_fields`, all strings) -> Decoded."""
    headers: list[dict[str, str]] = http["headers"]
    fragment: str | None = http.get("fragment")
    scheme: str | None = http.get("scheme")
    host: str | None = http.get("host")
    request_id: str | None = http.get("requestId")
    client_ip: str = http["clientIp"]
    uri: str = http["uri"]
    args: str = http["args"]
    method: str = http["httpMethod"]
    version: str = http["httpVersion"] or "HTTP/1.1"
    country: str = http["country"]
    request = Request.from_log_parts(
        method.encode(),
        uri.encode(),
        args.encode() if args else None,
        fragment.encode() if fragment else None,
        tuple([(h["name"].encode(), h["value"].encode()) for h in headers]),
        client_ip,
        None if country == "" or country == "-" else country,
        version,
        scheme,
        host,
        None,
        None,
        timestamp,
        request_id,
        False,
    )
    # `alb_fields` writes its keys in the order of `to_http_request`, with the same values
    # except an empty fragment, which `to_http_request` leaves out.
    out = (
        http
        if fragment != ""
        else http_request_out(
            client_ip, country, headers, uri, args, version, method, request_id, fragment, scheme, host
        )
    )
    return request, available, logged, out, "ALB", "-", method, uri, client_ip
