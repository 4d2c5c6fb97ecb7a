"""`managed=["bundled", "log"]` / `--managed bundled --managed log`: the groups wafpy can build
(bundled, or the user's files) are evaluated with their rules, and every other managed group
(the private-data ones, any group not found) is replayed from the AWS WAF log record
(https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html).

Tables over the combinations: what each spelling parses to, where each group's rules come from,
and the decision on synthetic records where a private-data group blocked while a bundled group
is evaluated by wafpy. Then the command line (eval, validate, explain) and the middleware's
refusal.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.replay_fixtures import describe, replay_record
from tests.test_managed import CRS, managed_rule, rule_group, web_acl, write
from wafpy import NotAvailableError, load_web_acl
from wafpy import model as ast
from wafpy.cli.main import EXIT_OK, main
from wafpy.engine.fromlog import REASONS
from wafpy.load.managed import LOG_IS_REPLAY_ONLY, ManagedChoice, ManagedSpec, managed_groups, parse_managed
from wafpy.middleware import WAFMiddleware
from wafpy.replay import Outcome

ACCOUNT = "111122223333"
BOT = "AWSManagedRulesBotControlRuleSet"
ANON = "AWSManagedRulesAnonymousIpList"
UNKNOWN = "AWSManagedRulesNotAGroupRuleSet"
CRS_NS = "awswaf:managed:aws:core-rule-set:"
BOT_NS = "awswaf:managed:aws:bot-control:"
BOT_LABELS = (BOT_NS + "bot:category:http_library", BOT_NS + "bot:name:curl", "awswaf:managed:token:absent")
UA_LABEL = CRS_NS + "NoUserAgent_Header"


# --------------------------------------------------------------------------------------------
# The spellings


PARSED: dict[str, tuple[ManagedSpec, ManagedChoice, str]] = {
    "log alone": ("log", ManagedChoice("log"), 'managed="log"'),
    "log alone in a list": (["log"], ManagedChoice("log"), 'managed="log"'),
    "bundled then log": (
        ["bundled", "log"],
        ManagedChoice("bundled", log_rest=True),
        'managed="bundled", "log"',
    ),
    "log then bundled": (
        ["log", "bundled"],
        ManagedChoice("bundled", log_rest=True),
        'managed="bundled", "log"',
    ),
    "a path then log": (
        ["mine/", "log"],
        ManagedChoice("files", ("mine/",), log_rest=True),
        'managed=mine/, "log"',
    ),
    "log between a path and bundled": (
        ["mine/", "log", "bundled"],
        ManagedChoice("bundled", ("mine/",), 1, log_rest=True),
        'managed=mine/, "bundled", "log"',
    ),
    "bundled, a path, log": (
        ["bundled", "mine/", "log"],
        ManagedChoice("bundled", ("mine/",), 0, log_rest=True),
        'managed="bundled", mine/, "log"',
    ),
}


@pytest.mark.parametrize("case", list(PARSED))
def test_log_among_other_sources_parses(case: str) -> None:
    value, expected, text = PARSED[case]
    choice = parse_managed(value)
    assert choice == expected
    assert str(choice) == text
    assert choice.replays_log


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (["log", "none"], 'managed="none" cannot be combined'),
        (["none", "bundled", "log"], 'managed="none" cannot be combined'),
        (["log", "mine/", "log"], 'managed="log" is given twice'),
    ],
)
def test_log_keeps_none_alone_and_is_given_once(value: list[str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_managed(value)


def test_ip_lists_with_log_still_need_bundled() -> None:
    with pytest.raises(ValueError, match='needs managed="bundled"'):
        parse_managed(["mine/", "log"], {"AnonymousIPList": []})


# --------------------------------------------------------------------------------------------
# Where each group's rules come from


def _acl_doc(*names: str) -> dict[str, Any]:
    return web_acl(*(managed_rule(name, i) for i, name in enumerate(names)))


def _sources(doc: dict[str, Any], managed: ManagedSpec, lists: Any = None) -> dict[str, str]:
    acl = load_web_acl(doc, managed=managed, managed_ip_lists=lists)
    out = {}
    for group, _, statement in managed_groups(acl.model):
        source = statement.rules_from or ""
        out[group.removeprefix("AWS/")] = "file" if source.startswith("file:") else source
    return out


ALL = (CRS, BOT, ANON, UNKNOWN)
ANON_LISTS = {"AnonymousIPList": ["203.0.113.0/24"], "HostingProviderIPList": []}

# (managed, IP lists, where each of CRS, Bot Control, anonymous IP and an unknown group comes from)
SOURCES: dict[str, tuple[Any, Any, tuple[str, str, str, str]]] = {
    "log alone": ("log", None, ("log", "log", "log", "log")),
    "bundled, log": (["bundled", "log"], None, ("bundled", "log", "log", "log")),
    "log, bundled": (["log", "bundled"], None, ("bundled", "log", "log", "log")),
    "bundled with IP lists, log": (["bundled", "log"], ANON_LISTS, ("bundled", "log", "bundled", "log")),
    "a file, log": (["FILE", "log"], None, ("file", "log", "log", "log")),
    "a file, bundled, log": (["FILE", "bundled", "log"], None, ("file", "log", "log", "log")),
    "bundled, a file, log": (["bundled", "FILE", "log"], None, ("bundled", "log", "log", "log")),
    "log, a file, bundled": (["log", "FILE", "bundled"], None, ("file", "log", "log", "log")),
}


@pytest.mark.parametrize("case", list(SOURCES))
def test_first_source_that_has_the_group_wins_and_log_takes_the_rest(case: str, tmp_path: Path) -> None:
    managed, lists, expected = SOURCES[case]
    crs_file = write(tmp_path / "crs.json", rule_group(CRS, "/mine", VendorName="AWS"))
    if isinstance(managed, list):
        managed = [str(crs_file) if m == "FILE" else m for m in managed]
    assert _sources(_acl_doc(*ALL), managed, lists) == dict(zip(ALL, expected, strict=True))


def test_without_log_the_private_data_group_is_still_refused() -> None:
    with pytest.raises(NotAvailableError, match="wafpy cannot bundle it"):
        load_web_acl(_acl_doc(CRS, BOT), managed="bundled")


# --------------------------------------------------------------------------------------------
# Replay: a record where a private-data group blocked, a bundled group evaluated by wafpy


def _entry(group: str, terminating: str | None = None) -> dict[str, Any]:
    rule = None if terminating is None else {"ruleId": terminating, "action": "BLOCK", "ruleMatchDetails": []}
    return {
        "ruleGroupId": f"AWS#{group}",
        "terminatingRule": rule,
        "nonTerminatingMatchingRules": [],
        "excludedRules": None,
    }


def _record(groups: list[dict[str, Any]], *, bot_blocked: bool, user_agent: str | None) -> dict[str, Any]:
    headers = [{"name": "Host", "value": "shop.example.com"}]
    if user_agent is not None:
        headers.append({"name": "User-Agent", "value": user_agent})
    return {
        "timestamp": 1_710_930_600_000,
        "formatVersion": 1,
        "webaclId": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/logged/1",
        "terminatingRuleId": f"use-{BOT}" if bot_blocked else "Default_Action",
        "terminatingRuleType": "MANAGED_RULE_GROUP" if bot_blocked else "REGULAR",
        "action": "BLOCK" if bot_blocked else "ALLOW",
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
        "labels": [{"name": label} for label in BOT_LABELS] if bot_blocked else [],
    }


# Bot Control blocked; the logged Core rule set matched nothing (AWS saw a User-Agent).
BOT_BLOCKED = [_entry(CRS), _entry(BOT, "CategoryHttpLibrary")]
# The logged web ACL had no Bot Control: the record cannot say what it would have done.
NO_BOT = [_entry(CRS)]

BOT_BLOCK = f"BLOCK use-{BOT} [{', '.join(BOT_LABELS)}]"
CRS_BLOCK = f"BLOCK use-{CRS} [{UA_LABEL}]"
NOT_IN_RECORD = f"UNDETERMINED AWS#{BOT}: {REASONS['not in record']}"

# (ruleGroupList, Bot Control blocked, User-Agent, managed, expected outcome)
REPLAYS: dict[str, tuple[list[dict[str, Any]], bool, str | None, Any, str]] = {
    "bot blocked, bundled+log": (BOT_BLOCKED, True, "curl/8.4.0", ["bundled", "log"], BOT_BLOCK),
    "bot blocked, log+bundled": (BOT_BLOCKED, True, "curl/8.4.0", ["log", "bundled"], BOT_BLOCK),
    "bot blocked, log alone": (BOT_BLOCKED, True, "curl/8.4.0", "log", BOT_BLOCK),
    # Without a User-Agent the bundled Core rule set blocks first, whatever the log says of it.
    "no user agent, bundled+log": (BOT_BLOCKED, True, None, ["bundled", "log"], CRS_BLOCK),
    # From the log, the Core rule set matched nothing: Bot Control's logged block stands.
    "no user agent, log alone": (BOT_BLOCKED, True, None, "log", BOT_BLOCK),
    # Bot Control not in the record: undetermined, unless the bundled group ends it first.
    "no bot entry, bundled+log": (NO_BOT, False, "curl/8.4.0", ["bundled", "log"], NOT_IN_RECORD),
    "no bot entry, no user agent, bundled+log": (NO_BOT, False, None, ["bundled", "log"], CRS_BLOCK),
}


def _replay(doc: dict[str, Any], managed: Any, rec: dict[str, Any]) -> Outcome:
    return replay_record(load_web_acl(doc, managed=managed), rec)


@pytest.mark.parametrize("case", list(REPLAYS))
def test_replay_takes_private_data_groups_from_the_log_and_evaluates_bundled_ones(case: str) -> None:
    groups, bot_blocked, user_agent, managed, expected = REPLAYS[case]
    rec = _record(groups, bot_blocked=bot_blocked, user_agent=user_agent)
    assert describe(_replay(_acl_doc(CRS, BOT), managed, rec)) == expected


def test_order_of_the_web_acl_decides_which_group_is_reached() -> None:
    # Bot Control first: its logged block stands, the bundled group after it is never reached.
    rec = _record(BOT_BLOCKED, bot_blocked=True, user_agent=None)
    assert describe(_replay(_acl_doc(BOT, CRS), ["bundled", "log"], rec)) == BOT_BLOCK


# --------------------------------------------------------------------------------------------
# The command line and the middleware


def _files(tmp_path: Path, rec: dict[str, Any]) -> tuple[Path, Path]:
    acl = write(tmp_path / "acl.json", _acl_doc(CRS, BOT))
    log = tmp_path / "waf.jsonl"
    log.write_bytes(orjson.dumps(rec) + b"\n")
    return acl, log


def test_eval_says_which_groups_came_from_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl, log = _files(tmp_path, _record(BOT_BLOCKED, bot_blocked=True, user_agent="curl/8.4.0"))
    code = main(["eval", str(acl), str(log), "--managed", "bundled", "--managed", "log", "--compare"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == EXIT_OK, out
    line = out.split("replayed from the AWS WAF log records (--managed log): ")[1]
    assert line.startswith(f"AWS/{BOT} ") and CRS not in line.split(" ")[0]
    assert "1 requests, 0 changed" in out


def test_the_html_report_says_which_groups_came_from_the_log(tmp_path: Path) -> None:
    acl, log = _files(tmp_path, _record(BOT_BLOCKED, bot_blocked=True, user_agent="curl/8.4.0"))
    report = tmp_path / "report.html"
    argv = ["eval", str(acl), str(log), "--managed", "bundled", "--managed", "log", "--report", str(report)]
    assert main([*argv, "--quiet"]) == EXIT_OK
    html = report.read_text(encoding="utf-8")
    assert f"(--managed log): AWS/{BOT}</p>" in html
    assert main(["eval", str(acl), str(log), "--managed", "bundled", "--report", str(report), "--quiet"]) != 0
    log_alone = ["eval", str(acl), str(log), "--managed", "log", "--report", str(report), "--quiet"]
    assert main(log_alone) == EXIT_OK
    assert f"(--managed log): AWS/{CRS}, AWS/{BOT}</p>" in report.read_text(encoding="utf-8")


def test_validate_says_which_groups_come_from_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl, _ = _files(tmp_path, _record(NO_BOT, bot_blocked=False, user_agent=None))
    assert main(["validate", str(acl), "--managed", "bundled", "--managed", "log"]) == EXIT_OK
    out = capsys.readouterr().out
    at = "Statement.ManagedRuleGroupStatement"
    assert f"offline: AWS/{BOT} (at Rules[1].{at}) replayed from AWS WAF log records" in out
    assert f"offline: AWS/{CRS} (at Rules[0].{at}) evaluated with wafpy's bundled" in out


def test_explain_says_which_groups_came_from_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl, log = _files(tmp_path, _record(BOT_BLOCKED, bot_blocked=True, user_agent="curl/8.4.0"))
    code = main(["explain", str(acl), str(log), "--managed", "bundled", "--managed", "log"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == EXIT_OK, out
    assert f"BLOCK by use-{BOT}" in out and "CategoryHttpLibrary" in out
    assert "[inner rules from the log]" in out and "bundled equivalent" in out


@pytest.mark.parametrize("managed", [["bundled", "log"], ["log", "bundled"]])
def test_the_middleware_refuses_log_in_a_list(managed: list[str]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never called")

    with pytest.raises(NotAvailableError) as caught:
        WAFMiddleware(app, _acl_doc(CRS, BOT), managed=managed)
    assert str(caught.value) == LOG_IS_REPLAY_ONLY
    assert 'drop "log" from a list' in LOG_IS_REPLAY_ONLY


def test_a_mixed_choice_survives_pickling_for_the_workers() -> None:
    choice = parse_managed(["bundled", "log"])
    assert pickle.loads(pickle.dumps(choice)) == choice
    model = load_web_acl(_acl_doc(CRS, BOT), managed=choice).model
    assert isinstance(model, ast.WebACL)
    assert sorted(s.rules_from or "" for _, _, s in managed_groups(model)) == ["bundled", "log"]
