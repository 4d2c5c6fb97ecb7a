"""The HTML report: self-contained, escaped, and rendered with charts by a real browser."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from tests.replay_fixtures import acl_document, run_cli, waf_record, write_acl, write_jsonl
from wafpy.replay import BadLine, Replay, ReplayOptions
from wafpy.replay.compare import Comparison
from wafpy.replay.htmlreport import render_html
from wafpy.replay.summary import ACTION_COLORS, Summary
from wafpy.webacl import load_web_acl


def traffic() -> list[dict[str, object]]:
    records = []
    for i in range(600):  # ten minutes, one request a second
        uri = "/admin/panel" if i % 4 == 0 else "/login" if i % 9 == 0 else f"/shop/{i % 13}"
        records.append(waf_record(i, uri, ip=f"203.0.113.{i % 7}"))
    records.append(waf_record(600, "/<script>alert(1)</script>", action="BLOCK", rule="old-xss"))
    return records


def build(tmp_path: Path) -> tuple[Summary, Comparison]:
    acl = load_web_acl(acl_document(), search_string="text")
    logs = write_jsonl(tmp_path / "waf.jsonl", traffic())
    summary, comparison = Summary(), Comparison()
    for item in Replay(acl, [str(logs)], ReplayOptions()):
        assert not isinstance(item, BadLine)
        summary.add(item)
        comparison.add(item)
    return summary, comparison


def test_report_is_self_contained_and_escapes_log_text(tmp_path: Path) -> None:
    summary, comparison = build(tmp_path)
    page = render_html(summary, comparison, title="t <b>", inputs=["waf.jsonl"])
    assert page.count("<svg") >= 4
    assert "<script" not in page.lower()  # no scripts at all, and the logged <script> URI is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "t &lt;b&gt;" in page
    for remote in ("http://", "https://", "src=", "@import", "url("):
        assert remote not in page.replace("http://www.w3.org", "")
    assert (
        ACTION_COLORS["ALLOW"] in page and ACTION_COLORS["BLOCK"] in page and ACTION_COLORS["CAPTCHA"] in page
    )
    assert "logged ↓ / new →" in page and "ALLOW→BLOCK" in page


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl = write_acl(tmp_path / "acl.json")
    logs = write_jsonl(tmp_path / "waf.jsonl", traffic())
    report = tmp_path / "report.html"
    code, stdout, _ = run_cli(
        ["eval", str(acl), str(logs), "--search-string", "text", "--compare", "--report", str(report)], capsys
    )
    assert code == 0
    page = report.read_text()
    assert "Requests over time by action" in page and "Top blocked paths" in page and "/admin/panel" in page
    assert f"report written to {report}" in stdout.replace("\n", "")


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line if bpp == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3)))
        prev = line
    return width, height, rows


def count_colour(rows: list[bytes], hex_colour: str, y0: int, y1: int, tolerance: int = 12) -> int:
    target = bytes.fromhex(hex_colour.lstrip("#"))
    count = 0
    for row in rows[y0:y1]:
        for i in range(0, len(row), 3):
            if all(abs(row[i + k] - target[k]) <= tolerance for k in range(3)):
                count += 1
    return count


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is required under CI=true (apt-get install chromium)")
    pytest.skip("chromium not installed (apt-get install chromium) - the browser rendering test needs it")


def screenshot(page: Path, png: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                "--window-size=1280,2000",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


@pytest.mark.slow
def test_report_renders_its_charts_in_headless_chromium(tmp_path: Path) -> None:
    summary, comparison = build(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(render_html(summary, comparison, title="render test"))
    png = tmp_path / "shot.png"
    screenshot(page, png)
    width, height, rows = read_png(png.read_bytes())
    assert (width, height) == (1280, 2000)
    # The timeline is the first chart, in the upper part of the page: each action series shows.
    timeline = (150, 700)
    for action in ("ALLOW", "BLOCK", "CAPTCHA"):
        assert count_colour(rows, ACTION_COLORS[action], *timeline) > 500, action
    assert count_colour(rows, ACTION_COLORS["CHALLENGE"], *timeline) == 0  # no such requests, no such colour
    # The bar charts below it: top blocked IPs and paths are drawn in the BLOCK colour.
    assert count_colour(rows, ACTION_COLORS["BLOCK"], 700, 1400) > 1000
