"""No length of benign text before an attack hides it, in any field AWS inspects whole.

AWS WAF limits what it inspects of the body, JSON body, headers and cookies (the web ACL's body
inspection limit, 8 KB of headers and of cookies); the URI path, the query string and the query
arguments have no such limit. Each attack family a web ACL can express (SQL injection at both
sensitivities, XSS, a byte match and a regex match, as in rulesets/demo-webacl.json) is put after
8, 16 and 64 KiB of padding in each of those fields, and must still be blocked by a one-rule web
ACL; in the body and the JSON body, only as far as the inspection limit reaches.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

import wafpy
from tests.builders import rule, web_acl

PADDINGS = {
    "letters": b"a",
    "prose": b"Great shirt, and the delivery was quick: would buy again. ",
    # benign on its own, and dense with places where a SQL injection could start
    "quote breaks": b"x'-y ",
}
SIZES = [8 * 1024, 16 * 1024, 64 * 1024]
BODY_LIMIT = 64 * 1024  # AssociationConfig KB_64 below

# family -> (statement without FieldToMatch / TextTransformations, attack)
FAMILIES: dict[str, tuple[dict[str, Any], bytes]] = {
    "sqli-low": ({"SqliMatchStatement": {"SensitivityLevel": "LOW"}}, b" 1' OR '1'='1"),
    "sqli-high": (
        {"SqliMatchStatement": {"SensitivityLevel": "HIGH"}},
        b" 1 UNION SELECT password FROM users--",
    ),
    "xss": ({"XssMatchStatement": {}}, b" <script>alert(1)</script>"),
    "byte-match": (
        {"ByteMatchStatement": {"SearchString": "../", "PositionalConstraint": "CONTAINS"}},
        b"/../../etc/passwd",
    ),
    "regex-match": ({"RegexMatchStatement": {"RegexString": r"(?i)etc/(passwd|shadow)"}}, b" /etc/shadow"),
}
FIELDS = {
    "UriPath": {"UriPath": {}},
    "QueryString": {"QueryString": {}},
    "SingleQueryArgument": {"SingleQueryArgument": {"Name": "q"}},
    "AllQueryArguments": {"AllQueryArguments": {}},
    "Body": {"Body": {"OversizeHandling": "CONTINUE"}},
    "JsonBody": {
        "JsonBody": {
            "MatchPattern": {"All": {}},
            "MatchScope": "VALUE",
            "InvalidFallbackBehavior": "EVALUATE_AS_STRING",
            "OversizeHandling": "CONTINUE",
        }
    },
}


_ID = "00000000-0000-4000-8000-000000000000"


def _acl(family: str, field: str) -> wafpy.WebACL:
    ((name, statement),) = FAMILIES[family][0].items()
    rule_statement = {
        name: {
            **statement,
            "FieldToMatch": FIELDS[field],
            "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}],
        }
    }
    document = web_acl(
        [rule(f"{family}-{field}", 0, rule_statement, metric="m", sampled=False)],
        name="long-values",
        id=_ID,
        arn="arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/long-values/" + _ID,
        metric="m",
        sampled=False,
        AssociationConfig={
            "RequestBody": {"APPLICATION_LOAD_BALANCER": {"DefaultSizeInspectionLimit": "KB_64"}}
        },
    )
    return wafpy.load_web_acl(document, search_string="text")


def _request(field: str, value: bytes) -> wafpy.Request:
    encoded = quote(value, safe="")
    headers = [("host", "shop.example.com"), ("user-agent", "Mozilla/5.0")]
    if field == "UriPath":
        return wafpy.Request(uri="/search/" + encoded, headers=headers)
    if field in ("QueryString", "SingleQueryArgument", "AllQueryArguments"):
        return wafpy.Request(uri="/search", query="page=2&q=" + encoded, headers=headers)
    if field == "Body":
        body = b"page=2&q=" + encoded.encode()
        form = [*headers, ("content-type", "application/x-www-form-urlencoded")]
        return wafpy.Request(method="POST", uri="/search", headers=form, body=body)
    body = json.dumps({"page": 2, "q": value.decode("latin-1")}).encode()
    return wafpy.Request(
        method="POST", uri="/search", headers=[*headers, ("content-type", "application/json")], body=body
    )


ACLS = {(family, field): _acl(family, field) for family in FAMILIES for field in FIELDS}


@pytest.mark.slow
@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_attack_without_padding_is_blocked_and_padding_alone_is_allowed(family: str, field: str) -> None:
    acl = ACLS[(family, field)]
    assert acl.evaluate(_request(field, FAMILIES[family][1])).action == "BLOCK"
    for unit in PADDINGS.values():
        assert acl.evaluate(_request(field, (unit * (16 * 1024 // len(unit)))[: 16 * 1024])).action == "ALLOW"


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("padding", list(PADDINGS))
@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_attack_after_long_padding_is_blocked(family: str, field: str, padding: str, size: int) -> None:
    unit = PADDINGS[padding]
    value = (unit * (size // len(unit) + 1))[:size] + FAMILIES[family][1]
    request = _request(field, value)
    if field in ("Body", "JsonBody") and len(request.body) > BODY_LIMIT:
        # Beyond the inspection limit AWS does not see the attack either (CONTINUE inspects the
        # first 64 KB): allowed. This is the only limit, and it is AWS's.
        assert ACLS[(family, field)].evaluate(request).action == "ALLOW"
    else:
        assert ACLS[(family, field)].evaluate(request).action == "BLOCK"


def test_demo_web_acl_blocks_sqli_after_padding_in_the_query() -> None:
    """The demo web ACL allowed ``?q=`` + 8,200 ``a`` + ``1' OR '1'='1``; without padding it blocks."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    acl = wafpy.load_web_acl(
        root / "rulesets" / "demo-webacl.json",
        resources=sorted(str(p) for p in (root / "rulesets" / "demo-resources").glob("*.json")),
    )
    headers = [("host", "shop.example.com"), ("user-agent", "Mozilla/5.0"), ("accept-language", "en")]
    for query in ("q=1'%20OR%20'1'='1", "q=" + "a" * 8200 + "1'%20OR%20'1'='1"):
        decision = acl.evaluate(
            wafpy.Request(uri="/search", query=query, headers=headers, client_ip="203.0.113.9")
        )
        assert (decision.action, decision.terminating_rule_id) == ("BLOCK", "block-sqli-query"), query[-20:]
