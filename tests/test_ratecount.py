"""Batched rate counting (`evaluate_counted`) decides exactly as the synchronous counter, and the
in-memory counter stays bounded under a spray of keys without freeing the keys being limited."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

import wafpy
from tests.builders import rule, web_acl
from wafpy.engine.ratecount import assume_under, drive
from wafpy.engine.ratelimit import MemoryRateCounter, RateHit, rule_settings

Json = dict[str, Any]


def rate_rule(name: str, priority: int, limit: int, action: str = "Block") -> Json:
    statement = {"RateBasedStatement": {"Limit": limit, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"}}
    return rule(name, priority, statement, action, RuleLabels=[{"Name": f"rate:{name}"}])


def two_rate_acl() -> wafpy.WebACL:
    # The Count rule comes first and labels; the Block rule after it stops the requests it limits,
    # so a third rule is reached only while the second one does not block.
    return wafpy.load_web_acl(
        web_acl(
            [
                rate_rule("count-10", 0, 10, "Count"),
                rate_rule("block-15", 1, 15),
                rate_rule("count-after", 2, 10, "Count"),
            ]
        )
    )


def _request(ip: str, t_ms: int) -> wafpy.Request:
    return wafpy.Request.from_log(
        {"clientIp": ip, "httpMethod": "GET", "uri": "/", "headers": [{"name": "Host", "value": "a"}]},
        timestamp=t_ms,
    )


def _summary(d: wafpy.Decision) -> tuple[Any, ...]:
    return (d.action, d.terminating_rule_id, d.labels, d.rate_based_rule_list, d.trace)


@pytest.mark.parametrize("guessing", [True, False])
def test_batched_counting_decides_as_the_synchronous_counter(guessing: bool) -> None:
    plain, batched = two_rate_acl(), two_rate_acl()
    counter = MemoryRateCounter()
    batches: list[int] = []

    def hit_many(hits: list[RateHit], now_ms: int) -> list[int]:
        batches.append(len(hits))
        return counter.hit_many(hits, now_ms)

    guess = counter.limited if guessing else assume_under
    for i in range(40):
        t = 1_700_000_000_000 + i * 500  # 40 requests in 20 s, all in one 60 s window
        expected = plain.evaluate(_request("198.51.100.9", t))
        request = _request("198.51.100.9", t)
        got = drive(batched.evaluate_counted(request, guess=guess), hit_many, t)
        assert _summary(got) == _summary(expected), i
    if guessing:
        # One round trip per request, one more where a key crosses a limit and rules after it are
        # still reached (request 11; at request 16 the crossing rule blocks, nothing comes after).
        assert len(batches) == 40 + 1


def test_a_rule_not_reached_is_not_counted() -> None:
    acl = two_rate_acl()
    counter = MemoryRateCounter()
    for i in range(30):
        t = i * 100
        drive(acl.evaluate_counted(_request("203.0.113.1", t), guess=counter.limited), counter.hit_many, t)
    keys = {rule_id.split("|")[0].rsplit("/", 1)[1]: rule_id for rule_id, _ in counter._keys}
    after = counter.hit(keys["count-after"], ("203.0.113.1",), 3000, 60)
    # "count-after" saw only the 15 requests "block-15" let through, plus this one.
    assert after == 11  # reported up to limit + 1


def test_batch_stops_after_the_first_wrong_guess() -> None:
    counter = MemoryRateCounter()
    rid = "acl/r|1|60|IP|1"
    hits = [RateHit(rid, ("a",), 60, 1, False), RateHit(rid.replace("/r", "/s"), ("a",), 60, 1, False)]
    assert counter.hit_many(hits, 0) == [1, 1]
    assert counter.hit_many(hits, 1) == [2]  # over the limit although assumed under: stop there
    assert len(counter._keys[("acl/s|1|60|IP|1", ("a",))].times) == 1


def test_rule_settings() -> None:
    assert rule_settings("arn:aws:wafv2:x/acl/id/rule|100|300|IP|1") == (100, 300)
    assert rule_settings("rule") is None


def test_limited_keys_survive_a_spray_at_the_cap() -> None:
    counter = MemoryRateCounter(max_keys=1000)
    rid = "acl/limit|10|60|IP|1"
    for i in range(11):
        counter.hit(rid, ("attacker",), i, 60)
    assert counter.limited(rid, ("attacker",), 20)
    for i in range(20_000):
        counter.hit(rid, (f"spray-{i}",), 100 + i, 60)
    assert len(counter) <= 1000
    assert counter.evicted >= 19_000
    assert counter.limited(rid, ("attacker",), 30_000)
    assert counter.hit(rid, ("attacker",), 30_001, 60) == 11


def test_a_cap_full_of_limited_keys_counts_without_storing() -> None:
    counter = MemoryRateCounter(max_keys=2)
    rid = "acl/limit|1|60|IP|1"
    for key in ("a", "b"):
        counter.hit(rid, (key,), 0, 60)
        counter.hit(rid, (key,), 1, 60)
    assert counter.hit(rid, ("c",), 2, 60) == 1
    assert counter.dropped == 1 and len(counter) == 2
    # Once the window has passed, the limited keys are no longer limited and make room.
    assert counter.hit(rid, ("c",), 60_002, 60) == 1 and ("c",) in {k for _, k in counter._keys}


def _ip(i: int) -> tuple[str]:
    return (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",)


RULE = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/demo/0f0e/limit|100|300|IP|1"


def test_bytes_per_key() -> None:
    counter = MemoryRateCounter()
    counter.hit(RULE, ("192.0.2.1",), 0, 300)
    keys = [_ip(i) for i in range(20_000)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, key in enumerate(keys):
        counter.hit(RULE, key, 1000 + i, 300)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # The key's own strings are the caller's; the counter's share (table entry, tuples, timestamp).
    per_key = held / len(keys)
    print(f"\n{per_key:.0f} bytes per key with one timestamp")
    assert per_key < 400


@pytest.mark.slow
def test_a_million_key_spray_stays_under_the_cap() -> None:
    cap = 250_000
    counter = MemoryRateCounter(max_keys=cap)
    for i in range(101):
        counter.hit(RULE, ("192.0.2.1",), i, 300)
    keys = [_ip(i) for i in range(1_000_000)]
    start = time.perf_counter()
    for i, key in enumerate(keys):
        counter.hit(RULE, key, 1000 + i // 10, 300)
    elapsed = time.perf_counter() - start
    print(f"\n1,000,000 keys sprayed in {elapsed:.2f} s ({elapsed:.2f} µs per key), {cap:,} kept")
    assert len(counter) == cap
    assert counter.evicted == 1_000_000 - cap + 1
    assert counter.limited(RULE, ("192.0.2.1",), 100_000)
