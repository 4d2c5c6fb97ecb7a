"""The replay's batch paths equal their reference: log records and summaries counted by piece.

`encode_replay_record` must write exactly what `encode_record(decision_to_log_record(...))`
writes, for the records it writes from kept parts (the same rule, action, source and labels,
twice: once to keep the parts, once from them) and for those it leaves to the reference.
`alblog._split_standard` must cut an ALB line as `split_alb` does.
`Summary.add_many` must leave a summary exactly as `Summary.add` does, one outcome at a time.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.replay_fixtures import acl_document, alb_line
from tests.test_replay_fastpath import CLOCK_MS, _line, _outcomes, _variants
from wafpy.engine.services import Services
from wafpy.errors import LogFormatError
from wafpy.logs import parse_alb_line, parse_json_line
from wafpy.logs.alblog import _FIELDS_READ, _split_standard, split_alb
from wafpy.logs.decode import encode_record
from wafpy.logs.fastrecord import encode_replay_record
from wafpy.logs.logrecord import decision_to_log_record
from wafpy.logs.records import LogEntry
from wafpy.replay import Outcome
from wafpy.replay.summary import ACTION_EXAMPLES, Summary
from wafpy.request import Request
from wafpy.webacl import WebACL, load_web_acl


@pytest.fixture(scope="module")
def acls() -> list[WebACL]:
    services = Services(clock_ms=lambda: CLOCK_MS)
    return [
        load_web_acl(acl_document(), search_string="text", services=services),
        load_web_acl(acl_document(managed=True), search_string="text", managed="log", services=services),
    ]


def _entries() -> list[LogEntry]:
    entries = []
    for name, record in _variants():
        try:
            entries.append(parse_json_line(_line(record, name), "log", 1))
        except LogFormatError:
            continue
    for line in (alb_line(1), alb_line(2, ua="sqlmap/1.0"), alb_line(3, "/admin/x?a=1", blocked=True)):
        entries.append(parse_alb_line(line.encode(), "log", 1))
    return entries


def _written(entry: LogEntry, acl: WebACL, timestamp: Any) -> tuple[bytes, bytes]:
    try:
        request = Request.from_log(
            entry.http_request,
            entry.timestamp_ms,
            body_available=entry.body_available,
            logged_groups=entry.rule_groups,
        )
    except ValueError:
        pytest.skip("not a request")
    decision = acl.evaluate(request)
    http = request.to_http_request()
    reference = encode_record(
        decision_to_log_record(
            decision,
            http_source_name="ALB",
            http_source_id="src-1",
            timestamp_ms=timestamp,
            http_request=http,
        )
    )
    return encode_replay_record(decision, "ALB", "src-1", timestamp, http), reference


@pytest.mark.parametrize("timestamp", [None, 0, 1_715_677_200_000, -5])
def test_replay_records_equal_the_reference_encoding(acls: list[WebACL], timestamp: int | None) -> None:
    entries = _entries()
    assert len(entries) > 10
    for acl in acls:
        for entry in entries:
            when = entry.timestamp_ms if timestamp == 0 else timestamp
            for _ in range(2):  # the second time from the parts kept by the first
                fast, reference = _written(entry, acl, when)
                assert fast == reference


def test_labels_and_sources_are_part_of_what_is_kept(acls: list[WebACL]) -> None:
    acl = acls[0]
    decision = acl.evaluate(Request(uri="/", headers=[("Host", "a.example.com")], timestamp_ms=5))
    http = {
        "clientIp": "1.2.3.4",
        "country": "-",
        "headers": [],
        "uri": "/",
        "args": "",
        "httpVersion": "HTTP/1.1",
        "httpMethod": "GET",
    }
    for labels in ((), ("a:b",), ("a:b", 'quote"d,"httpRequest":null')):
        for source in ("ALB", "CF"):
            decision.labels = labels
            reference = encode_record(
                decision_to_log_record(
                    decision, http_source_name=source, http_source_id="x", timestamp_ms=7, http_request=http
                )
            )
            assert encode_replay_record(decision, source, "x", 7, http) == reference


def _state(summary: Summary) -> dict[str, Any]:
    """Every counter of a summary, with the order of its keys (tables list them in that order)."""
    state: dict[str, Any] = {}
    for name, value in vars(summary).items():
        if name.startswith("_"):
            continue
        if isinstance(value, dict):
            state[name] = list(value.items())
        elif hasattr(value, "counts"):
            state[name] = (list(value.counts.items()), value.error)
        elif hasattr(value, "buckets"):
            state[name] = (value.width_ms, [(t, list(c.items())) for t, c in value.buckets.items()])
        else:
            state[name] = value
    state["counted"] = list(summary.counted.items())
    state["not_evaluable"] = list(summary.not_evaluable.items())
    return state


@pytest.mark.parametrize("size", [1, 7, 256, 5000])
def test_summary_add_many_equals_add_one_by_one(size: int) -> None:
    outcomes = [o for o in _outcomes(6000, seed=size) if type(o) is Outcome]
    # Rare kinds too: undetermined groups, huge keys, an action named COUNT beside counted rules.
    outcomes[3] = outcomes[3]._replace(undetermined=(("G", "why"),), action="UNDETERMINED")
    outcomes[5] = outcomes[5]._replace(uri="u" * 2000, action="BLOCK", labels=("l" * 1500,))
    outcomes[8] = outcomes[8]._replace(action="COUNT", counted=("c1",))
    one = Summary(top_capacity=20)
    batched = Summary(top_capacity=20)
    for start in range(0, len(outcomes), size):
        for outcome in outcomes[start : start + size]:
            one.add(outcome)
        batched.add_many(outcomes[start : start + size])
    assert _state(batched) == _state(one)
    assert max(len(found) for found in one.action_examples.values()) == ACTION_EXAMPLES


def test_standard_alb_split_equals_the_general_one() -> None:
    lines = [
        alb_line(i, path, ua=ua, blocked=i % 2 == 0)
        for i, (path, ua) in enumerate(
            [("/", "Mozilla/5.0"), ("/a?b=c#d", "curl/8"), ("/x", "-"), ("/q?x=1 2", "a b  c")]
        )
    ]
    taken = 0
    rng = random.Random(5)
    alphabet = ['"', " ", "\t", "x", "\u00a0", '""', " - "]
    for line in lines:
        assert _split_standard(line) == split_alb(line, _FIELDS_READ)[:23]
        for _ in range(3000):
            chars = list(line)
            for _ in range(rng.randrange(1, 3)):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(alphabet))
            text = "".join(chars)
            fields = _split_standard(text)
            if fields is not None:
                taken += 1
                assert fields == split_alb(text, _FIELDS_READ)[:23], text
    assert taken > 1000
