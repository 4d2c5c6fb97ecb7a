"""The replay's fast path gives exactly what the reference path (`wafpy.logs` + `Request.from_log`) gives.

Every record is replayed twice: through `Evaluator.run` (fast path where it applies) and through
`Evaluator.evaluate` on the `LogEntry` that `wafpy.logs` reads (the reference). Outcomes, and the
log records written byte for byte, must be equal; the fast path must decline what it cannot
read exactly (redacted or hashed values, escapes, nulls, wrong types) and leave the errors to
the reference path. Summaries and comparisons merged chunk by chunk equal those counted in one go.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.replay_fixtures import acl_document, alb_line, waf_record
from wafpy.engine.services import Services
from wafpy.errors import LogFormatError
from wafpy.logs import parse_alb_line, parse_json_line
from wafpy.logs.alblog import _SIMPLE_TOKEN, _epoch_ms, _split_quoted, split_alb
from wafpy.logs.decode import decode_waf, decode_waf_line, encode_record
from wafpy.logs.formats import REGISTRY, Format
from wafpy.logs.logrecord import decision_to_log_record
from wafpy.logs.records import LogEntry, LoggedOutcome, to_epoch_ms
from wafpy.replay import BadLine, Outcome, Replay, ReplayOptions
from wafpy.replay.chunks import pieces
from wafpy.replay.compare import Comparison
from wafpy.replay.evaluator import Evaluator
from wafpy.replay.summary import Summary
from wafpy.request import Request
from wafpy.webacl import WebACL, load_web_acl

HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


CLOCK_MS = 1_700_000_000_000


@pytest.fixture(scope="module")
def acl() -> WebACL:
    # A fixed clock: a request logged without a time is evaluated (and its record stamped) at the
    # services clock, so both paths must write the same record.
    return load_web_acl(acl_document(), search_string="text", services=Services(clock_ms=lambda: CLOCK_MS))


@pytest.fixture(scope="module")
def managed_acl() -> WebACL:
    """The same web ACL with a managed group replayed from the log: Request.logged_groups counts."""
    services = Services(clock_ms=lambda: CLOCK_MS)
    return load_web_acl(acl_document(managed=True), search_string="text", managed="log", services=services)


CRS_ID = "AWS#AWSManagedRulesCommonRuleSet"
CRS_LABEL = "awswaf:managed:aws:core-rule-set:NoUserAgent_Header"


def _group(terminating: Any = None, counted: Any = (), excluded: Any = None) -> dict[str, Any]:
    return {
        "ruleGroupId": CRS_ID,
        "terminatingRule": terminating,
        "nonTerminatingMatchingRules": list(counted),
        "excludedRules": excluded,
    }


def _variants() -> list[tuple[str, dict[str, Any]]]:
    """Records as AWS writes them, and every way one can leave the fast path."""
    base = waf_record(1, "/admin/x", args="a=1&b=2", headers=(("Cookie", "s=1; t=2"), ("x-api-key", "k")))
    out: list[tuple[str, dict[str, Any]]] = [("plain", base)]

    def variant(name: str, change: Any) -> None:
        record = copy.deepcopy(base)
        change(record, record["httpRequest"])
        out.append((name, record))

    variant("blocked", lambda r, h: r.update(action="BLOCK", terminatingRuleId="admin"))
    variant("labels", lambda r, h: r.update(labels=[{"name": "a:b"}, {"x": 1}, "junk"]))
    variant(
        "counted", lambda r, h: r.update(nonTerminatingMatchingRules=[{"ruleId": "c", "action": "COUNT"}])
    )
    variant("status", lambda r, h: r.update(responseCodeSent=403))
    variant("status bool", lambda r, h: r.update(responseCodeSent=True))
    variant("no action", lambda r, h: (r.pop("action"), r.pop("terminatingRuleId")))
    variant("action int", lambda r, h: r.update(action=5))
    variant("labels not a list", lambda r, h: r.update(labels={"name": "x"}))
    variant(
        "ja3", lambda r, h: r.update(ja3Fingerprint="e7d705a3286e19ea42f587b344ee6865", ja4Fingerprint="")
    )
    variant("ja4 int", lambda r, h: r.update(ja4Fingerprint=4))
    variant("float ts", lambda r, h: r.update(timestamp=1710930600123.0))
    variant("iso ts", lambda r, h: r.update(timestamp="2024-03-20T10:30:00.123Z"))
    variant("bad ts", lambda r, h: r.update(timestamp="yesterday"))
    variant("no ts", lambda r, h: r.pop("timestamp"))
    variant("source", lambda r, h: r.update(httpSourceName="CF", httpSourceId=7))
    variant("fragment", lambda r, h: h.update(fragment="top", scheme="https", host="Shop.Example.com"))
    variant("empty fragment", lambda r, h: h.update(fragment="", scheme="", host=""))
    variant("fragment int", lambda r, h: h.update(fragment=1))
    variant("no request id", lambda r, h: h.pop("requestId", None))
    variant("country dash", lambda r, h: h.update(country="-"))
    variant("country empty", lambda r, h: h.update(country=""))
    variant("no country", lambda r, h: h.pop("country"))
    variant("version empty", lambda r, h: h.update(httpVersion=""))
    variant("no version", lambda r, h: h.pop("httpVersion"))
    variant("no uri", lambda r, h: h.pop("uri"))
    variant("uri int", lambda r, h: h.update(uri=7))
    variant("no headers", lambda r, h: h.update(headers=None))
    variant("headers object", lambda r, h: h.update(headers={"name": "a"}))
    variant("header str", lambda r, h: h["headers"].append("Host: x"))
    variant("header list", lambda r, h: h["headers"].append(["a", "b"]))
    variant("header null value", lambda r, h: h["headers"].append({"name": "X-Null", "value": None}))
    variant("header no value", lambda r, h: h["headers"].append({"name": "X-None"}))
    variant("header value first", lambda r, h: h["headers"].append({"value": "v", "name": "X-Order"}))
    variant("header extra key", lambda r, h: h["headers"].append({"name": "X-Extra", "value": "v", "n": 1}))
    variant("host lower", lambda r, h: h["headers"].insert(0, {"name": "host", "value": "first.example"}))
    variant("unicode", lambda r, h: h["headers"].append({"name": "X-Name", "value": "café ☕"}))
    variant(
        "redacted header", lambda r, h: h["headers"].append({"name": "Authorization", "value": "REDACTED"})
    )
    variant("hashed header", lambda r, h: h["headers"].append({"name": "X-Token", "value": HEX}))
    variant("hashed cookie", lambda r, h: h["headers"].append({"name": "cookie", "value": f"a=1; s={HEX}"}))
    variant("redacted uri", lambda r, h: h.update(uri="REDACTED"))
    variant("hashed args", lambda r, h: h.update(args=f"a={HEX}&b=2"))
    variant("hex in request id", lambda r, h: h.update(requestId=HEX))
    variant("redacted text", lambda r, h: h.update(args="q=REDACTED+words"))
    variant("unknown key", lambda r, h: r.update(newField={"a": [1, 2.5, None]}))
    variant("unknown http key", lambda r, h: h.update(ja3Fingerprint="e7d705a3286e19ea42f587b344ee6865"))
    variant("huge ts", lambda r, h: r.update(timestamp=2**64))
    variant("huge status", lambda r, h: r.update(responseCodeSent=-(2**63) - 1))
    variant("ts null", lambda r, h: r.update(timestamp=None))
    variant("type int", lambda r, h: r.update(terminatingRuleType=5))
    variant("aws extras", lambda r, h: r.update(requestBodySize=0, oversizeFields=["x"], captchaResponse={}))
    block = {"ruleId": "NoUserAgent_HEADER", "action": "BLOCK", "ruleMatchDetails": []}
    counted = {"ruleId": "SizeRestrictions_BODY", "action": "COUNT", "overriddenAction": "BLOCK"}
    sqli = {"conditionType": "SQL_INJECTION", "location": "QUERY_STRING", "matchedData": ["1", "or"]}
    labels = [{"name": CRS_LABEL}]

    def group(name: str, **changes: Any) -> None:
        # Past block-admin, so the managed group is reached.
        variant(name, lambda r, h: (r.update(changes), h.update(uri="/shop")))

    excluded = [{"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": "NoUserAgent_HEADER"}]
    group("group empty", ruleGroupList=[_group()])
    group("group terminated", ruleGroupList=[_group(block)], labels=labels)
    group("group counted", ruleGroupList=[_group(None, [counted])], labels=labels)
    group("group details", ruleGroupList=[_group(dict(block, ruleMatchDetails=[sqli, "x"]), [counted])])
    group("group excluded", ruleGroupList=[_group(None, [], excluded)])
    group(
        "group captcha",
        ruleGroupList=[_group(None, [dict(counted, action="CAPTCHA")])],
        captchaResponse={"responseCode": 0, "solveTimestamp": 5},
    )
    group("group missing", ruleGroupList=[])
    group("group list null", ruleGroupList=None)
    group("group list object", ruleGroupList={"ruleGroupId": CRS_ID})
    group("group entry string", ruleGroupList=["x"])
    group("group id int", ruleGroupList=[dict(_group(), ruleGroupId=7)])
    group("group rule no id", ruleGroupList=[_group({"action": "BLOCK"})])
    group("group captcha bad", ruleGroupList=[_group()], captchaResponse=[1])
    return out


def _line(record: dict[str, Any], name: str) -> bytes:
    if name == "unicode escaped":
        return orjson.dumps(record).replace("é".encode(), b"\\u00e9")
    try:
        return orjson.dumps(record)
    except TypeError:  # integers past 64 bits
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def _reference(evaluator: Evaluator, raw: bytes, kind: str) -> Outcome | BadLine:
    parse = parse_alb_line if kind == "alb" else parse_json_line
    try:
        entry = parse(raw, "log", 1)
    except LogFormatError as exc:
        return BadLine(exc.message, exc.file, exc.line)
    return evaluator.evaluate(entry)


def _fast(evaluator: Evaluator, raw: bytes, kind: str) -> Outcome | BadLine:
    items, filtered = evaluator.run([("alb" if kind == "alb" else "json", "log", [1], [raw])])
    assert filtered == 0 and len(items) == 1
    return items[0]


@pytest.mark.parametrize(("name", "record"), _variants(), ids=[name for name, _ in _variants()])
@pytest.mark.parametrize("managed", [False, True], ids=["", "managed-log"])
def test_waf_record_fast_path_equals_reference(
    acl: WebACL, managed_acl: WebACL, name: str, record: dict[str, Any], managed: bool
) -> None:
    evaluator = Evaluator(managed_acl if managed else acl, ReplayOptions(write_records=True))
    for line_name in (name, "unicode escaped") if name == "unicode" else (name,):
        raw = _line(record, line_name)
        assert _fast(evaluator, raw, "waf") == _reference(evaluator, raw, "waf")


def test_msgspec_path_takes_plain_records_and_declines_what_it_cannot_match() -> None:
    taken = {name for name, record in _variants() if decode_waf_line(_line(record, name)) is not None}
    assert {"plain", "blocked", "ja3", "fragment", "host lower", "iso ts", "aws extras"} - taken == {"iso ts"}
    declined = {"unicode", "unknown key", "unknown http key", "huge ts", "huge status", "header extra key"}
    assert not declined & taken
    for name, record in _variants():  # what it takes, it decodes as the orjson path does
        raw = _line(record, name)
        fast = decode_waf_line(raw)
        if fast is not None:
            slow = decode_waf(orjson.loads(raw), raw)
            assert slow is not None, name
            assert fast[0] == slow[0] and fast[1][0] == slow[1][0] and fast[1][1:3] == slow[1][1:3], name
            assert encode_record(fast[1][3]) == orjson.dumps(slow[1][3]), name
            assert fast[1][4:] == slow[1][4:], name


@pytest.mark.parametrize(
    "tail",
    [
        b'"x":1e999',
        b'"webaclId":[1e999]',
        b'"webaclId":"\xff\xfe"',
        b'"x":"\xed\xa0\x80"',
        b'"formatVersion":1' + b"0" * 400,
        b'"ruleGroupList":' + b"[" * 1100 + b"]" * 1100,
    ],
    ids=["float in unknown key", "float in known key", "bad utf-8", "surrogate", "huge int", "deep"],
)
def test_lines_orjson_rejects_stay_bad_lines(acl: WebACL, tail: bytes) -> None:
    """msgspec skips or accepts some values orjson rejects: those lines never take its path."""
    tail = tail.decode("unicode_escape").encode("latin-1")  # the \\x escapes as raw bytes
    raw = orjson.dumps(waf_record(1, "/"))[:-1] + b"," + tail + b"}"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert decode_waf_line(raw) is None
    result = _fast(Evaluator(acl, ReplayOptions(write_records=True)), raw, "waf")
    assert type(result) is BadLine and result.message.startswith("not valid JSON")


@pytest.mark.slow
def test_records_encode_as_orjson_writes_them() -> None:
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    values: list[Any] = [text, {'k\n"\\': [text[:300], None, True, False, 0, -(2**63), 2**64 - 1, {}, []]}]
    for value in values:
        assert encode_record(value) == orjson.dumps(value)


def test_fast_path_takes_plain_records_and_declines_hidden_values() -> None:
    taken = {name for name, record in _variants() if decode_waf(record, _line(record, name)) is not None}
    assert {"plain", "blocked", "ja3", "fragment", "host lower", "unicode", "iso ts"} <= taken
    declined = {
        "redacted header",
        "hashed header",
        "hashed cookie",
        "redacted uri",
        "hashed args",
        "header null value",
        "no uri",
        "no headers",
        "bad ts",
        "status bool",
    }
    assert not declined & taken


ALB_LINES = [
    alb_line(0, "/admin?x=1#frag"),
    alb_line(0, "/admin?#"),
    alb_line(0).replace("http://shop.example.com:80/", "/relative?a=b"),
    alb_line(0).replace('"Root=1-58337262-', '"Self=1-x;Root='),
    alb_line(1, "/", blocked=True, ua="curl/8.0"),
    alb_line(2, "/p", ua="-", ip="2001:db8::7"),
    alb_line(3).replace("http://shop.example.com:80", "https://user@shop.example.com:8443"),
    alb_line(4).replace('"waf,forward"', '"waf-failed,forward"'),
    alb_line(5).replace(' "Mozilla/5.0" ', ' "Mozilla \\"quoted\\" 5.0" '),
    alb_line(6).replace("GET http://shop.example.com:80/", "- - -"),
    "http 2024-03-20T10:30:00Z too few fields",
]


@pytest.mark.parametrize("line", ALB_LINES)
def test_alb_fast_path_equals_reference(acl: WebACL, line: str) -> None:
    evaluator = Evaluator(acl, ReplayOptions(write_records=True))
    raw = (line + "\n").encode()
    assert _fast(evaluator, raw, "alb") == _reference(evaluator, raw, "alb")


def _samples() -> dict[str, list[bytes]]:
    """Record lines of every registered format, good and bad (a new format brings its own)."""
    waf = [_line(record, name) for name, record in _variants()]
    sampled = orjson.dumps(
        {
            "Action": "BLOCK",
            "Timestamp": 1700000000,
            "Request": {"ClientIP": "192.0.2.1", "Country": "NL", "URI": "/admin", "Method": "GET"},
        }
    )
    requests = [
        orjson.dumps({"httpMethod": "POST", "uri": "/admin", "headers": {"X": "1"}, "body": "a=1"}),
        orjson.dumps({"httpMethod": "GET", "uri": "/", "timestamp": "2024-03-20T10:30:00Z"}),
        orjson.dumps({"uri": "/"}),
        b"{not json",
    ]
    events = [
        orjson.dumps(
            {
                "logStreamName": "us-east-1_web_0",
                "timestamp": 1700000000000 + i,
                "message": raw.decode(),
                "ingestionTime": 1700000000100 + i,
                "eventId": f"3803{i:052d}",
            }
        )
        for i, raw in enumerate(waf)
    ]
    events += [
        orjson.dumps({"eventId": "1", "message": "{not json"}),
        orjson.dumps({"eventId": "1", "message": '{"uri": "/"}'}),  # a message that is no WAF record
        orjson.dumps({"eventId": "1", "message": 5}),
        b"{not json",
    ]
    return {
        "cloudwatch": events,
        # Request lines and odd JSON too: `--format waf` refuses them with the reference's words.
        "waf": [*waf, sampled, *requests, b"[1, 2]", b'{"foo": 1}'],
        "alb": [(line + "\n").encode() for line in ALB_LINES],
        "jsonl": requests,
        "json": [*waf, sampled, *requests, *events[:3]],
    }


def test_every_registered_format_has_samples() -> None:
    assert set(_samples()) == {fmt.name for fmt in REGISTRY}


@pytest.mark.parametrize("fmt", REGISTRY, ids=[fmt.name for fmt in REGISTRY])
def test_registered_fast_decoders_equal_their_reference_parsers(acl: WebACL, fmt: Format) -> None:
    """What the replay makes of a line (the format's fast decoder) is what the reference parser
    and `Request.from_log` make of it, outcome, record and error alike."""
    evaluator = Evaluator(acl, ReplayOptions(write_records=True))
    fast_taken = 0
    for raw in _samples()[fmt.name]:
        items, filtered = evaluator.run([(fmt.name, "log", [1], [raw])])
        assert filtered == 0 and len(items) == 1
        try:
            reference: Outcome | BadLine = evaluator.evaluate(fmt.parse(raw, "log", 1))
        except LogFormatError as exc:
            reference = BadLine(exc.message, exc.file, exc.line)
        assert items[0] == reference, raw
        if fmt.fast is not None:
            with contextlib.suppress(LogFormatError):
                fast_taken += type(fmt.fast(raw, "log", 1)) is not LogEntry
    assert fmt.fast is None or fast_taken > 0  # the samples do take the fast path


@pytest.mark.slow
def test_alb_split_by_quotes_equals_the_tokenizer() -> None:
    rng = random.Random(3)
    alphabet = ["a", "-", " ", "\t", '"', '""', "\u00a0", "\n", "x y"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        tokens = [bare or quoted for quoted, bare in _SIMPLE_TOKEN.findall(text)]
        fields = _split_quoted(text, len(text) + 1)
        if fields is not None:
            assert fields == tokens, text
        limit = rng.randrange(1, 5)
        first = _split_quoted(text, limit)
        if first is not None:  # the first fields are those of the whole line
            assert first == tokens[: len(first)] and (len(first) >= limit or first == tokens), text
    assert split_alb('a "b c" d') == ["a", "b c", "d"]
    assert _split_quoted('a"b" c', 9) is None  # a quote inside a token: the tokenizer decides
    assert split_alb('a "b" c d e', 2) == ["a", "b", "c", "d", "e"][: len(split_alb('a "b" c d e', 2))]


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-20T10:30:00.123456Z",
        "2024-03-20T10:30:00.999999Z",
        "1969-12-31T23:59:59.876544Z",
        "2024-03-20 10:30:00.000001Z",
        "2024-03-20T10:30:00Z",
        "2024-03-20T10:30:00.123456+01:00",
        "1710930600123",
        "2024-13-20T10:30:00.123456Z",
        "2024-03-20T10:30:00.12345xZ",
    ],
)
def test_alb_time_cache_equals_to_epoch_ms(text: str) -> None:
    def outcome(parse: Any) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            return str(exc)

    assert outcome(_epoch_ms) == outcome(_epoch_ms) == outcome(to_epoch_ms)


def _outcomes(n: int, seed: int = 9) -> list[Outcome | BadLine]:
    rng = random.Random(seed)
    out: list[Outcome | BadLine] = []
    for i in range(n):
        if rng.random() < 0.05:
            out.append(BadLine(f"bad {i}", "f", i))
            continue
        action = rng.choice(["ALLOW", "ALLOW", "BLOCK", "CAPTCHA"])
        out.append(
            Outcome(
                "f",
                i,
                1_700_000_000_000 + rng.randrange(10**9) if rng.random() < 0.9 else None,
                rng.choice(["waf", "alb"]),
                "GET",
                f"/p/{rng.randrange(40)}",
                f"10.0.0.{rng.randrange(60)}",
                action,
                rng.choice(["Default_Action", "r1", "r2"]),
                "REGULAR",
                tuple(f"l:{rng.randrange(5)}" for _ in range(rng.randrange(3))),
                tuple(rng.sample(["c1", "c2", "c3"], rng.randrange(3))),
                tuple(rng.sample(["Rules[1].S", "Rules[2].S"], rng.randrange(3))),
                None,
                None,
            )
        )
    return out


@pytest.mark.slow
def test_summaries_merged_by_chunk_equal_one_summary() -> None:
    items = _outcomes(3000)
    whole = Summary(top_capacity=30)
    whole.add_all(items)
    merged = Summary(top_capacity=30)
    for start in range(0, len(items), 7):
        part = Summary(top_capacity=30)
        part.add_all(items[start : start + 7])
        merged.merge(part)
    for attr in ("total", "by_action", "by_rule", "by_kind", "counted", "requests_counted", "not_evaluable"):
        assert getattr(merged, attr) == getattr(whole, attr), attr
    assert list(merged.counted) == list(whole.counted)
    assert (merged.bad_lines, merged.bad_examples) == (whole.bad_lines, whole.bad_examples)
    assert (merged.first_ms, merged.last_ms) == (whole.first_ms, whole.last_ms)
    assert merged.timeline.width_ms == whole.timeline.width_ms > 60_000
    assert merged.timeline.buckets == whole.timeline.buckets
    assert merged.labels.counts == whole.labels.counts  # below capacity: exact either way


@pytest.mark.slow
def test_comparisons_merged_by_chunk_equal_one_comparison() -> None:
    rng = random.Random(4)
    actions = ["ALLOW", "BLOCK", "CAPTCHA"]
    items = [
        item._replace(
            logged=None
            if rng.random() < 0.1
            else LoggedOutcome(rng.choice(actions), rng.choice(["r1", "r2", "r3", "Default_Action"])),
            rule_id=f"r{rng.randrange(300)}",
        )
        for item in _outcomes(4000)
        if isinstance(item, Outcome)
    ]
    whole = Comparison(examples=3)
    for item in items:
        whole.add(item)
    merged = Comparison(examples=3)
    for start in range(0, len(items), 11):
        part = Comparison(examples=3)
        for item in items[start : start + 11]:
            part.add(item)
        merged.merge(part)
    assert vars(merged) == vars(whole)
    assert any(len(pairs) > 200 for pairs in whole.rules.values())  # the cap was exercised


@pytest.mark.slow
def test_batches_equal_iteration(acl: WebACL, tmp_path: Path) -> None:
    rng = random.Random(2)
    lines = [orjson.dumps(waf_record(i, rng.choice(["/", "/admin/a", "/x"]))) for i in range(120)]
    lines.insert(50, b"{broken")
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for workers in (1, 2):
        options = ReplayOptions(write_records=True, chunk_lines=16, workers=workers)
        items = list(Replay(acl, [str(path)], options))
        summary = Summary()
        records = b"".join(batch.records for batch in Replay(acl, [str(path)], options).batches(summary))
        expected = Summary()
        expected.add_all(items)
        assert records == b"".join(i.record + b"\n" for i in items if isinstance(i, Outcome) and i.record)
        assert (summary.total, summary.bad_lines, summary.by_rule) == (
            expected.total,
            expected.bad_lines,
            expected.by_rule,
        )
        strict = ReplayOptions(write_records=True, chunk_lines=16, workers=workers, strict=True)
        batches = list(Replay(acl, [str(path)], strict).batches(Summary()))
        assert batches[-1].stopped == BadLine(batches[-1].stopped.message, str(path), 51)  # type: ignore[union-attr]
        assert sum(b.replayed for b in batches) == 50


def test_chunks_are_worked_through_in_pieces_in_order() -> None:
    bad = BadLine("bad", "f", 4)
    chunk: Any = [
        ("json", "f", [1, 2, 3], [b"a", b"b", b"c"]),
        bad,
        ("json", "f", [5, 6, 7, 8], [b"e", b"f", b"g", b"h"]),
    ]
    cut = list(pieces(chunk, 2))
    assert [sum(len(p[2]) for p in piece if not isinstance(p, BadLine)) for piece in cut] == [2, 2, 2, 1]
    flat = [
        (n, r)
        for piece in cut
        for p in piece
        if not isinstance(p, BadLine)
        for n, r in zip(p[2], p[3], strict=True)
    ]
    assert flat == [(1, b"a"), (2, b"b"), (3, b"c"), (5, b"e"), (6, b"f"), (7, b"g"), (8, b"h")]
    assert sum(p is bad for piece in cut for p in piece) == 1


def test_a_record_is_stamped_with_the_evaluation_time_not_the_wall_clock(acl: WebACL) -> None:
    decision = acl.evaluate(Request(uri="/", headers=[("Host", "a.example.com")]))
    assert decision.evaluated_at_ms == CLOCK_MS
    assert decision_to_log_record(decision)["timestamp"] == CLOCK_MS
    logged_at = 1_600_000_000_000
    timed = acl.evaluate(Request(uri="/", headers=[("Host", "a.example.com")], timestamp_ms=logged_at))
    assert decision_to_log_record(timed)["timestamp"] == timed.evaluated_at_ms == logged_at
