"""Managed rule groups replayed from the AWS WAF log record (`managed="log"`).

Synthetic records, written from the record format
(https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html), each replayed through
candidate web ACLs that change one thing; the exact decision, or "undetermined" with its reason,
is asserted. Then: the records written back carry the group as AWS writes it, and `wafpy eval`
refuses an unresolved group on logs that are not AWS WAF logs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import visibility
from tests.replay_fixtures import describe, replay_record
from wafpy import load_web_acl
from wafpy.cli.main import EXIT_FAIL_ON, EXIT_OK, EXIT_USAGE, main
from wafpy.engine.fromlog import REASONS
from wafpy.replay import Outcome, ReplayOptions
from wafpy.replay.evaluator import Evaluator

ACCOUNT = "111122223333"
CRS = "AWSManagedRulesCommonRuleSet"
CRS_ID = f"AWS#{CRS}"
NS = "awswaf:managed:aws:core-rule-set:"
UA_LABEL = NS + "NoUserAgent_Header"
SIZE_LABEL = NS + "SizeRestrictions_Body"


def group_rule(*, override_count: bool = False, **statement: Any) -> dict[str, Any]:
    return {
        "Name": "crs",
        "Priority": 10,
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": CRS, **statement}},
        "OverrideAction": {"Count": {}} if override_count else {"None": {}},
        "VisibilityConfig": visibility("crs", sampled=False),
    }


def label_block_rule() -> dict[str, Any]:
    """A later custom rule that consumes the group's label."""
    return {
        "Name": "label-block",
        "Priority": 20,
        "Statement": {"LabelMatchStatement": {"Scope": "LABEL", "Key": UA_LABEL}},
        "Action": {"Block": {}},
        "VisibilityConfig": visibility("label-block", sampled=False),
    }


def web_acl(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": "candidate",
        "Id": "1",
        "ARN": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/candidate/1",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": visibility("candidate", sampled=False),
        "Rules": list(rules),
    }


def record(
    groups: list[dict[str, Any]] | None,
    *,
    action: str = "ALLOW",
    rule: str = "Default_Action",
    labels: tuple[str, ...] = (),
    cookie: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    headers = [{"name": "Host", "value": "shop.example.com"}]
    if cookie is not None:
        headers.append({"name": "Cookie", "value": cookie})
    out: dict[str, Any] = {
        "timestamp": 1_710_930_600_000,
        "formatVersion": 1,
        "webaclId": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/logged/1",
        "terminatingRuleId": rule,
        "terminatingRuleType": "MANAGED_RULE_GROUP" if rule == "crs" else "REGULAR",
        "action": action,
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": f"{ACCOUNT}-app/shop/1",
        "ruleGroupList": groups,
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": {
            "clientIp": "198.51.100.7",
            "country": "NL",
            "headers": headers,
            "uri": "/",
            "args": "",
            "httpVersion": "HTTP/1.1",
            "httpMethod": "GET",
        },
        **extra,
    }
    if labels:
        out["labels"] = [{"name": label} for label in labels]
    return out


def entry(
    terminating: dict[str, Any] | None = None,
    counted: tuple[dict[str, Any], ...] = (),
    excluded: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "ruleGroupId": CRS_ID,
        "terminatingRule": terminating,
        "nonTerminatingMatchingRules": list(counted),
        "excludedRules": [{"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": r} for r in excluded] or None,
    }


def match(rule: str, action: str, overridden: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": rule, "action": action, "ruleMatchDetails": []}
    if overridden is not None:
        out["overriddenAction"] = overridden
    return out


# The records. "terminated": the group blocked the request (NoUserAgent_HEADER).
TERMINATED = record(
    [entry(match("NoUserAgent_HEADER", "BLOCK"))], action="BLOCK", rule="crs", labels=(UA_LABEL,)
)
# "counted": the logged web ACL overrode NoUserAgent_HEADER (a Block rule) to Count.
COUNTED = record([entry(None, (match("NoUserAgent_HEADER", "COUNT", "BLOCK"),))], labels=(UA_LABEL,))
# "excluded": SizeRestrictions_BODY matched, excluded as Count (legacy ExcludedRules).
EXCLUDED = record(
    [entry(None, (match("SizeRestrictions_BODY", "COUNT"),), ("SizeRestrictions_BODY",))],
    labels=(SIZE_LABEL,),
)
# "missing": the logged web ACL stopped before the group (an IP block list rule).
MISSING = record([], action="BLOCK", rule="ip-block")
NO_LIST = record(None)

RECORDS = {"terminated": TERMINATED, "counted": COUNTED, "excluded": EXCLUDED, "missing": MISSING}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    cookie = changes.pop("cookie", None)
    if cookie is not None:
        out["httpRequest"]["headers"].append({"name": "Cookie", "value": cookie})
    out.update(changes)
    return out


def _override(rule: str, action: str) -> dict[str, Any]:
    return {"RuleActionOverrides": [{"Name": rule, "ActionToUse": {action: {}}}]}


SCOPE_API: dict[str, Any] = {
    "ScopeDownStatement": {
        "ByteMatchStatement": {
            "FieldToMatch": {"UriPath": {}},
            "SearchString": "/api",
            "PositionalConstraint": "STARTS_WITH",
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
        }
    }
}
SCOPE_ALL: dict[str, Any] = {
    "ScopeDownStatement": {"NotStatement": {"Statement": SCOPE_API["ScopeDownStatement"]}}
}


def undetermined(reason: str, rule: str = "") -> str:
    return f"UNDETERMINED {CRS_ID}: {REASONS[reason]}" + (f" ({rule})" if rule else "")


# (record, candidate rules, expected): "ACTION terminating-rule [labels]" or "UNDETERMINED group: reason"
CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]], str]] = {
    # A group that terminated, replayed through the web ACL it came from.
    "terminated, same web ACL": (TERMINATED, [group_rule()], f"BLOCK crs [{UA_LABEL}]"),
    # Rules overridden to Count.
    "terminated, its rule now Count": (
        TERMINATED,
        [group_rule(**_override("NoUserAgent_HEADER", "Count"))],
        undetermined("not reached", "NoUserAgent_HEADER"),
    ),
    "terminated, another rule now Count": (
        TERMINATED,
        [group_rule(**_override("SizeRestrictions_BODY", "Count"))],
        f"BLOCK crs [{UA_LABEL}]",
    ),
    "terminated, its rule now Allow": (
        TERMINATED,
        [group_rule(**_override("NoUserAgent_HEADER", "Allow"))],
        f"ALLOW crs [{UA_LABEL}]",
    ),
    "counted, same web ACL": (
        COUNTED,
        [group_rule(**_override("NoUserAgent_HEADER", "Count"))],
        f"ALLOW Default_Action [{UA_LABEL}]",
    ),
    "counted, override removed": (COUNTED, [group_rule()], f"BLOCK crs [{UA_LABEL}]"),
    # Legacy ExcludedRules.
    "terminated, its rule now excluded": (
        TERMINATED,
        [group_rule(ExcludedRules=[{"Name": "NoUserAgent_HEADER"}])],
        undetermined("not reached", "NoUserAgent_HEADER"),
    ),
    "excluded, same web ACL": (
        EXCLUDED,
        [group_rule(ExcludedRules=[{"Name": "SizeRestrictions_BODY"}])],
        f"ALLOW Default_Action [{SIZE_LABEL}]",
    ),
    "excluded, exclusion removed": (
        EXCLUDED,
        [group_rule()],
        undetermined("own action", "SizeRestrictions_BODY"),
    ),
    "excluded, overridden to Block instead": (
        EXCLUDED,
        [group_rule(**_override("SizeRestrictions_BODY", "Block"))],
        f"BLOCK crs [{SIZE_LABEL}]",
    ),
    # OverrideAction Count.
    "terminated, OverrideAction Count": (
        TERMINATED,
        [group_rule(override_count=True)],
        f"ALLOW Default_Action [{UA_LABEL}]",
    ),
    # A label consumed by a later custom rule.
    "terminated, OverrideAction Count, label consumed": (
        TERMINATED,
        [group_rule(override_count=True), label_block_rule()],
        f"BLOCK label-block [{UA_LABEL}]",
    ),
    "counted, label consumed": (
        COUNTED,
        [group_rule(**_override("NoUserAgent_HEADER", "Count")), label_block_rule()],
        f"BLOCK label-block [{UA_LABEL}]",
    ),
    "excluded, label not the one consumed": (
        EXCLUDED,
        [group_rule(ExcludedRules=[{"Name": "SizeRestrictions_BODY"}]), label_block_rule()],
        f"ALLOW Default_Action [{SIZE_LABEL}]",
    ),
    # A scope-down that now excludes the request (evaluated by wafpy on the logged request).
    "terminated, scope-down excludes it": (TERMINATED, [group_rule(**SCOPE_API)], "ALLOW Default_Action []"),
    "terminated, scope-down includes it": (TERMINATED, [group_rule(**SCOPE_ALL)], f"BLOCK crs [{UA_LABEL}]"),
    # A group missing from the record.
    "missing": (MISSING, [group_rule()], undetermined("not in record")),
    "missing, scope-down excludes it": (MISSING, [group_rule(**SCOPE_API)], "ALLOW Default_Action []"),
    "no ruleGroupList": (NO_LIST, [group_rule()], undetermined("no record")),
    # Captcha inside the group, with and without a token.
    "counted, now Captcha, no token": (
        COUNTED,
        [group_rule(**_override("NoUserAgent_HEADER", "Captcha"))],
        f"CAPTCHA crs [{UA_LABEL}]",
    ),
    "counted, now Captcha, a token the record does not judge": (
        _with(COUNTED, cookie="aws-waf-token=abc"),
        [group_rule(**_override("NoUserAgent_HEADER", "Captcha"))],
        undetermined("token", "NoUserAgent_HEADER"),
    ),
    "counted, now Captcha, a valid token": (
        _with(COUNTED, cookie="aws-waf-token=abc", captchaResponse={"responseCode": 0, "solveTimestamp": 1}),
        [group_rule(**_override("NoUserAgent_HEADER", "Captcha"))],
        f"ALLOW Default_Action [{UA_LABEL}]",
    ),
    "counted, now Captcha, an expired token": (
        _with(
            COUNTED,
            cookie="aws-waf-token=abc",
            captchaResponse={"responseCode": 405, "solveTimestamp": 0, "failureReason": "TOKEN_EXPIRED"},
        ),
        [group_rule(**_override("NoUserAgent_HEADER", "Captcha"))],
        f"CAPTCHA crs [{UA_LABEL}]",
    ),
    "logged Captcha with a valid token": (
        record(
            [entry(None, (match("NoUserAgent_HEADER", "CAPTCHA", "BLOCK"),))],
            labels=(UA_LABEL,),
            captchaResponse={"responseCode": 0, "solveTimestamp": 1},
        ),
        [group_rule(**_override("NoUserAgent_HEADER", "Captcha"))],
        f"ALLOW Default_Action [{UA_LABEL}]",
    ),
    "logged Captcha without a token": (
        record(
            [entry(match("NoUserAgent_HEADER", "CAPTCHA", "BLOCK"))],
            action="CAPTCHA",
            rule="crs",
            labels=(UA_LABEL,),
            captchaResponse={"responseCode": 405, "solveTimestamp": 0, "failureReason": "TOKEN_MISSING"},
        ),
        [group_rule(**_override("NoUserAgent_HEADER", "Captcha"))],
        f"CAPTCHA crs [{UA_LABEL}]",
    ),
}


def replay(rules: list[dict[str, Any]], rec: dict[str, Any]) -> Outcome:
    return replay_record(load_web_acl(web_acl(*rules), managed="log", search_string="text"), rec)


@pytest.mark.parametrize("case", list(CASES))
def test_candidate_changes_one_thing(case: str) -> None:
    rec, rules, expected = CASES[case]
    outcome = replay(rules, rec)
    assert describe(outcome) == expected
    assert (outcome.action == "UNDETERMINED") == bool(outcome.undetermined)


@pytest.mark.parametrize("case", list(CASES))
def test_reference_parser_gives_what_the_fast_decoder_gives(case: str) -> None:
    from wafpy.logs import parse_json_line

    rec, rules, _ = CASES[case]
    acl = load_web_acl(web_acl(*rules), managed="log", search_string="text")
    evaluator = Evaluator(acl, ReplayOptions(write_records=True))
    raw = orjson.dumps(rec)
    (fast,), _ = evaluator.run([("json", "log", [1], [raw])])
    assert fast == evaluator.evaluate(parse_json_line(raw, "log", 1))


def test_records_carry_the_group_as_aws_writes_it() -> None:
    written = json.loads(replay([group_rule()], TERMINATED).record or b"")
    assert written["terminatingRuleType"] == "MANAGED_RULE_GROUP" and written["action"] == "BLOCK"
    assert written["labels"] == [{"name": UA_LABEL}]
    assert written["ruleGroupList"] == [
        {
            "ruleGroupId": CRS_ID,
            "terminatingRule": {"ruleId": "NoUserAgent_HEADER", "action": "BLOCK", "ruleMatchDetails": []},
            "nonTerminatingMatchingRules": [],
            "excludedRules": None,
            "customerConfig": None,
        }
    ]
    # Overridden to Count, and excluded: overriddenAction and excludedRules as AWS writes them.
    rules = [group_rule(ExcludedRules=[{"Name": "SizeRestrictions_BODY"}])]
    both = record(
        [
            entry(
                None, (match("NoUserAgent_HEADER", "COUNT", "BLOCK"), match("SizeRestrictions_BODY", "COUNT"))
            )
        ],
        labels=(UA_LABEL, SIZE_LABEL),
    )
    rules[0]["Statement"]["ManagedRuleGroupStatement"] |= _override("NoUserAgent_HEADER", "Count")
    (group,) = json.loads(replay(rules, both).record or b"")["ruleGroupList"]
    assert group["nonTerminatingMatchingRules"] == [
        {
            "ruleId": "NoUserAgent_HEADER",
            "action": "COUNT",
            "overriddenAction": "BLOCK",
            "ruleMatchDetails": [],
        },
        {"ruleId": "SizeRestrictions_BODY", "action": "COUNT", "ruleMatchDetails": []},
    ]
    assert group["excludedRules"] == [
        {"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": "SizeRestrictions_BODY"}
    ]
    undecided = json.loads(replay([group_rule()], MISSING).record or b"")
    assert undecided["action"] == "UNDETERMINED"
    assert undecided["wafpyUndetermined"] == [{"ruleGroupId": CRS_ID, "reason": REASONS["not in record"]}]


def test_group_wide_labels_need_every_logged_match_reached() -> None:
    """Labels that name no matched rule (Bot Control's categories) go with the last logged match."""
    bot = "AWSManagedRulesBotControlRuleSet"
    ns = "awswaf:managed:aws:bot-control:"
    rec = record(
        [
            {
                "ruleGroupId": f"AWS#{bot}",
                "terminatingRule": match("CategoryHttpLibrary", "BLOCK"),
                "nonTerminatingMatchingRules": [match("SignalNonBrowserUserAgent", "COUNT")],
                "excludedRules": None,
            }
        ],
        action="BLOCK",
        rule="crs",
        labels=(ns + "signal:non_browser_user_agent", ns + "bot:category:http_library", UA_LABEL),
    )
    rules = [group_rule(override_count=True)]
    rules[0]["Statement"]["ManagedRuleGroupStatement"]["Name"] = bot
    group_wide = f"{ns}signal:non_browser_user_agent, {ns}bot:category:http_library"
    assert describe(replay(rules, rec)) == f"ALLOW Default_Action [{group_wide}]"
    # The signal rule now blocks: the category rule is never reached, nor are the labels of the group.
    rules[0]["Statement"]["ManagedRuleGroupStatement"] |= _override("SignalNonBrowserUserAgent", "Block")
    assert describe(replay(rules, rec)) == "ALLOW Default_Action []"


# --------------------------------------------------------------------------------------------
# wafpy eval


def _files(tmp_path: Path, lines: list[dict[str, Any]]) -> tuple[Path, Path]:
    acl = tmp_path / "acl.json"
    acl.write_text(json.dumps(web_acl(group_rule(), label_block_rule())))
    log = tmp_path / "waf.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return acl, log


def test_eval_defaults_to_the_log_on_aws_waf_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl, log = _files(tmp_path, [TERMINATED, COUNTED, MISSING])
    assert main(["eval", str(acl), str(log), "--compare", "--fail-on", "BLOCK"]) == EXIT_FAIL_ON
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert "Cannot tell from this log: 1 requests (UNDETERMINED)" in out
    assert "1 cannot tell from this log (not compared)" in out
    assert "--fail-on: 1 UNDETERMINED apart" in captured.err and "2 BLOCK" in captured.err
    assert main(["eval", str(acl), str(log), "-q", "--fail-on", "UNDETERMINED"]) == EXIT_FAIL_ON
    assert main(["eval", str(acl), str(log), "-q", "--managed", "none"]) == EXIT_OK
    assert "is evaluated as if no inner rule matched" in capsys.readouterr().err


def test_eval_refuses_an_unresolved_group_on_other_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl, _ = _files(tmp_path, [])
    lines = tmp_path / "requests.jsonl"
    lines.write_text(json.dumps({"httpMethod": "GET", "uri": "/"}) + "\n")
    assert main(["eval", str(acl), str(lines)]) == EXIT_USAGE
    err = " ".join(capsys.readouterr().err.split())
    assert f"AWS/{CRS}" in err and "cannot be evaluated" in err and "--managed" in err
    assert "these inputs are not all AWS WAF logs" in err
    # Told explicitly, the replay runs: every request is undetermined (no record to replay from).
    assert main(["eval", str(acl), str(lines), "--managed", "log", "-q", "--fail-on", "UNDETERMINED"]) == (
        EXIT_FAIL_ON
    )


def test_readme_first_command_replays_the_demo_group_from_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    argv = [
        "eval",
        str(root / "rulesets" / "demo-webacl.json"),
        str(root / "samples" / "waf-logs.jsonl.gz"),
        "--resources",
        str(root / "rulesets" / "demo-resources"),
        "--compare",
    ]
    assert main(argv) == EXIT_OK
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "replayed from the AWS WAF log records (--managed log): AWS/AWSManagedRulesKnownBadInputsRuleSet"
        in out
    )
    assert "aws-known-bad-inputs" in out and "UNDETERMINED" not in out


def test_explain_replays_a_group_from_the_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl, log = _files(tmp_path, [TERMINATED])
    assert main(["explain", str(acl), str(log), "--managed", "log"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "BLOCK by crs" in out and "NoUserAgent_HEADER" in out
    assert "[inner rules from the log]" in " ".join(out.split())


def test_html_report_counts_undetermined_apart_and_shows_warnings(tmp_path: Path) -> None:
    acl, log = _files(tmp_path, [TERMINATED, MISSING])
    report = tmp_path / "report.html"
    assert main(["eval", str(acl), str(log), "-q", "--compare", "--report", str(report)]) == EXIT_OK
    html = report.read_text(encoding="utf-8")
    assert "Cannot tell from this log: 1 requests (UNDETERMINED)" in html
    assert "1 cannot tell from this log (not compared)" in html and CRS_ID in html
    assert main(["eval", str(acl), str(log), "-q", "--managed", "none", "--report", str(report)]) == EXIT_OK
    html = report.read_text(encoding="utf-8")
    assert "<strong>warning</strong>: managed rule group AWS/AWSManagedRulesCommonRuleSet" in html


def test_token_labels_of_a_group_without_a_match_are_kept() -> None:
    bot = "AWSManagedRulesBotControlRuleSet"
    rec = record(
        [{"ruleGroupId": f"AWS#{bot}", "terminatingRule": None, "nonTerminatingMatchingRules": []}],
        labels=("awswaf:managed:token:absent",),
    )
    rules = [group_rule()]
    rules[0]["Statement"]["ManagedRuleGroupStatement"]["Name"] = bot
    assert describe(replay(rules, rec)) == "ALLOW Default_Action [awswaf:managed:token:absent]"
    rules[0]["Statement"]["ManagedRuleGroupStatement"] |= SCOPE_API  # out of scope: the group does nothing
    assert describe(replay(rules, rec)) == "ALLOW Default_Action []"
