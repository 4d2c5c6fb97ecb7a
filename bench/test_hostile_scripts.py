"""The hostile-input scripts build the requests they claim and run end to end (no timing asserted).

pytest bench/test_hostile_scripts.py
"""

from __future__ import annotations

import json
import shutil

import pytest

from bench import hostile, tail_latency


@pytest.mark.parametrize("family", hostile.FAMILIES, ids=[f.name for f in hostile.FAMILIES])
def test_every_family_reaches_its_size(family: hostile.Family) -> None:
    base = hostile.HttpRequest("GET", "/search?q=shoes", list(hostile.BASE_HEADERS)).wire_size()
    for where in family.where:
        for size in (1024, 10 * 1024):
            request = hostile.build_request(family, where, size)
            if request.body and not family.name.startswith("deep-json"):
                json.loads(request.body)
            elif request.body:  # too deep for json.loads: the brackets balance
                opened = request.body.count(b"[") + request.body.count(b"{")
                assert opened == request.body.count(b"]") + request.body.count(b"}")
            added = request.wire_size() - base
            assert size * 0.9 <= added <= size * 1.1 + 200, (where, size, added)


def test_the_hostile_table_names_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--family", "plain-text", "--family", "many-args", "--size", "1024", "--size", "2048"]
    assert hostile.main([*argv, "--reference-repeats", "5", "--no-reported", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "benign GET" in out
    for via in hostile.VIAS:
        assert f"{via}: worst CPU ms per request" in out
    rows = [
        line.split() for line in out.splitlines() if line.startswith("  plain-text") or "many-args" in line
    ]
    assert {(row[0], row[1]) for row in rows} == {("plain-text", where) for where in hostile.WHERE} | {
        ("many-args", "query")
    }
    assert not any("T/O" in " ".join(row) for row in rows)


def test_the_wrk_script_carries_the_mix() -> None:
    requests = tail_latency.mix(5.0, list(tail_latency.DEFAULT_HOSTILE), ["query"], seed=1)
    kinds = [dict(r.headers)[tail_latency.KIND_HEADER] for r in requests]
    hostile_kinds = {k for k in kinds if k.startswith("hostile:")}
    assert hostile_kinds == {f"hostile:{f}:query" for f in tail_latency.DEFAULT_HOSTILE}
    assert kinds.count("get") > kinds.count("post") > len(hostile_kinds) / 2
    script = tail_latency.lua_script(requests)
    assert script.count("table.insert(requests") == len(requests)
    assert "[ [[Host]] ] = [[shop.example.com]]" in script  # wrk keeps a "Host" it is given


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_tail_latency_runs_against_real_uvicorn(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--http", "h11", "--seconds", "1", "--warmup", "0", "--hostile-families", "plain-text", "--trace"]
    assert tail_latency.main(argv) == 0
    out = capsys.readouterr().out
    assert "h11 waf/bare" in out
    assert "trace h11 waf rep 0" in out
    assert "hostile (all)" in out
