"""A small web ACL whose decisions are known, and builders for AWS WAF and ALB log lines.

Shared by the `wafpy eval` tests (CLI, comparison, workers, HTML report).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import byte_match, rule, visibility, web_acl
from wafpy.cli.main import main
from wafpy.replay.evaluator import Evaluator
from wafpy.replay.outcome import Outcome, ReplayOptions
from wafpy.webacl import WebACL

ACCOUNT = "111122223333"
ACL_ARN = (
    f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/replay-test/5a5a5a5a-1111-2222-3333-444455556666"
)
T0 = 1_710_930_600_000  # 2024-03-20T10:30:00Z


def _rule(name: str, priority: int, statement: dict[str, Any], action: str, **extra: Any) -> dict[str, Any]:
    """A rule of this ACL: sampling and metrics off, as in the log records below."""
    return rule(name, priority, statement, action, sampled=False, **extra)


def acl_document(*, rate_based: bool = False, admin: bool = True, managed: bool = False) -> dict[str, Any]:
    """The test web ACL (SearchString as text); with `managed`, AWS's core rule set after them.

    block-admin      URI starts with /admin (LOWERCASE)           Block
    captcha-login    URI is exactly /login                       Captcha
    tag-bots         User-Agent contains "bot" (LOWERCASE)       Count + label test:bot
    block-body       body contains "evil"                        Block (not evaluable on logs)
    block-api-key    header x-api-key is "stolen"                Block (not evaluable on ALB logs)
    """
    ua = {"SingleHeader": {"Name": "user-agent"}}
    body = {"Body": {"OversizeHandling": "CONTINUE"}}
    api_key = {"SingleHeader": {"Name": "x-api-key"}}
    rules = [
        _rule("block-admin", 0, byte_match({"UriPath": {}}, "/admin", "STARTS_WITH", "LOWERCASE"), "Block"),
        _rule("captcha-login", 1, byte_match({"UriPath": {}}, "/login", "EXACTLY"), "Captcha"),
        _rule(
            "tag-bots",
            2,
            byte_match(ua, "bot", "CONTAINS", "LOWERCASE"),
            "Count",
            RuleLabels=[{"Name": "test:bot"}],
        ),
        _rule("block-body", 3, byte_match(body, "evil", "CONTAINS"), "Block"),
        _rule("block-api-key", 4, byte_match(api_key, "stolen", "EXACTLY"), "Block"),
    ]
    if not admin:
        rules = rules[1:]
    if managed:  # AWS's core rule set, replayed from the log (managed="log")
        rules.append(
            {
                "Name": "crs",
                "Priority": 5,
                "Statement": {
                    "ManagedRuleGroupStatement": {
                        "VendorName": "AWS",
                        "Name": "AWSManagedRulesCommonRuleSet",
                        "RuleActionOverrides": [
                            {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
                        ],
                    }
                },
                "OverrideAction": {"None": {}},
                "VisibilityConfig": visibility("crs", sampled=False),
            }
        )
    if rate_based:
        rules.append(
            _rule(
                "rate-limit",
                9,
                {"RateBasedStatement": {"Limit": 100, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"}},
                "Block",
            )
        )
    return web_acl(
        rules, name="replay-test", id="5a5a5a5a-1111-2222-3333-444455556666", arn=ACL_ARN, sampled=False
    )


def write_acl(path: Path, **kwargs: Any) -> Path:
    path.write_text(json.dumps(acl_document(**kwargs), indent=2))
    return path


def waf_record(
    i: int,
    uri: str = "/",
    *,
    method: str = "GET",
    ua: str | None = "Mozilla/5.0",
    args: str = "",
    ip: str = "203.0.113.5",
    action: str = "ALLOW",
    rule: str = "Default_Action",
    headers: tuple[tuple[str, str], ...] = (),
    ts: int | None = None,
) -> dict[str, Any]:
    """One AWS WAF log record as AWS writes it (the logged decision is `action` / `rule`)."""
    hdrs = [{"name": "Host", "value": "shop.example.com"}]
    if ua is not None:
        hdrs.append({"name": "User-Agent", "value": ua})
    hdrs += [{"name": n, "value": v} for n, v in headers]
    return {
        "timestamp": T0 + i * 1000 if ts is None else ts,
        "formatVersion": 1,
        "webaclId": ACL_ARN,
        "terminatingRuleId": rule,
        "terminatingRuleType": "REGULAR",
        "action": action,
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": f"{ACCOUNT}-app/shop/50dc6c495c0c9188",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "requestHeadersInserted": None,
        "responseCodeSent": None,
        "httpRequest": {
            "clientIp": ip,
            "country": "NL",
            "headers": hdrs,
            "uri": uri,
            "args": args,
            "httpVersion": "HTTP/1.1",
            "httpMethod": method,
            "requestId": f"1-65f0c0de-{i:024x}",
        },
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def alb_line(
    i: int, path: str = "/", *, ua: str = "Mozilla/5.0", blocked: bool = False, ip: str = "203.0.113.5"
) -> str:
    """One ALB access-log line (current field set); `blocked` = WAF answered (actions end with waf)."""
    when = datetime.fromtimestamp((T0 + i * 1000) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    target, status, target_status, actions = (
        ("-", 403, "-", "waf") if blocked else ("10.0.0.1:80", 200, 200, "waf,forward")
    )
    return (
        f"http {when} app/shop/50dc6c495c0c9188 {ip}:4242 {target} 0.000 0.001 0.000 "
        f'{status} {target_status} 34 366 "GET http://shop.example.com:80{path} HTTP/1.1" "{ua}" - - '
        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop/6d0ecf831eec9f09 "
        f'"Root=1-58337262-{i:024x}" "-" "-" 0 {when} "{actions}" "-" "-" '
        f'"{target}" "{target_status}" "-" "-"'
    )


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `wafpy ARGS`; exit code, stdout, stderr."""
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=False)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps tables at 80 columns when not on a terminal; wide output keeps assertions simple.
    monkeypatch.setenv("COLUMNS", "250")


def replay_record(acl: WebACL, rec: dict[str, Any]) -> Outcome:
    """The outcome of replaying one AWS WAF log record against `acl`, as `wafpy eval` does."""
    evaluator = Evaluator(acl, ReplayOptions(write_records=True))
    items, _ = evaluator.run([("json", "log", [1], [orjson.dumps(rec)])])
    (outcome,) = items
    assert isinstance(outcome, Outcome)
    return outcome


def describe(outcome: Outcome) -> str:
    """An outcome in one line: its action, rule and labels, or why it is undetermined."""
    if outcome.undetermined:
        return "UNDETERMINED " + "; ".join(f"{g}: {r}" for g, r in outcome.undetermined)
    return f"{outcome.action} {outcome.rule_id} [{', '.join(outcome.labels)}]"
