"""The bundled managed rule groups against ModSecurity + OWASP CRS at paranoia level 1, in CI.

A reduced `python -m bench.detection` (which also runs lewaf and writes docs/detection.md): every
CRS regression test of the families the bundled groups cover, and a fixed, evenly spread sample of
the libinjection samples and of each benign set. wafpy and ModSecurity see the same requests in
the same run; a family fails when wafpy detects more than 5 points less than CRS PL1, and the
benign sets fail when wafpy blocks more of them than CRS PL1 does. No time is asserted.

ModSecurity comes from the `libmodsecurity` wheel (the `bench` extra, Linux x86_64 only). Where it
cannot be installed, the CRS side is read from docs/detection.json, the figures of the last full
run (the CRS tests are the same requests there; benign sets are compared as rates).
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.detection import corpora, crs
from bench.detection.cases import SETS, Case, sample
from bench.detection.engines import MANAGED_DIR, ModSecurityEngine, Outcome, WafpyEngine, bundled_groups
from tests.shared import ROOT, shared_dir

MARGIN = 5.0
PER_SET = 100
RECORDED = ROOT / "docs" / "detection.json"
CRS_ENGINE = "ModSecurity + CRS PL1"

# Attack family -> the bundled groups whose rules are meant to catch it; a family is checked once
# one of its groups is in rulesets/managed. These are the families the project's goal names (SQLi,
# XSS, LFI, RCE) and libinjection's SQLi/XSS samples. Measured in docs/detection.md but not
# asserted: CRS 931 RFI (AWS documents its RFI rules as URLs with an IPv4 address, a narrower test
# than CRS's), CRS 933 PHP (CRS's tests reach past the PHP functions and variables AWS documents)
# and CRS 920 (AWS WAF does not check that requests are valid HTTP, nor do its managed groups).
COVERED: dict[str, tuple[str, ...]] = {
    "crs-942": ("AWSManagedRulesSQLiRuleSet",),
    "crs-941": ("AWSManagedRulesCommonRuleSet",),
    "crs-930": ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesLinuxRuleSet"),
    "crs-932": ("AWSManagedRulesUnixRuleSet", "AWSManagedRulesLinuxRuleSet", "AWSManagedRulesWindowsRuleSet"),
    "libinjection-sqli": ("AWSManagedRulesSQLiRuleSet",),
    "libinjection-xss": ("AWSManagedRulesCommonRuleSet",),
}

# Covered families whose goal the bundled groups do not meet yet: measured and shown as expected
# failures (pytest -ra lists them with the figures), not hidden. Remove an entry once it passes.
KNOWN_GAPS: dict[str, str] = {}


@dataclass
class Comparison:
    cases: list[Case]
    wafpy: Outcome
    groups: set[str]
    crs_rates: dict[str, float]  # set -> % of its requests CRS PL1 blocks
    crs_fp: int | None  # benign requests CRS PL1 blocks, when measured in this run

    def rate(self, key: str) -> float:
        index = [i for i, c in enumerate(self.cases) if c.set == key]
        return 100.0 * sum(self.wafpy.blocked[i] for i in index) / len(index)


def _cases(corpora_dir: Path) -> list[Case]:
    rules = corpora_dir / "crs-rules" / "v4.21.0" / "rules"
    tests = crs.crs_cases(corpora_dir / "attacks" / "crs-regression", crs.paranoia_levels(rules))
    out = [c for c in tests if c.set in COVERED]
    out += corpora.libinjection_sets(corpora_dir / "attacks" / "libinjection" / "data", PER_SET)
    out += corpora.benign_value_sets(corpora_dir, PER_SET)
    out += corpora.user_agent_cases(corpora_dir / "benign" / "user-agents", PER_SET)
    out += corpora.har_cases(corpora_dir / "benign" / "har-requests" / "httpsnippet")
    out += corpora.aws_waf_log_cases(corpora_dir / "logs" / "aws-waf")
    alb = corpora_dir / "logs" / "alb" / "elb-log-analyzer--AppELBLog.log"
    return out + corpora.alb_log_cases(alb, PER_SET)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    corpora_dir = shared_dir("corpora")
    groups = {g["Name"] for g in bundled_groups(MANAGED_DIR)}
    if not groups:
        pytest.skip("no bundled managed rule group in rulesets/managed yet")
    cases = _cases(corpora_dir)
    wafpy = WafpyEngine().run(cases)
    if importlib.util.find_spec("libmodsecurity") is not None:
        with tempfile.TemporaryDirectory() as scratch:
            peer = ModSecurityEngine(corpora_dir / "crs-rules" / "v4.21.0", Path(scratch)).run(cases)
        rates = {}
        for key in {c.set for c in cases}:
            index = [i for i, c in enumerate(cases) if c.set == key]
            rates[key] = 100.0 * sum(peer.blocked[i] for i in index) / len(index)
        crs_fp = sum(b for b, c in zip(peer.blocked, cases, strict=True) if not c.attack)
        return Comparison(cases, wafpy, groups, rates, crs_fp)
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))["sets"]
    rates = {k: 100.0 * v["blocked"][CRS_ENGINE] / v["requests"] for k, v in recorded.items()}
    return Comparison(cases, wafpy, groups, rates, None)


@pytest.mark.corpora
@pytest.mark.slow
@pytest.mark.parametrize("family", list(COVERED))
def test_detection_within_five_points_of_crs_pl1(comparison: Comparison, family: str) -> None:
    if not comparison.groups & set(COVERED[family]):
        pytest.skip(f"none of {', '.join(COVERED[family])} is bundled yet")
    ours, theirs = comparison.rate(family), comparison.crs_rates[family]
    message = f"{SETS[family][0]}: wafpy {ours:.1f} %, CRS PL1 {theirs:.1f} %"
    if family in KNOWN_GAPS and ours < theirs - MARGIN:
        pytest.xfail(f"{message} ({KNOWN_GAPS[family]})")
    assert ours >= theirs - MARGIN, message


@pytest.mark.corpora
@pytest.mark.slow
def test_no_more_false_positives_than_crs_pl1(comparison: Comparison) -> None:
    benign = [i for i, c in enumerate(comparison.cases) if not c.attack]
    ours = sum(comparison.wafpy.blocked[i] for i in benign)
    blocked = sorted({comparison.cases[i].name for i in benign if comparison.wafpy.blocked[i]})
    if comparison.crs_fp is not None:
        message = f"wafpy blocks {ours} benign requests, CRS PL1 {comparison.crs_fp}: {blocked[:20]}"
        assert ours <= comparison.crs_fp, message
        return
    for key in {comparison.cases[i].set for i in benign}:  # recorded figures: compare rates
        assert comparison.rate(key) <= comparison.crs_rates[key], (key, blocked[:20])


def test_a_crs_test_is_sent_as_go_ftw_sends_it() -> None:
    method, target, version, headers, body = crs.build_stage(
        {"method": "POST", "uri": "/post?a=1 2", "headers": {"Host": "localhost"}, "data": "var=1 OR 1=1&x"}
    )
    assert (method, target, version) == ("POST", "/post?a=1 2", "HTTP/1.1")
    assert body == b"var=1+OR+1%3D1&x"
    assert headers == [
        ("Connection", "close"),
        ("Content-Length", "16"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", "localhost"),
    ]
    # Already encoded: sent as written. A multipart body gets CRLF line ends. No autocompletion.
    assert crs.build_stage({"data": "a=%27"})[4] == b"a=%27"
    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    assert crs.build_stage({"headers": multipart, "data": "--x\nA\n--x--\n"})[4] == b"--x\r\nA\r\n--x--\r\n"
    bare = crs.build_stage({"method": "PUT", "headers": {"Host": "h"}, "autocomplete_headers": False})
    assert bare[3] == [("Host", "h")]
    assert crs.build_stage({"method": "PUT", "headers": {"Host": "h"}})[3][1] == ("Content-Length", "0")


def test_a_raw_chunked_request_reaches_the_engines_de_chunked() -> None:
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    headers = [("Host", "localhost"), ("Transfer-Encoding", "chunked")]
    chunked = b"3\r\nHi \r\n3\r\nCRS\r\n0\r\n\r\n"
    assert crs.parse_raw(head + chunked) == ("GET", "/", "HTTP/1.1", headers, b"Hi CRS")


def test_a_sample_is_spread_evenly_and_fixed() -> None:
    cases = [Case("s", str(i), True, "GET", "/", "HTTP/1.1", ()) for i in range(10)]
    assert [c.name for c in sample(cases, 4)] == ["0", "2", "5", "7"]
    assert sample(cases, 0) == cases
