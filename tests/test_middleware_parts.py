"""The middleware's parts on their own: LoggingFilter, RedactedFields, tokens, trace ids, body replay."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from tests.builders import byte_rule
from tests.test_asgi_support import web_acl
from wafpy import Request, load_web_acl
from wafpy.decision import Decision
from wafpy.logs.logrecord import decision_to_log_record
from wafpy.middleware import trace
from wafpy.middleware.body import ReplayReceive, read_body
from wafpy.middleware.logsink import LoggingFilter, Redactor
from wafpy.middleware.metrics import METRICS, Metrics
from wafpy.middleware.tokens import HmacTokenValidator, domain_accepted, issue_token, read_token
from wafpy.middleware.trace import new_trace, new_trace_id, request_id_of

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
    record = decision_to_log_record(decide("/admin/users", query="token=abc"))
    Redactor(
        [{"UriPath": {}}, {"QueryString": {}}, {"Method": {}}, {"SingleHeader": {"Name": "USER-AGENT"}}]
    )(record)
    http = record["httpRequest"]
    assert (http["uri"], http["args"], http["httpMethod"]) == ("REDACTED", "REDACTED", "REDACTED")
    assert [h["value"] for h in http["headers"]] == ["a.example.com", "REDACTED"]
    with pytest.raises(ValueError, match="only UriPath"):
        Redactor([{"Body": {}}])


KEY = "k" * 16


def test_tokens_round_trip_and_tamper() -> None:
    token = issue_token(KEY, "Shop.Example.com", captcha_ts=100, challenge_ts=200)
    assert read_token(KEY, token) == {"d": "shop.example.com", "c": 100, "h": 200}
    assert read_token("o" * 16, token) is None
    body, _, signature = token.partition(".")
    assert read_token(KEY, body[:-2] + "xx." + signature) is None
    assert read_token(KEY, "garbage") is None


def test_domain_rules() -> None:
    assert domain_accepted("shop.example.com", "shop.example.com:8443", ())
    assert domain_accepted("api.example.com", "other.test", ["example.com"])
    assert not domain_accepted("apiexample.com", "other.test", ["example.com"])
    assert not domain_accepted("shop.example.com", "other.test", ())


def test_validator_checks_immunity_per_kind() -> None:
    now = int(time.time())
    validator = HmacTokenValidator(KEY)
    token = issue_token(KEY, "a.example.com", captcha_ts=now - 100, challenge_ts=now - 1000)
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


def test_new_trace_gives_the_request_id_and_the_header_of_one_id() -> None:
    request_id, header = new_trace()
    assert header == b"Root=" + request_id.encode()
    assert request_id.startswith("1-") and len(request_id) == 2 + 8 + 1 + 24
    assert int(request_id[2:10], 16) == pytest.approx(time.time(), abs=60)
    assert new_trace()[0] != request_id


def test_trace_prefix_follows_the_clock_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000.25]
    monkeypatch.setattr(trace, "_clock", lambda: now[0])
    monkeypatch.setattr(trace, "_prefix", trace._Prefix())
    assert new_trace()[0].startswith(f"1-{1_700_000_000:08x}-")
    now[0] = 1_700_000_000.999
    assert new_trace_id().startswith(f"Root=1-{1_700_000_000:08x}-")
    now[0] = 1_700_000_001.0
    assert new_trace()[0].startswith(f"1-{1_700_000_001:08x}-")
    now[0] = 1_699_999_990.5  # the wall clock was set back
    assert new_trace()[0].startswith(f"1-{1_699_999_990:08x}-")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_workers_do_not_repeat_trace_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave at once
        os.write(write, new_trace()[0].encode())
        os._exit(0)
    os.close(write)
    ours = new_trace()[0]
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read().decode()
    assert theirs and theirs[11:] != ours[11:]


def test_trace_ids_stay_distinct_hex_across_refills_of_the_random_digits() -> None:
    ids = [new_trace()[0][11:] for _ in range(3 * trace._BATCH + 7)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def _request_id_reference(value: str) -> str:
    for part in value.split(";"):
        key, _, found = part.strip().partition("=")
        if key.lower() == "root" and found:
            return found
    return value


@pytest.mark.parametrize(
    "value",
    [
        "Root=1-5f84c7a6-0123456789abcdef01234567",
        "Root=1-5f84c7a6-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-abc  ;Sampled=0",
        "Root= 1-abc",
        "Root=;Root=1-second",
        "Root=",
        "Root=\t;x=1",
        " Root=1-lead",
        "root=1-lower",
        "Self=1-aa;Root=1-b",
        "no root here",
        "",
    ],
)
def test_request_id_of_matches_the_plain_reading(value: str) -> None:
    assert request_id_of(value) == _request_id_reference(value)


def _metrics_reference(decisions: list[Decision], names: dict[str, str]) -> dict[str, dict[str, int]]:
    # Two counters per request (ALL and the terminating rule), one per non-terminating match.
    counts: dict[tuple[str, str], int] = {}

    def add(rule: str, metric: str) -> None:
        counts[rule, metric] = counts.get((rule, metric), 0) + 1

    for decision in decisions:
        metric = METRICS[decision.action]
        add("ALL", metric)
        rule = decision.terminating_rule_id
        add(rule if rule == "Default_Action" else names.get(rule, rule), metric)
        for entry in decision.log_non_terminating:
            add(names.get(entry["ruleId"], entry["ruleId"]), METRICS[entry["action"]])
    out: dict[str, dict[str, int]] = {}
    for (rule, metric), count in counts.items():
        out.setdefault(rule, {})[metric] = count
    return out


def test_metrics_count_like_cloudwatch_across_a_rename() -> None:
    names = {"tag-curl": "curl-metric", "block-admin": "ALL"}  # a rule may even be named like ALL
    first = [decide("/"), decide("/admin"), decide("/", agent="curl/8"), decide("/admin", agent="curl/8")]
    metrics = Metrics("acl", names)
    for decision in first:
        metrics.record(decision)
    assert metrics.snapshot() == _metrics_reference(first, names)
    renamed = {"tag-curl": "curl-2", "block-admin": "admin-2"}
    metrics.rename("acl-2", renamed)
    second = [decide("/admin"), decide("/", agent="curl/8")]
    for decision in second:
        metrics.record(decision)
    expected = _metrics_reference(first, names)
    for rule, counts in _metrics_reference(second, renamed).items():
        for metric, count in counts.items():
            expected.setdefault(rule, {})[metric] = expected.get(rule, {}).get(metric, 0) + count
    assert metrics.snapshot() == expected
    text = metrics.prometheus()
    # 3 blocked requests, plus the 2 blocked by the rule that had the metric name ALL before the rename
    assert 'wafpy_blocked_requests_total{webacl="acl-2",rule="ALL"} 5' in text
    assert 'wafpy_counted_requests_total{webacl="acl-2",rule="curl-2"} 1' in text


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
