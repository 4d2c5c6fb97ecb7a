"""The pytest plugin, in real pytest runs (pytester): case files collected, failures shown, fixtures.

Each run is a fresh pytest session in a temporary folder, loading plugins from entry points as a
user's run does, so these tests also check that the plugin is registered.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tests.test_waftest import ACL, FAILING, LABEL, PASSING

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "waftest"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def _json(doc: Any) -> str:
    return json.dumps(doc)


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    found = [e for e in entry_points(group="pytest11") if e.name == "wafpy"]
    assert [e.value for e in found] == ["wafpy.testing.pytest_plugin"]


def test_case_files_are_collected_one_test_per_request(pytester: pytest.Pytester) -> None:
    pytester.makefile(".waftest.json", unit=_json(PASSING))
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*unit.waftest.json::home is allowed PASSED*", "*unit.waftest.json::admin is blocked PASSED*"]
    )


def test_a_failure_shows_the_mismatch_the_request_and_the_trace(pytester: pytest.Pytester) -> None:
    pytester.makefile(".waftest.json", unit=_json(FAILING))
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]waftest[]] unit.waftest.json::admin is allowed (wrong)*",
            "action: expected ALLOW, got BLOCK",
            "terminatingRuleId: expected Default_Action, got block-admin",
            "request: GET /admin from 127.0.0.1",
            "rule trace:",
            "*block-admin  MATCH -> BLOCK*",
            "*FAILED unit.waftest.json::admin is allowed (wrong) - action: expected ALLOW*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_yaml_case_files_and_selecting_one_case(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", webacl=_json(ACL))
    pytester.makefile(
        ".waftest.yaml",
        unit=f"""
        webacl: webacl.json
        account: "111122223333"
        cases:
          - name: home
            request: {{uri: /}}
            expect: {{action: ALLOW}}
          - name: admin
            request: {{uri: /admin}}
            expect: {{action: BLOCK, labels: ["{LABEL}"]}}
        """,
    )
    _run(pytester).assert_outcomes(passed=2)
    _run(pytester, "-k", "admin").assert_outcomes(passed=1, deselected=1)


def test_rate_based_state_follows_the_file_order_even_when_one_case_is_selected(
    pytester: pytest.Pytester,
) -> None:
    rate_rule = {
        "Name": "rate",
        "Priority": 0,
        "Action": {"Block": {}},
        "VisibilityConfig": ACL["VisibilityConfig"],
        "Statement": {
            "RateBasedStatement": {"Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"}
        },
    }
    acl = {**ACL, "Rules": [rate_rule]}
    cases = [
        {"name": f"r{i:02d}", "timestamp": 1_700_000_000_000 + i, "request": {"uri": "/"}}
        | {"expect": {"action": "ALLOW" if i <= 10 else "BLOCK"}}
        for i in range(1, 13)
    ]
    pytester.makefile(".waftest.json", rate=_json({"webacl": acl, "cases": cases}))
    _run(pytester).assert_outcomes(passed=12)
    _run(pytester, "-k", "r12").assert_outcomes(passed=1, deselected=11)


def test_an_invalid_case_file_is_a_collection_error_naming_the_place(pytester: pytest.Pytester) -> None:
    doc = {"webacl": ACL, "cases": [{"request": {"uri": "/"}, "expect": {"acton": "BLOCK"}}]}
    pytester.makefile(".waftest.json", bad=_json(doc))
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.waftest.json: cases[[]0[]].expect has unknown key 'acton'*"])
    assert "Traceback" not in result.stdout.str()


def test_a_web_acl_that_does_not_load_fails_each_case(pytester: pytest.Pytester) -> None:
    pytester.makefile(".waftest.json", unit=_json({**PASSING, "webacl": "missing.json"}))
    result = _run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*the web ACL does not load*"])


def test_other_files_are_left_alone_under_filterwarnings_error(pytester: pytest.Pytester) -> None:
    # A project's own suite: plain JSON and YAML files and tests, warnings as errors.
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makefile(".json", data=_json({"cases": "not a case file"}))
    pytester.makefile(".yaml", config="a: [b")
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = _run(pytester, "-W", "error")
    result.assert_outcomes(passed=1)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makefile(".waftest.json", unit=_json(FAILING))
    _run(pytester, "-p", "no:wafpy").assert_outcomes()


def test_the_examples_pass_under_pytest(pytester: pytest.Pytester) -> None:
    # An ini file of its own, so the project's pyproject.toml (above the examples) is not used.
    ini = pytester.makeini("[pytest]\n")
    _run(pytester, "-c", str(ini), "--rootdir", str(pytester.path), str(EXAMPLES)).assert_outcomes(passed=9)


def test_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", webacl=_json(ACL))
    pytester.makepyfile(
        test_acl=f"""
        import wafpy

        def test_load_and_evaluate(waf_acl, waf_evaluate):
            acl = waf_acl("webacl.json", account="111122223333")
            assert isinstance(acl, wafpy.WebACL)
            decision = waf_evaluate(acl, wafpy.Request(uri="/admin?x=1"))
            assert decision.action == "BLOCK"
            assert {LABEL!r} in decision.labels

        def test_a_path_and_a_request_as_in_case_files(waf_evaluate):
            request = {{"uri": "/", "headers": {{"Host": "example.com"}}}}
            decision = waf_evaluate("webacl.json", request, {{"action": "ALLOW"}})
            assert decision.terminating_rule_id == "Default_Action"

        def test_expect_fails_with_the_trace(waf_evaluate):
            waf_evaluate("webacl.json", {{"uri": "/admin"}}, {{"action": "ALLOW"}})
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_expect_fails_with_the_trace*",
            "action: expected ALLOW, got BLOCK",
            "request: GET /admin from 127.0.0.1",
            "rule trace:",
        ]
    )


ANONYMOUS_ACL: dict[str, Any] = {
    **ACL,
    "Rules": [
        {
            "Name": "anonymous",
            "Priority": 0,
            "OverrideAction": {"None": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": True,
                "CloudWatchMetricsEnabled": True,
                "MetricName": "a",
            },
            "Statement": {
                "ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesAnonymousIpList"}
            },
        }
    ],
}


def test_waf_acl_takes_the_ip_lists_of_the_bundled_groups(pytester: pytest.Pytester) -> None:
    """A path (from the test file's folder, as the loader's other paths) or a mapping, as
    `load_web_acl(managed_ip_lists=...)` takes it."""
    pytester.makefile(".json", webacl=_json(ANONYMOUS_ACL))
    lists = {"AnonymousIPList": ["203.0.113.0/24"], "HostingProviderIPList": ["2001:db8:cafe::/48"]}
    pytester.mkdir("lists").joinpath("ip-lists.json").write_text(_json(lists), encoding="utf-8")
    pytester.makepyfile(
        test_lists=f"""
        import pytest
        import wafpy

        LISTS = {lists!r}
        LABEL = "awswaf:managed:aws:anonymous-ip-list:"

        @pytest.mark.parametrize("given", ["lists/ip-lists.json", LISTS], ids=["a path", "a mapping"])
        def test_lists(waf_acl, waf_evaluate, given):
            acl = waf_acl("webacl.json", managed="bundled", managed_ip_lists=given)
            vpn = waf_evaluate(acl, wafpy.Request(uri="/", client_ip="203.0.113.9"))
            assert (vpn.action, vpn.labels) == ("BLOCK", (LABEL + "AnonymousIPList",))
            host = waf_evaluate(acl, wafpy.Request(uri="/", client_ip="2001:db8:cafe::1"))
            assert host.labels == (LABEL + "HostingProviderIPList",)
            assert waf_evaluate(acl, wafpy.Request(uri="/", client_ip="192.0.2.1")).action == "ALLOW"

        def test_without_lists_the_group_is_refused(waf_acl):
            with pytest.raises(wafpy.NotAvailableError, match="managed_ip_lists="):
                waf_acl("webacl.json", managed="bundled")

        def test_lists_need_bundled(waf_acl):
            with pytest.raises(ValueError, match='needs managed="bundled"'):
                waf_acl("webacl.json", managed="none", managed_ip_lists=LISTS)
        """
    )
    _run(pytester).assert_outcomes(passed=4)
