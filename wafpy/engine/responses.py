"""The HTTP responses a decision sends instead of forwarding the request.

Custom responses: https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-response-for-blocked-requests.html
"""

from __future__ import annotations

from collections.abc import Mapping

from wafpy import model as ast

CONTENT_TYPES = {
    "TEXT_PLAIN": "text/plain",
    "TEXT_HTML": "text/html",
    "APPLICATION_JSON": "application/json",
}

# What an ALB sends for a WAF block without a custom response (a 403, https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-action.html;
# the body is wafpy's choice).
DEFAULT_BLOCK_BODY = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    b"<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n"
)

CAPTCHA_PAGE = (
    b"<!DOCTYPE html><html><head><title>Human verification</title></head><body>"
    b"<h1>Please confirm you are human</h1>"
    b"<p>This request needs a solved CAPTCHA (an <code>aws-waf-token</code> cookie) to continue.</p>"
    b"</body></html>"
)

CHALLENGE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Checking your browser</title></head><body>"
    b"<h1>Checking your browser</h1>"
    b"<p>This request needs a challenge token (an <code>aws-waf-token</code> cookie) to continue.</p>"
    b"</body></html>"
)

Response = tuple[int, tuple[tuple[str, str], ...], bytes]


def block_response(action: ast.Action, bodies: Mapping[str, ast.CustomResponseBody]) -> tuple[Response, bool]:
    """(status, headers, body) of a Block, and whether it was a custom response."""
    custom = action.custom_response
    if custom is None:
        return (403, (("content-type", "text/html"),), DEFAULT_BLOCK_BODY), False
    headers = [(h.name, h.value) for h in custom.response_headers]
    body = b""
    if custom.custom_response_body_key is not None:
        found = bodies.get(custom.custom_response_body_key)
        if found is not None:
            headers.insert(0, ("content-type", CONTENT_TYPES[found.content_type]))
            body = found.content.encode("utf-8")
    return (custom.response_code, tuple(headers), body), True


def _accepts_html(accept: list[bytes]) -> bool:
    return any(b"text/html" in value.lower() for value in accept)


def captcha_response(accept: list[bytes]) -> Response:
    html = _accepts_html(accept)
    headers: tuple[tuple[str, str], ...] = (("x-amzn-waf-action", "captcha"),)
    if html:
        headers += (("content-type", "text/html"), ("cache-control", "no-store"))
    return 405, headers, CAPTCHA_PAGE if html else b""


def challenge_response(accept: list[bytes]) -> Response:
    html = _accepts_html(accept)
    headers: tuple[tuple[str, str], ...] = (("x-amzn-waf-action", "challenge"),)
    if html:
        headers += (("content-type", "text/html"), ("cache-control", "no-store"))
    return 202, headers, CHALLENGE_PAGE if html else b""
