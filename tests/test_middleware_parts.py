"""The middleware's parts on their own: LoggingFilter, RedactedFields, tokens, trace ids, body replay."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.test_asgi_support import byte_rule, web_acl
from wafpy import Request, load_web_acl
from wafpy.decision import Decision
from wafpy.middleware.body import ReplayReceive, read_body
from wafpy.middleware.logsink import LoggingFilter, Redactor
from wafpy.middleware.tokens import HmacTokenValidator, domain_accepted, issue_token, read_token
from wafpy.middleware.trace import new_trace_id, request_id_of

ACL = load_web_acl(
    web_acl(
        [
            byte_rule(
                "tag-curl",
                1,
                {"SingleHeader": {"Name": "user-agent"}},
                "curl",
                "STARTS_WITH",
                action="Count",
                RuleLabels=[{"Name": "client:curl"}],
            ),
            byte_rule("block-admin", 2, {"UriPath": {}}, "/admin", "STARTS_WITH"),
        ]
    )
)
CURL_LABEL = "awswaf:111122223333:webacl:test-acl:client:curl"


def decide(uri: str = "/", agent: str = "Mozilla/5.0", query: str | None = None) -> Decision:
    return ACL.evaluate(
        Request(uri=uri, query=query, headers=[("Host", "a.example.com"), ("User-Agent", agent)])
    )


def keep_filter(*filters: dict[str, Any], default: str = "DROP") -> LoggingFilter:
    return LoggingFilter({"DefaultBehavior": default, "Filters": list(filters)})


def test_logging_filter_action_conditions() -> None:
    keep_blocks = keep_filter(
        {
            "Behavior": "KEEP",
            "Requirement": "MEETS_ANY",
            "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
        }
    )
    assert keep_blocks.keep(decide("/admin"))
    assert not keep_blocks.keep(decide("/"))
    keep_counts = keep_filter(
        {
            "Behavior": "KEEP",
            "Requirement": "MEETS_ANY",
            "Conditions": [{"ActionCondition": {"Action": "COUNT"}}],
        }
    )
    assert keep_counts.keep(decide("/", agent="curl/8"))  # a Count rule matched; the request was allowed
    assert not keep_counts.keep(decide("/"))


def test_logging_filter_requirements_and_order() -> None:
    both = [{"ActionCondition": {"Action": "BLOCK"}}, {"LabelNameCondition": {"LabelName": CURL_LABEL}}]
    meets_all = keep_filter({"Behavior": "KEEP", "Requirement": "MEETS_ALL", "Conditions": both})
    meets_any = keep_filter({"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": both})
    assert meets_all.keep(decide("/admin", agent="curl/8"))
    assert not meets_all.keep(decide("/admin"))
    assert meets_any.keep(decide("/admin")) and meets_any.keep(decide("/", agent="curl/8"))
    # The first filter met decides; later ones are not consulted.
    ordered = keep_filter(
        {
            "Behavior": "DROP",
            "Requirement": "MEETS_ANY",
            "Conditions": [{"LabelNameCondition": {"LabelName": CURL_LABEL}}],
        },
        {
            "Behavior": "KEEP",
            "Requirement": "MEETS_ANY",
            "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
        },
        default="KEEP",
    )
    assert not ordered.keep(decide("/admin", agent="curl/8"))
    assert ordered.keep(decide("/admin"))
    assert ordered.keep(decide("/"))  # no filter met: DefaultBehavior


def test_logging_filter_rejects_bad_specs() -> None:
    with pytest.raises(ValueError, match="DefaultBehavior"):
        LoggingFilter({"DefaultBehavior": "MAYBE"})
    with pytest.raises(ValueError, match="unknown Action"):
        keep_filter(
            {
                "Behavior": "KEEP",
                "Requirement": "MEETS_ANY",
                "Conditions": [{"ActionCondition": {"Action": "X"}}],
            }
        )


def test_redacted_fields_replace_values_with_redacted() -> None:
    record = decide("/admin/users", query="token=abc").to_log_record()
    Redactor(
        [{"UriPath": {}}, {"QueryString": {}}, {"Method": {}}, {"SingleHeader": {"Name": "USER-AGENT"}}]
    )(record)
    http = record["httpRequest"]
    assert (http["uri"], http["args"], http["httpMethod"]) == ("REDACTED", "REDACTED", "REDACTED")
    assert [h["value"] for h in http["headers"]] == ["a.example.com", "REDACTED"]
    with pytest.raises(ValueError, match="only UriPath"):
        Redactor([{"Body": {}}])


def test_tokens_round_trip_and_tamper() -> None:
    token = issue_token("k", "Shop.Example.com", captcha_ts=100, challenge_ts=200)
    assert read_token("k", token) == {"d": "shop.example.com", "c": 100, "h": 200}
    assert read_token("other", token) is None
    body, _, signature = token.partition(".")
    assert read_token("k", body[:-2] + "xx." + signature) is None
    assert read_token("k", "garbage") is None


def test_domain_rules() -> None:
    assert domain_accepted("shop.example.com", "shop.example.com:8443", ())
    assert domain_accepted("api.example.com", "other.test", ["example.com"])
    assert not domain_accepted("apiexample.com", "other.test", ["example.com"])
    assert not domain_accepted("shop.example.com", "other.test", ())


def test_validator_checks_immunity_per_kind() -> None:
    now = int(time.time())
    validator = HmacTokenValidator("k")
    token = issue_token("k", "a.example.com", captcha_ts=now - 100, challenge_ts=now - 1000)
    request = Request(headers=[("Host", "a.example.com"), ("Cookie", f"x=1; aws-waf-token={token}")])
    assert validator(request, "CAPTCHA", 300, now * 1000).valid
    assert validator(request, "CHALLENGE", 300, now * 1000).failure_reason == "TOKEN_EXPIRED"
    assert validator(request, "CHALLENGE", 3600, now * 1000).solve_timestamp == now - 1000
    assert validator(Request(), "CAPTCHA", 300, now * 1000).failure_reason == "TOKEN_MISSING"


def test_trace_ids() -> None:
    trace = new_trace_id()
    assert trace.startswith("Root=1-") and len(trace) == len("Root=1-") + 8 + 1 + 24
    assert abs(int(trace[7:15], 16) - time.time()) < 60
    assert request_id_of("Self=1-aa;Root=1-5f84c7a6-0123456789abcdef01234567;Sampled=1") == (
        "1-5f84c7a6-0123456789abcdef01234567"
    )


def test_read_body_stops_after_limit_and_replays_everything() -> None:
    pieces = [b"a" * 5, b"b" * 5, b"c" * 5, b"d" * 5]
    messages = [{"type": "http.request", "body": p, "more_body": i < 3} for i, p in enumerate(pieces)]

    async def scenario() -> tuple[Any, list[bytes]]:
        source = iter(messages)

        async def receive() -> dict[str, Any]:
            return next(source)

        read = await read_body(receive, 8)
        replay = ReplayReceive(read.messages, receive)
        seen = [(await replay())["body"] for _ in range(4)]
        return read, seen

    read, seen = asyncio.run(scenario())
    assert read.body == b"a" * 5 + b"b" * 5 and not read.complete and len(read.messages) == 2
    assert seen == pieces


def test_read_body_notices_disconnect() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    read = asyncio.run(read_body(receive, 8192))
    assert read.disconnected and not read.complete
