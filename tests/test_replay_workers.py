"""Workers keep the output identical and in input order; summaries stay bounded in memory."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import random
import select
import tempfile
from pathlib import Path

import pytest

from tests.replay_fixtures import T0, acl_document, alb_line, run_cli, waf_record, write_acl, write_jsonl
from wafpy.logs.records import LoggedOutcome
from wafpy.replay import BadLine, Outcome, Replay, ReplayOptions
from wafpy.replay.summary import Summary, Timeline, TopK
from wafpy.webacl import load_web_acl

pytestmark = pytest.mark.slow  # worker processes

URIS = ["/", "/admin/x", "/login", "/products", "/api/items", "/ADMIN", "/cart"]


def many_records(n: int, seed: int = 5) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        waf_record(
            i,
            rng.choice(URIS),
            ua=rng.choice(["Mozilla/5.0", "SomeBot/2", None]),
            ip=f"198.51.100.{rng.randrange(256)}",
        )
        for i in range(n)
    ]


def write_log_with_bad_lines(path: Path, n: int) -> Path:
    write_jsonl(path, many_records(n))
    lines = path.read_text().splitlines()
    lines.insert(n // 3, "{broken")
    lines.insert(2 * n // 3, '{"httpRequest": 5}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_workers_write_exactly_what_one_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl = write_acl(tmp_path / "acl.json")
    logs = write_log_with_bad_lines(tmp_path / "waf.jsonl", 2500)
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        code, _, _ = run_cli(
            [
                "eval",
                str(acl),
                str(logs),
                "--search-string",
                "text",
                "-q",
                "--workers",
                workers,
                "-o",
                str(out),
            ],
            capsys,
        )
        assert code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == 2500


@pytest.mark.parametrize("chunk_lines", [1, 7, 500])
def test_parallel_results_equal_serial_results_in_input_order(tmp_path: Path, chunk_lines: int) -> None:
    acl = load_web_acl(acl_document(), search_string="text")
    logs = write_log_with_bad_lines(tmp_path / "waf.jsonl", 300)
    options = ReplayOptions(write_records=True, chunk_lines=chunk_lines)
    serial = list(Replay(acl, [str(logs)], options))
    parallel = list(
        Replay(acl, [str(logs)], ReplayOptions(write_records=True, chunk_lines=chunk_lines, workers=2))
    )
    assert parallel == serial
    lines = [item.line or 0 for item in parallel]
    assert lines == sorted(lines) and len(lines) == 302
    assert [item.line for item in parallel if isinstance(item, BadLine)] == [101, 201]


def test_limit_with_workers_stops_early(tmp_path: Path) -> None:
    acl = load_web_acl(acl_document(), search_string="text")
    logs = write_jsonl(tmp_path / "waf.jsonl", many_records(2000))
    replay = Replay(acl, [str(logs)], ReplayOptions(workers=2, limit=25, chunk_lines=10))
    items = list(replay)
    assert [item.line for item in items] == list(range(1, 26))


def test_rate_based_rules_keyed_by_ip_are_split_by_client_ip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl = load_web_acl(acl_document(rate_based=True), search_string="text")
    assert Replay(acl, [], ReplayOptions(workers=4)).workers_used == 4  # one process per partition
    assert Replay(acl, [], ReplayOptions(workers=4, strict=True)).workers_used == 1
    assert (
        Replay(load_web_acl(acl_document(), search_string="text"), [], ReplayOptions(workers=4)).workers_used
        == 4
    )
    path = write_acl(tmp_path / "acl.json", rate_based=True)
    # 150 requests from one IP within 150 s: the rate rule (limit 100 / 60 s) must see them all in order.
    logs = write_jsonl(tmp_path / "waf.jsonl", [waf_record(i, "/x", ts=T0 + i * 100) for i in range(150)])
    out = {}
    for workers in ("1", "2"):
        target = tmp_path / f"out{workers}.jsonl"
        code, _, stderr = run_cli(
            [
                "eval",
                str(path),
                str(logs),
                "--search-string",
                "text",
                "-q",
                "--workers",
                workers,
                "-o",
                str(target),
            ],
            capsys,
        )
        assert code == 0
        assert "--workers is ignored" not in stderr
        out[workers] = target.read_bytes()
    assert out["1"] == out["2"]
    assert out["1"].count(b'"terminatingRuleId":"rate-limit"') == 50  # requests 101..150


def test_topk_is_bounded_and_keeps_heavy_hitters() -> None:
    top = TopK(capacity=50)
    rng = random.Random(1)
    for i in range(100_000):
        top.add("heavy-a" if i % 10 == 0 else "heavy-b" if i % 25 == 0 else f"tail-{rng.randrange(10**9)}")
        assert len(top) <= 100
    ranked = dict(top.top(2))
    assert set(ranked) == {"heavy-a", "heavy-b"}
    assert 10_000 - top.error <= ranked["heavy-a"] <= 10_000
    assert top.approximate


def test_topk_is_exact_below_capacity() -> None:
    top = TopK(capacity=10)
    for key in "abcabca":
        top.add(key)
    assert top.top(3) == [("a", 3), ("b", 2), ("c", 2)]
    assert not top.approximate


def test_timeline_widens_buckets_instead_of_growing() -> None:
    timeline = Timeline(max_buckets=100)
    for minute in range(10_000):
        timeline.add(T0 + minute * 60_000, "ALLOW")
    assert len(timeline.buckets) <= 100
    assert timeline.width_ms > 60_000
    assert sum(c["ALLOW"] for c in timeline.buckets.values()) == 10_000
    series = timeline.series()
    assert all(b[0] - a[0] == timeline.width_ms for a, b in itertools.pairwise(series))


def test_summary_memory_does_not_grow_with_the_number_of_requests() -> None:
    summary = Summary(top_capacity=100)
    for i in range(50_000):
        summary.add(
            Outcome(
                "f",
                i + 1,
                T0 + i * 1000,
                "waf",
                "GET",
                f"/p/{i}",
                f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                "BLOCK",
                "r",
                "REGULAR",
                (f"label:{i}",),
                ("count-rule",),
                (),
                LoggedOutcome("ALLOW"),
                None,
            )
        )
        summary.add_bad(BadLine("bad", "f", i))
    assert summary.total == 50_000 and summary.bad_lines == 50_000
    assert len(summary.blocked_ips) <= 200 and len(summary.blocked_uris) <= 200 and len(summary.labels) <= 200
    assert len(summary.bad_examples) == 10
    assert summary.counted == {"count-rule": 50_000} and summary.requests_counted == 50_000
    assert len(summary.timeline.buckets) <= summary.timeline.max_buckets


def _by_batches(acl: object, paths: list[str], **options: object) -> tuple[bytes, Summary, list[str | None]]:
    """What `wafpy eval -o FILE` writes and counts, and the batches' record files."""
    summary = Summary()
    replay = Replay(acl, paths, ReplayOptions(write_records=True, **options))  # type: ignore[arg-type]
    out = io.BytesIO()
    files: list[str | None] = []
    for batch in replay.batches(summary):
        batch.write_to(out)
        files.append(batch.records_path)
    return out.getvalue(), summary, files


def _bad_where(summary: Summary) -> list[tuple[str | None, int | None, str]]:
    return [(b.file, b.line, b.message) for b in summary.bad_examples]


@pytest.mark.parametrize("range_bytes", [1, 333, 997, 4096, 1 << 20])
def test_byte_ranges_write_what_one_process_writes(tmp_path: Path, range_bytes: int) -> None:
    """Workers read ranges of a plain file themselves; split points land mid-line."""
    acl = load_web_acl(acl_document(), search_string="text")
    lines = [json.dumps(r).encode() for r in many_records(400)]
    start = 0
    for i, line in enumerate(lines):  # bad lines where the 997-byte ranges are cut (mid-line)
        if start // 997 != (start + len(line)) // 997 and i % 2 == 0:
            lines[i] = b"{broken" + line[7:]
        start += len(line) + 1
    lines[300:300] = [b"", b"# a comment", b"   "]
    path = tmp_path / "waf.jsonl"
    path.write_bytes(b"\n".join(lines))  # no newline at the end
    serial, serial_summary, _ = _by_batches(acl, [str(path)])
    parallel, summary, files = _by_batches(acl, [str(path)], workers=2, range_bytes=range_bytes)
    assert parallel == serial and serial.count(b"\n") == summary.total
    assert summary.bad_lines == serial_summary.bad_lines > 1
    assert _bad_where(summary) == _bad_where(serial_summary)
    broken = [n for n, line in enumerate(lines, 1) if line.startswith(b"{broken")]
    assert [b.line for b in summary.bad_examples] == broken[: len(summary.bad_examples)]
    assert any(files)  # the byte-range path wrote them
    assert (summary.by_rule, summary.timeline.buckets) == (
        serial_summary.by_rule,
        serial_summary.timeline.buckets,
    )


def _space_outside_quotes(text: str, after: int) -> int:
    return next(i for i in range(after, len(text)) if text[i] == " " and text[:i].count('"') % 2 == 0)


def test_byte_ranges_split_alb_logs_only_between_entries(tmp_path: Path) -> None:
    acl = load_web_acl(acl_document(), search_string="text")
    entries = [alb_line(i, URIS[i % len(URIS)]) for i in range(120)]
    wrapped = []
    for i, entry in enumerate(entries):  # one entry in five wrapped over three lines, as in the docs
        if i % 5 == 1:
            cuts = [_space_outside_quotes(entry, 40), _space_outside_quotes(entry, 150)]
            first, second, third = entry[: cuts[0]], entry[cuts[0] + 1 : cuts[1]], entry[cuts[1] + 1 :]
            wrapped += [first, "  " + second, "  " + third]
        else:
            wrapped.append(entry)
    path = tmp_path / "alb.log"
    path.write_text("\n".join(wrapped) + "\n")
    serial, serial_summary, _ = _by_batches(acl, [str(path)])
    for range_bytes in (1, 100, 700):
        parallel, summary, files = _by_batches(acl, [str(path)], workers=2, range_bytes=range_bytes)
        assert parallel == serial
        assert summary.total == serial_summary.total == 120 and summary.bad_lines == 0
        assert any(files)


def test_byte_ranges_mix_with_other_inputs_in_order(tmp_path: Path) -> None:
    """Plain files go by byte ranges; gzip, documents and missing files stay on the chunk path."""
    acl = load_web_acl(acl_document(), search_string="text")
    records = many_records(90)
    plain = write_jsonl(tmp_path / "a.jsonl", records[:30])
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records[30:60])))
    document = tmp_path / "c.json"
    document.write_text(json.dumps(records[60:75], indent=2))
    last = write_jsonl(tmp_path / "d.jsonl", records[75:])
    paths = [str(plain), str(packed), str(tmp_path / "missing.jsonl"), str(document), str(last)]
    serial, serial_summary, _ = _by_batches(acl, paths)
    parallel, summary, files = _by_batches(acl, paths, workers=2, range_bytes=2000, chunk_lines=7)
    assert parallel == serial and serial.count(b"\n") == 90
    assert _bad_where(summary) == _bad_where(serial_summary) and summary.bad_lines == 1
    assert any(files) and None in files


def test_byte_range_files_are_removed_even_on_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acl = load_web_acl(acl_document(), search_string="text")
    path = write_log_with_bad_lines(tmp_path / "waf.jsonl", 300)
    folders: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(suffix: str | None = None, prefix: str | None = None) -> str:
        folders.append(real(suffix, prefix, tmp_path))
        return folders[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    _by_batches(acl, [str(path)], workers=2, range_bytes=3000)
    replay = Replay(acl, [str(path)], ReplayOptions(write_records=True, workers=2, range_bytes=3000))
    batches = replay.batches(Summary())
    next(batches)
    batches.close()  # the caller stops early (an error, Ctrl-C, a closed pipe)
    strict = Replay(
        acl, [str(path)], ReplayOptions(write_records=True, workers=2, strict=True, range_bytes=3000)
    )
    stopped = [b.stopped for b in strict.batches(Summary()) if b.stopped is not None]
    assert [b.line for b in stopped] == [101]
    assert len(folders) == 3
    assert not any(os.path.exists(folder) for folder in folders)


def test_byte_range_records_reach_real_files_and_pipes(tmp_path: Path) -> None:
    acl = load_web_acl(acl_document(), search_string="text")
    path = write_jsonl(tmp_path / "waf.jsonl", many_records(200))
    expected, _, _ = _by_batches(acl, [str(path)])
    with open(tmp_path / "out.jsonl", "wb") as sink:
        sink.write(b"head\n")
        replay = Replay(acl, [str(path)], ReplayOptions(write_records=True, workers=2, range_bytes=5000))
        for batch in replay.batches(Summary()):
            batch.write_to(sink)
        assert sink.tell() == len(expected) + 5
        sink.write(b"tail\n")
    assert (tmp_path / "out.jsonl").read_bytes() == b"head\n" + expected + b"tail\n"
    read_fd, write_fd = os.pipe()
    received = bytearray()
    with open(write_fd, "wb") as sink:
        replay = Replay(acl, [str(path)], ReplayOptions(write_records=True, workers=2, range_bytes=5000))
        with open(read_fd, "rb") as pipe:
            for batch in replay.batches(Summary()):
                batch.write_to(sink)
                sink.flush()
                while len(received) < len(expected) and select.select([pipe], [], [], 0)[0]:
                    received += os.read(read_fd, 1 << 16)
            sink.close()
            received += pipe.read()
    assert bytes(received) == expected
