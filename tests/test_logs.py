"""Log readers: sources (files, folders, stdin, gzip), format detection, the three parsers."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from wafpy.errors import LogFormatError
from wafpy.logs import (
    LogEntry,
    iter_lines,
    parse_alb_line,
    parse_json_line,
    parse_jsonl_line,
    parse_time,
    parse_waf_line,
    read_entries,
    within,
)
from wafpy.logs.alblog import split_alb
from wafpy.logs.sources import InputError

# --- fixtures -------------------------------------------------------------------------------

ALB_HEAD = (
    "https 2024-05-01T10:00:01.500000Z app/shop-alb/50dc6c495c0c9188 {client} 10.0.1.7:8080 "
    '0.001 0.010 0.000 {status} 200 310 1200 "{request}" "{agent}" '
    "ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2"
)
ALB_TAIL = (
    " arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop/73e2d6bc24d8a067 "
    '"Root=1-6632128d-0123456789abcdef01234567" "shop.example.com" "session-reused" 3 '
    '2024-05-01T10:00:01.250000Z "{actions}" "-" "-" "10.0.1.7:8080" "200" "-" "-"'
)


def alb(
    request: str = "GET https://shop.example.com:443/cart?item=42 HTTP/1.1",
    agent: str = "Mozilla/5.0",
    client: str = "198.51.100.23:51234",
    actions: str | None = "waf,forward",
    status: str = "200",
) -> bytes:
    line = ALB_HEAD.format(client=client, status=status, request=request, agent=agent)
    if actions is not None:
        line += ALB_TAIL.format(actions=actions)
    return line.encode()


def waf_record(**http: Any) -> dict[str, Any]:
    request = {
        "clientIp": "203.0.113.9",
        "country": "DE",
        "headers": [
            {"name": "Host", "value": "shop.example.com"},
            {"name": "User-Agent", "value": "curl/8.4.0"},
        ],
        "uri": "/search",
        "args": "q=shoes",
        "httpVersion": "HTTP/1.1",
        "httpMethod": "GET",
        "requestId": "1-6632128d-0123456789abcdef01234567",
    }
    request.update(http)
    return {
        "timestamp": 1714557601250,
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shop/0f0e",
        "terminatingRuleId": "block-sqli",
        "terminatingRuleType": "REGULAR",
        "action": "BLOCK",
        "nonTerminatingMatchingRules": [{"ruleId": "tag-bots", "action": "COUNT", "ruleMatchDetails": []}],
        "labels": [{"name": "awswaf:111122223333:webacl:shop:bot:suspect"}],
        "responseCodeSent": None,
        "httpRequest": request,
        "someFutureField": {"ignored": True},
    }


def line_of(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def read(paths: list[str], **kwargs: Any) -> tuple[list[LogEntry], list[LogFormatError]]:
    errors: list[LogFormatError] = []
    return list(read_entries(paths, on_error=errors.append, **kwargs)), errors


# --- ALB ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ('a "b c" d', ["a", "b c", "d"]),
        ('"say \\"hi\\"" -', ['say "hi"', "-"]),
        ('"" x', ["", "x"]),
        ('"a\\\\b"', ["a\\b"]),
        ("  lots   of space ", ["lots", "of", "space"]),
    ],
)
def test_split_alb(text: str, fields: list[str]) -> None:
    assert split_alb(text) == fields


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        (
            alb(),
            {
                "httpMethod": "GET",
                "uri": "/cart",
                "args": "item=42",
                "clientIp": "198.51.100.23",
                "host": "shop.example.com",
                "scheme": "https",
                "httpVersion": "HTTP/1.1",
            },
        ),
        (alb(client="2001:db8::17:51234"), {"clientIp": "2001:db8::17"}),
        (
            alb(request="GET http://shop.example.com:8080/a/b HTTP/2.0"),
            {"host": "shop.example.com:8080", "uri": "/a/b", "args": "", "httpVersion": "HTTP/2.0"},
        ),
        (alb(request="GET http://[2001:db8::1]:80/x?y= HTTP/1.1"), {"host": "[2001:db8::1]", "args": "y="}),
        (
            alb(request="GET https://shop.example.com:443/p?a=1#frag HTTP/1.1"),
            {"uri": "/p", "args": "a=1", "fragment": "frag"},
        ),
        (alb(request="POST https://shop.example.com:443/login HTTP/1.1"), {"httpMethod": "POST"}),
        (alb(request="GET https://shop.example.com:443 HTTP/1.1"), {"uri": "/"}),
    ],
)
def test_alb_request_fields(raw: bytes, expect: dict[str, str]) -> None:
    entry = parse_alb_line(raw, "a.log", 3)
    got = {key: entry.http_request.get(key) for key in expect}
    assert got == expect
    assert (entry.kind, entry.line, entry.body_available) == ("alb", 3, False)


def test_alb_headers_come_from_authority_and_user_agent() -> None:
    entry = parse_alb_line(alb(agent='Bot \\"quoted\\" 1.0'), "a.log", 1)
    assert entry.http_request["headers"] == [
        {"name": "Host", "value": "shop.example.com"},
        {"name": "User-Agent", "value": 'Bot "quoted" 1.0'},
    ]


def test_alb_missing_user_agent_is_absent_but_known() -> None:
    entry = parse_alb_line(alb(agent="-"), "a.log", 1)
    assert [h["name"] for h in entry.http_request["headers"]] == ["Host"]
    assert entry.carries("header:user-agent")


def test_alb_available_parts() -> None:
    entry = parse_alb_line(alb(), "a.log", 1)
    assert entry.carries("method") and entry.carries("uri") and entry.carries("query")
    assert entry.carries("header:host") and entry.carries("client_ip")
    assert not entry.carries("header:cookie")
    assert not entry.carries("headers") and not entry.carries("body") and not entry.carries("country")


def test_alb_timestamp_prefers_request_creation_time() -> None:
    assert parse_alb_line(alb(), "a.log", 1).timestamp_ms == parse_time("2024-05-01T10:00:01.250Z")
    old = parse_alb_line(alb(actions=None), "a.log", 1)
    assert old.timestamp_ms == parse_time("2024-05-01T10:00:01.500Z")


@pytest.mark.parametrize(
    ("actions", "status", "action", "excluded", "note"),
    [
        ("waf,forward", "200", "ALLOW", False, None),
        ("waf", "403", "BLOCK", False, None),
        ("authenticate,waf", "405", "BLOCK", False, None),
        ("waf-failed,forward", "200", None, True, "waf-failed"),
        ("forward", "200", None, True, "WAF not in actions_executed"),
    ],
)
def test_alb_ground_truth(
    actions: str, status: str, action: str | None, excluded: bool, note: str | None
) -> None:
    logged = parse_alb_line(alb(actions=actions, status=status), "a.log", 1).logged
    assert logged is not None
    assert (logged.action, logged.excluded, logged.note, logged.status_code) == (
        action,
        excluded,
        note,
        int(status),
    )


def test_alb_old_field_set_has_no_ground_truth() -> None:
    entry = parse_alb_line(alb(actions=None), "a.log", 1)
    assert entry.logged is None and entry.http_request["uri"] == "/cart"


def test_alb_extra_trailing_fields_ignored() -> None:
    raw = alb() + b' TID_abc "-" "-" "-" future-field "another one"'
    assert parse_alb_line(raw, "a.log", 1).http_request["uri"] == "/cart"


def test_alb_classic_elb_line_without_type() -> None:
    raw = alb(actions=None).split(b" ", 1)[1]
    entry = parse_alb_line(raw, "elb.log", 1)
    assert (entry.http_request["uri"], entry.http_request["clientIp"]) == ("/cart", "198.51.100.23")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (alb(request="- - - "), "could not parse this request"),
        (b"https 2024-05-01T10:00:01Z app/x 1.2.3.4:5 - 0 0 0 400", "at least 16 fields"),
        (alb(status="abc"), "elb_status_code"),
        (alb().replace(b"2024-05-01T10:00:01.250000Z", b"yesterday"), "ISO 8601"),
    ],
)
def test_alb_bad_lines(raw: bytes, message: str) -> None:
    with pytest.raises(LogFormatError, match=message) as info:
        parse_alb_line(raw, "a.log", 7)
    assert (info.value.file, info.value.line) == ("a.log", 7)


def test_alb_wrapped_entries_are_joined(tmp_path: Path) -> None:
    one, two = alb().decode(), alb(request="GET https://shop.example.com:443/b HTTP/1.1").decode()
    a, b, c = one.index(" ", 60), one.index(" ", 200), two.index(" ", 40)  # the guide wraps between fields
    wrapped = f"{one[:a]} \n{one[a + 1 : b]}\n{one[b + 1 :]}\n\n{two[:c]}\n{two[c + 1 :]}\n"
    path = tmp_path / "doc.txt"
    path.write_text(wrapped)
    entries, errors = read([str(path)])
    assert errors == []
    assert [(e.line, e.http_request["uri"]) for e in entries] == [(1, "/cart"), (5, "/b")]


def test_alb_stray_line_after_complete_entry_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(alb() + b"\ngarbage here\n" + alb() + b"\n")
    entries, errors = read([str(path)])
    assert len(entries) == 2
    assert [(e.line, "16 fields" in e.message) for e in errors] == [(2, True)]


# --- AWS WAF records ------------------------------------------------------------------------


def test_waf_record_fields_and_ground_truth() -> None:
    entry = parse_waf_line(line_of(waf_record()), "w.jsonl", 2)
    assert entry.http_request["uri"] == "/search" and entry.http_request["args"] == "q=shoes"
    assert entry.timestamp_ms == 1714557601250 and entry.kind == "waf" and not entry.body_available
    assert entry.logged is not None
    assert entry.logged.action == "BLOCK" and entry.logged.terminating_rule_id == "block-sqli"
    assert entry.logged.labels == ("awswaf:111122223333:webacl:shop:bot:suspect",)
    assert entry.logged.non_terminating_rule_ids == ("tag-bots",)
    assert entry.record is not None and entry.record["someFutureField"] == {"ignored": True}
    assert entry.carries("headers") and entry.carries("header:x-anything") and not entry.carries("body")


HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.mark.parametrize(
    ("http", "missing", "kept_headers"),
    [
        (
            {"headers": [{"name": "Host", "value": "a"}, {"name": "Authorization", "value": "REDACTED"}]},
            {"headers", "cookies"},
            ["Host"],
        ),
        (
            {"headers": [{"name": "X-Api-Key", "value": HASH}, {"name": "Cookie", "value": "a=1"}]},
            {"headers"},
            ["Cookie"],
        ),
        (
            {"headers": [{"name": "Cookie", "value": "session=REDACTED; theme=dark"}]},
            {"headers", "cookies"},
            ["Cookie"],
        ),
        ({"headers": [{"name": "myHeader", "myValue": "typo upstream"}]}, {"headers", "cookies"}, []),
        ({"uri": "REDACTED"}, {"uri"}, ["Host", "User-Agent"]),
        ({"uri": HASH.upper()}, {"uri"}, ["Host", "User-Agent"]),
        ({"args": "REDACTED"}, {"query"}, ["Host", "User-Agent"]),
        ({"args": "user=bob&token=REDACTED"}, {"query"}, ["Host", "User-Agent"]),
        ({"args": f"sig={HASH}&x=1"}, {"query"}, ["Host", "User-Agent"]),
        ({"httpMethod": "REDACTED"}, {"method"}, ["Host", "User-Agent"]),
    ],
)
def test_waf_hidden_values_are_unknown(
    http: dict[str, Any], missing: set[str], kept_headers: list[str]
) -> None:
    entry = parse_waf_line(line_of(waf_record(**http)), "w.jsonl", 1)
    assert {part for part in missing if entry.carries(part)} == set()
    assert [h["name"] for h in entry.http_request["headers"]] == kept_headers
    assert "REDACTED" not in {entry.http_request["uri"], entry.http_request["httpMethod"]}


def test_waf_known_headers_listed_when_some_are_hidden() -> None:
    http = {"headers": [{"name": "User-Agent", "value": "x"}, {"name": "Authorization", "value": "REDACTED"}]}
    entry = parse_waf_line(line_of(waf_record(**http)), "w.jsonl", 1)
    assert entry.carries("header:user-agent") and not entry.carries("header:authorization")


def test_waf_missing_and_null_fields_are_tolerated() -> None:
    record = {
        "timestamp": None,
        "action": "ALLOW",
        "httpRequest": {"uri": "/", "httpMethod": "GET", "clientIp": None, "headers": None},
    }
    entry = parse_waf_line(line_of(record), "w.jsonl", 1)
    assert entry.timestamp_ms is None and entry.http_request["clientIp"] == ""
    assert not entry.carries("client_ip") and not entry.carries("headers") and not entry.carries("query")
    assert not entry.carries("country") and entry.carries("uri")


def test_waf_iso_timestamp_and_fingerprints() -> None:
    record = waf_record()
    record.update(timestamp="2024-03-20T10:30:00.000Z", ja3Fingerprint="e7d705a3286e19ea42f587b344ee6865")
    entry = parse_waf_line(line_of(record), "w.jsonl", 1)
    assert entry.timestamp_ms == 1710930600000
    assert entry.http_request["ja3Fingerprint"] == "e7d705a3286e19ea42f587b344ee6865" and entry.carries("ja3")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (line_of({"action": "BLOCK", "httpRequest": "GET /"}), "httpRequest must be an object"),
        (line_of(waf_record(uri=42)), "httpRequest.uri must be a string"),
        (line_of(waf_record(headers={"Host": "x"})), "headers must be a list"),
        (line_of(waf_record(headers=[{"value": "x"}])), r"headers\[0\]"),
        (line_of({**waf_record(), "action": 1}), "action must be a string"),
        (line_of({**waf_record(), "timestamp": True}), "timestamp"),
    ],
)
def test_waf_bad_lines(raw: bytes, message: str) -> None:
    with pytest.raises(LogFormatError, match=message) as info:
        parse_waf_line(raw, "w.jsonl", 9)
    assert (info.value.file, info.value.line) == ("w.jsonl", 9)


def test_sampled_request_is_converted() -> None:
    item = {
        "Action": "BLOCK",
        "Timestamp": 1581541799.564,
        "RuleNameWithinRuleGroup": "AWS#AWSManagedRulesSQLiRuleSet#SQLi_BODY",
        "Request": {
            "Country": "US",
            "URI": "/",
            "ClientIP": "198.51.100.8",
            "Method": "POST",
            "HTTPVersion": "HTTP/1.1",
            "Headers": [{"Name": "Host", "Value": "a.example"}],
        },
        "Weight": 1,
    }
    entry = parse_json_line(line_of(item), "s.json", 1)
    assert entry.http_request["headers"] == [{"name": "Host", "value": "a.example"}]
    assert (entry.http_request["httpMethod"], entry.http_request["clientIp"]) == ("POST", "198.51.100.8")
    assert entry.timestamp_ms == 1581541799564 and entry.logged is not None and entry.logged.action == "BLOCK"
    assert not entry.carries("query") and entry.carries("headers")


# --- request lines --------------------------------------------------------------------------


def test_request_line_with_body() -> None:
    obj = {
        "httpMethod": "POST",
        "uri": "/login",
        "clientIp": "192.0.2.1",
        "headers": {"Content-Type": "a/b"},
        "body": "user=alice",
        "timestamp": "2024-01-01T00:00:00Z",
    }
    entry = parse_jsonl_line(line_of(obj), "r.jsonl", 4)
    assert entry.kind == "jsonl" and entry.body_available and entry.carries("body")
    assert entry.http_request["body"] == "user=alice" and entry.http_request["args"] == ""
    assert entry.http_request["headers"] == [{"name": "Content-Type", "value": "a/b"}]
    assert entry.timestamp_ms == 1704067200000 and entry.logged is None


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"uri": "/"}, "httpMethod and uri"),
        ({"httpMethod": "GET", "uri": "/", "body": "a", "bodyBase64": "YQ=="}, "not both"),
        ({"httpMethod": "GET", "uri": "/", "body": 5}, "body must be a string"),
        ({"httpMethod": "GET", "uri": "/", "headers": [{"name": "a", "value": 1}]}, r"headers\[0\]"),
    ],
)
def test_request_line_bad(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(LogFormatError, match=message):
        parse_jsonl_line(line_of(obj), "r.jsonl", 1)


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        (waf_record(), "waf"),
        ({"httpMethod": "GET", "uri": "/"}, "jsonl"),
        ({"Action": "ALLOW", "Request": {"URI": "/", "Method": "GET", "ClientIP": "192.0.2.1"}}, "waf"),
    ],
)
def test_json_shape_detection(obj: dict[str, Any], kind: str) -> None:
    assert parse_json_line(line_of(obj), "x", 1).kind == kind


# --- sources and read_entries ---------------------------------------------------------------


def write(path: Path, data: bytes, *, gz: bool = False) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def ndjson(count: int, start: int = 0) -> bytes:
    return b"".join(line_of(waf_record(uri=f"/p{i}")) + b"\n" for i in range(start, start + count))


@pytest.mark.parametrize(
    ("name", "gz"),
    [("plain.log", False), ("zipped.gz", True), ("zipped-without-suffix.log", True), ("inflated.gz", False)],
)
def test_gzip_detected_by_magic_bytes(tmp_path: Path, name: str, gz: bool) -> None:
    path = write(tmp_path / name, ndjson(3), gz=gz)
    entries, errors = read([path])
    assert [e.http_request["uri"] for e in entries] == ["/p0", "/p1", "/p2"] and errors == []


def test_folder_is_read_recursively_sorted_skipping_hidden(tmp_path: Path) -> None:
    write(tmp_path / "b" / "2.log", ndjson(1, 2))
    write(tmp_path / "a.log", ndjson(1, 0), gz=True)
    write(tmp_path / "b" / "1.log", ndjson(1, 1))
    write(tmp_path / ".hidden.log", ndjson(1, 9))
    write(tmp_path / ".git" / "x.log", ndjson(1, 8))
    entries, errors = read([str(tmp_path)])
    assert [e.http_request["uri"] for e in entries] == ["/p0", "/p1", "/p2"] and errors == []


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(gzip.compress(alb() + b"\n" + alb() + b"\n"))))
    monkeypatch.setattr(sys, "stdin", stdin)
    entries, _ = read(["-"])
    assert [(e.source, e.line, e.kind) for e in entries] == [("<stdin>", 1, "alb"), ("<stdin>", 2, "alb")]


def test_truncated_gzip_keeps_earlier_lines_and_reports_the_break(tmp_path: Path) -> None:
    data = gzip.compress(ndjson(2000))
    broken = write(tmp_path / "broken.gz", data[: len(data) // 2])
    after = write(tmp_path / "zz-after.log", ndjson(1, 7))
    entries, errors = read([broken, after])
    read_before = len(entries) - 1
    assert read_before > 100 and entries[-1].http_request["uri"] == "/p7"
    assert [e.http_request["uri"] for e in entries[:read_before]] == [f"/p{i}" for i in range(read_before)]
    assert len(errors) == 1 and errors[0].file == broken and errors[0].line == read_before + 1
    assert isinstance(errors[0], InputError)  # the input, not one line: the rest of it is lost
    expected = f"truncated gzip file: the compressed data ends after line {read_before} "
    assert errors[0].message.startswith(expected)


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(ndjson(50)))
    data[-6] ^= 0xFF  # the CRC/size trailer no longer matches
    _, errors = read([write(tmp_path / "bad.gz", bytes(data))])
    assert len(errors) == 1 and errors[0].file is not None and errors[0].file.endswith("bad.gz")
    assert isinstance(errors[0], InputError)


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    lines = [line_of(waf_record()), b"{broken", b"", b"# a comment", b"42", line_of(waf_record(uri="/ok"))]
    path = write(tmp_path / "w.jsonl", b"\n".join(lines) + b"\n")
    entries, errors = read([path])
    assert [(e.line, e.http_request["uri"]) for e in entries] == [(1, "/search"), (6, "/ok")]
    assert [(e.file, e.line) for e in errors] == [(path, 2), (path, 5)]


def test_strict_raises_the_first_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path / "w.jsonl", line_of(waf_record()) + b"\n{broken\n{worse\n")
    seen: list[LogFormatError] = []
    with pytest.raises(LogFormatError) as info:
        list(read_entries([path], strict=True, on_error=seen.append))
    assert info.value.line == 2 and seen == []


def test_without_on_error_bad_lines_raise(tmp_path: Path) -> None:
    path = write(tmp_path / "w.jsonl", b"{broken\n")
    with pytest.raises(LogFormatError):
        list(read_entries([path]))


def test_missing_file_reported_and_run_continues(tmp_path: Path) -> None:
    good = write(tmp_path / "w.jsonl", ndjson(1))
    entries, errors = read([str(tmp_path / "nope.log"), good])
    assert len(entries) == 1 and [e.message for e in errors] == ["no such file or folder"]
    assert isinstance(errors[0], InputError)


def test_lines_before_a_recognisable_one_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", b"hello world\n" + alb() + b"\n")
    entries, errors = read([path])
    assert [e.line for e in entries] == [2] and [e.line for e in errors] == [1]


@pytest.mark.parametrize(
    ("fmt", "content", "entries", "errors"),
    [
        ("waf", line_of({"httpMethod": "GET", "uri": "/"}), 0, 1),
        ("jsonl", line_of({"httpMethod": "GET", "uri": "/"}), 1, 0),
        ("alb", line_of(waf_record()), 0, 1),
        ("auto", alb(), 1, 0),
    ],
)
def test_forced_format(tmp_path: Path, fmt: Any, content: bytes, entries: int, errors: int) -> None:
    got, errs = read([write(tmp_path / "x.log", content + b"\n")], format=fmt)
    assert (len(got), len(errs)) == (entries, errors)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        read_entries([], format="csv")  # type: ignore[arg-type]


def test_json_array_file(tmp_path: Path) -> None:
    array = json.dumps([waf_record(uri="/a"), waf_record(uri="/b")], indent=2)
    second = array[: array.index("},\n  {") + 4].count("\n") + 1
    entries, errors = read([write(tmp_path / "export.json", array.encode())])
    assert [(e.line, e.http_request["uri"]) for e in entries] == [(2, "/a"), (second, "/b")] and errors == []


def test_one_line_json_array_file(tmp_path: Path) -> None:
    array = json.dumps([waf_record(uri="/a"), {"httpMethod": "GET", "uri": "/b"}]).encode()
    entries, _ = read([write(tmp_path / "export.json", array)])
    assert [(e.kind, e.http_request["uri"]) for e in entries] == [("waf", "/a"), ("jsonl", "/b")]


def test_pretty_printed_records_one_after_another(tmp_path: Path) -> None:
    first = json.dumps(waf_record(uri="/a"), indent=4)
    text = "\n" + first + "\n" + json.dumps(waf_record(uri="/b"), indent=4)
    second = first.count("\n") + 3  # after the leading blank line and the first record
    entries, errors = read([write(tmp_path / "doc.json", text.encode(), gz=True)])
    assert [(e.line, e.http_request["uri"]) for e in entries] == [(2, "/a"), (second, "/b")] and errors == []


def test_broken_json_document_reports_its_line(tmp_path: Path) -> None:
    text = json.dumps(waf_record(), indent=2).replace('"uri"', "uri")
    broken_line = text[: text.index("uri:")].count("\n") + 1
    entries, errors = read([write(tmp_path / "doc.json", text.encode())])
    assert entries == [] and len(errors) == 1 and errors[0].line == broken_line


def test_iter_lines_numbers_physical_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", b"one\n\n  \n# c\nfive\n")
    assert list(iter_lines([path])) == [(path, 1, b"one\n"), (path, 5, b"five\n")]


@pytest.mark.slow
def test_streaming_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    def peak(count: int) -> int:
        path = write(tmp_path / f"{count}.gz", ndjson(count), gz=True)
        tracemalloc.start()
        seen = sum(1 for _ in read_entries([path]))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert seen == count
        return top

    small, large = peak(100), peak(20_000)
    assert large < small * 3  # 200x the lines, same working set


# --- selection helpers ----------------------------------------------------------------------


def test_since_until_limit(tmp_path: Path) -> None:
    records = [dict(waf_record(uri=f"/{i}"), timestamp=1000 * i) for i in range(10)]
    records.append(dict(waf_record(uri="/none"), timestamp=None))
    path = write(tmp_path / "w.jsonl", b"\n".join(line_of(r) for r in records))
    entries, _ = read([path], since=3000, until=7000)
    assert [e.http_request["uri"] for e in entries] == ["/3", "/4", "/5", "/6"]
    entries, _ = read([path], limit=2)
    assert [e.http_request["uri"] for e in entries] == ["/0", "/1"]
    everything, _ = read([path])
    assert len(list(within(everything))) == 11 and len(list(within(everything, since=0))) == 10


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000000123", 1700000000123),
        ("2024-03-20T10:30:00Z", 1710930600000),
        ("2024-03-20T12:30:00+02:00", 1710930600000),
        ("2024-03-20", 1710892800000),
    ],
)
def test_parse_time(text: str, ms: int) -> None:
    assert parse_time(text) == ms


def test_parse_time_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time("last tuesday")


# --- bundled samples and web ACL ------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("name", "count", "kind"),
    [("waf-logs.jsonl.gz", 610, "waf"), ("alb-access.log", 205, "alb"), ("requests.jsonl", 20, "jsonl")],
)
def test_bundled_samples_read_cleanly(name: str, count: int, kind: str) -> None:
    entries, errors = read([str(ROOT / "samples" / name)])
    assert (len(entries), {e.kind for e in entries}, errors) == (count, {kind}, [])


def test_bundled_waf_sample_has_blocks_counts_and_rate_limits() -> None:
    entries, _ = read([str(ROOT / "samples" / "waf-logs.jsonl.gz")])
    rules = {e.logged.terminating_rule_id for e in entries if e.logged and e.logged.action == "BLOCK"}
    assert {"block-bad-bots", "block-sqli-query", "rate-limit-login", "admin-office-only"} <= rules
    assert any("tag-suspicious-client" in e.logged.non_terminating_rule_ids for e in entries if e.logged)


def _search_strings_to_bytes(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v) if k == "SearchString" else _search_strings_to_bytes(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_search_strings_to_bytes(v) for v in node]
    return node


def test_bundled_web_acl_is_valid_wafv2_api_input() -> None:
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import ParamValidator  # type: ignore[import-untyped]

    model = botocore_session.get_session().get_service_model("wafv2")
    acl = _search_strings_to_bytes(json.loads((ROOT / "rulesets" / "demo-webacl.json").read_text())["WebACL"])
    keys = ("Name", "DefaultAction", "Description", "Rules", "VisibilityConfig", "CustomResponseBodies")
    params = {k: acl[k] for k in keys} | {"Scope": "REGIONAL"}
    report = ParamValidator().validate(params, model.operation_model("CreateWebACL").input_shape)
    assert not report.has_errors(), report.generate_report()
    arns = {
        next(iter(json.loads(p.read_text()).values()))["ARN"]
        for p in (ROOT / "rulesets" / "demo-resources").glob("*.json")
    }
    referenced = set(re.findall(r'"ARN": "([^"]+)"', json.dumps(acl["Rules"], default=str)))
    assert referenced and referenced <= arns
