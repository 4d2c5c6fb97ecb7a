"""`python -m bench.speed` builds what it measures and writes its table and chart (no timing asserted).

pytest bench/test_speed_script.py
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import wafpy
from bench import realistic_acl, speed_chart, speed_peers
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


def test_a_peer_that_is_not_installed_is_a_skipped_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAFPY_CRS_DIR", raising=False)
    settings = _settings()
    speed_peers.peer_rows(settings)
    assert [r.value for r in settings.rows] == [None, None]
    assert all("WAFPY_CRS_DIR" in r.detail for r in settings.rows)
    assert "skipped" in markdown(settings.rows)


def test_the_table_marks_targets() -> None:
    rows = [Row("engine", "a / b", 1.1, "≤ 1.25×", True), Row("load", "c", 12.0, unit="ms")]
    table = markdown(rows)
    assert "| engine | a / b | 1.10× | ≤ 1.25× | met |" in table
    assert "12.0 ms" in table
