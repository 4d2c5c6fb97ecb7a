"""The bundled Windows operating system managed rule group (AWSManagedRulesWindowsRuleSet) against
AWS's table: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html"""

from __future__ import annotations

import pytest

from tests.bundled.usecase_groups import (
    BODY,
    COOKIES,
    HEADERS,
    QUERY_ARGUMENTS,
    QUERY_STRING,
    URI_PATH,
    Case,
    Documented,
    check_blocks,
    check_case,
    check_documented,
    check_fidelity,
    check_loads,
    get,
    post,
)

GROUP = "AWSManagedRulesWindowsRuleSet"
NAMESPACE = "awswaf:managed:aws:windows-os:"
N = NAMESPACE

# AWS's table, in its order: rule, label, default action, component.
TABLE = [
    Documented("WindowsShellCommands_HEADER", N + "WindowsShellCommands_Header", "Block", HEADERS),
    Documented(
        "WindowsShellCommands_QUERYARGUMENTS",
        N + "WindowsShellCommands_QueryArguments",
        "Block",
        QUERY_ARGUMENTS,
    ),
    Documented(
        "WindowsShellCommands_QUERYSTRING", N + "WindowsShellCommands_QueryString", "Block", QUERY_STRING
    ),
    Documented("WindowsShellCommands_URIPATH", N + "WindowsShellCommands_UriPath", "Block", URI_PATH),
    Documented("WindowsShellCommands_BODY", N + "WindowsShellCommands_Body", "Block", BODY),
    Documented("PowerShellCommands_COOKIE", N + "PowerShellCommands_Cookie", "Block", COOKIES),
    Documented(
        "PowerShellCommands_QUERYARGUMENTS", N + "PowerShellCommands_QueryArguments", "Block", QUERY_ARGUMENTS
    ),
    Documented("PowerShellCommands_BODY", N + "PowerShellCommands_Body", "Block", BODY),
]

# AWS's examples are ||nslookup, ;cmd and Invoke-Expression.
CASES = [
    Case(
        "WindowsShellCommands_HEADER",
        get("/", {"X-Target": "127.0.0.1||nslookup example.com"}),
        get("/", {"X-Target": "a lookup of names"}),
    ),
    Case(
        "WindowsShellCommands_QUERYARGUMENTS",
        get("/ping?host=127.0.0.1%7C%7Cnslookup%20example.com"),
        get("/ping?host=example.com"),
    ),
    Case("WindowsShellCommands_QUERYSTRING", get("/run?x=1;cmd%20/c%20dir"), get("/run?x=cmdlet-docs")),
    Case("WindowsShellCommands_URIPATH", get("/files/a.txt%26whoami"), get("/users/whoami-page")),
    Case(
        "WindowsShellCommands_BODY",
        post("host=8.8.8.8%26%26ipconfig%20/all"),
        post("host=8.8.8.8&mode=ipconfig-help"),
    ),
    Case(
        "PowerShellCommands_COOKIE",
        get("/", {"Cookie": "pref=Invoke-Expression%20(whoami)"}),
        get("/", {"Cookie": "pref=invoice-expression"}),
    ),
    Case(
        "PowerShellCommands_QUERYARGUMENTS",
        get("/run?c=Invoke-Expression%20%24payload"),
        get("/run?c=expression-invoker"),
    ),
    Case("PowerShellCommands_BODY", post("c=powershell%20-enc%20SQBFAFgA"), post("c=powershell%20tutorial")),
]


def test_the_file_says_what_aws_documents() -> None:
    check_documented(GROUP, 200, NAMESPACE, TABLE)


def test_fidelity_file() -> None:
    check_fidelity(GROUP)


def test_the_group_loads_and_fits_its_capacity() -> None:
    check_loads(GROUP)


def test_every_rule_has_a_case() -> None:
    assert [c.rule for c in CASES] == [d.name for d in TABLE]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_fires_on_an_attack_and_not_on_a_near_miss(case: Case) -> None:
    check_case(GROUP, NAMESPACE, TABLE, case)


def test_a_web_acl_referencing_the_group_blocks_with_its_label() -> None:
    check_blocks(GROUP, get("/run?x=1;cmd%20/c%20dir"), N + "WindowsShellCommands_QueryArguments")
