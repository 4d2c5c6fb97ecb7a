"""`python -m bench.speed` builds what it measures and writes its table and chart (no timing asserted).

pytest bench/test_speed_script.py
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import wafpy
from bench import realistic_acl, speed_chart
from bench.detection import peers, speed_rows
from bench.detection.engines import WafpyEngine, timed
from bench.speed_common import Row, Settings, markdown


def _settings() -> Settings:
    return Settings(True, 3, 1, 1, (), 100, 1000)


def test_the_chart_is_svg_with_both_panels(tmp_path: Path) -> None:
    points = {
        "wcu": [[2.0, 15.0], [250.0, 150.0], [1500.0, 450.0]],
        "ipset": [[10.0, 12.0], [1000.0, 12.5], [100000.0, 12.4]],
    }
    path = tmp_path / "chart.svg"
    speed_chart.write_svg(points, path, "test machine <2 CPUs>")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = path.read_text(encoding="utf-8")
    assert "Web ACL size" in text and "IP set size" in text and "&lt;2 CPUs&gt;" in text
    assert text.count("<polyline") == 2


@pytest.mark.parametrize("target", [10, 250, 1500])
def test_the_chart_web_acls_fit_their_capacity_and_evaluate_every_rule(target: int) -> None:
    acl, wcu = speed_chart.acl_of_wcu(target)
    assert wcu <= max(target, 2)
    request = wafpy.Request.from_log(realistic_acl.browser_get(), 0, body_available=True)
    decision = acl.evaluate(request)
    assert decision.terminating_rule_id == "Default_Action"  # every rule is a Count


def test_the_ip_set_web_acl_holds_the_ranges_and_not_the_client() -> None:
    acl = speed_chart.acl_of_ipset(1000)
    request = wafpy.Request.from_log(realistic_acl.browser_get(), 0, body_available=True)
    assert acl.evaluate(request).action == "ALLOW"
    inside = wafpy.Request.from_log({**realistic_acl.browser_get(), "clientIp": "10.0.3.9"}, 0)
    assert acl.evaluate(inside).action == "BLOCK"


def test_a_peer_that_is_not_installed_is_a_skipped_row(tmp_path: Path) -> None:
    settings = _settings()
    speed_rows.peer_rows(settings, crs=tmp_path / "no-crs", peers_dir=tmp_path)
    assert [r.value for r in settings.rows] == [None, None]
    assert all("CRS" in r.detail for r in settings.rows)
    assert "skipped" in markdown(settings.rows)


def test_the_peers_are_found_as_the_detection_bench_finds_them(tmp_path: Path) -> None:
    crs = tmp_path / "crs"
    (crs / "rules").mkdir(parents=True)
    (crs / "crs-setup.conf.example").write_text("", encoding="utf-8")
    assert peers.installed_lewaf(tmp_path) is None
    assert peers.missing_crs(crs) is None


def test_the_peer_requests_reach_the_harness_as_cases() -> None:
    cases = speed_rows.requests()
    assert [c.name for c in cases] == ["benign GET", "attack GET", "4 KB JSON POST"]
    assert cases[1].attack and "%27" in cases[1].target
    assert len(cases[2].body) >= 4000
    engine = WafpyEngine("bundled")
    assert len(engine.names) == 9
    outcome = timed(speed_rows.repeated(cases, 3), engine.verdict, "wafpy")
    figures = speed_rows.per_request_us(outcome)
    assert set(figures) == {c.name for c in cases}
    assert figures["attack GET"][1] and not figures["benign GET"][1]


def test_the_table_marks_targets() -> None:
    rows = [Row("engine", "a / b", 1.1, "≤ 1.25×", True), Row("load", "c", 12.0, unit="ms")]
    table = markdown(rows)
    assert "| engine | a / b | 1.10× | ≤ 1.25× | met |" in table
    assert "12.0 ms" in table
