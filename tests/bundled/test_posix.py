"""The bundled POSIX operating system managed rule group (AWSManagedRulesUnixRuleSet) against AWS's table:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html"""

from __future__ import annotations

import pytest

from tests.bundled.usecase_groups import (
    BODY,
    HEADERS,
    QUERY_STRING,
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

GROUP = "AWSManagedRulesUnixRuleSet"
NAMESPACE = "awswaf:managed:aws:posix-os:"
N = NAMESPACE

# AWS's table, in its order: rule, label, default action, component.
TABLE = [
    Documented(
        "UNIXShellCommandsVariables_QUERYSTRING",
        N + "UNIXShellCommandsVariables_QueryString",
        "Block",
        QUERY_STRING,
    ),
    Documented("UNIXShellCommandsVariables_BODY", N + "UNIXShellCommandsVariables_Body", "Block", BODY),
    Documented(
        "UNIXShellCommandsVariables_HEADER", N + "UNIXShellCommandsVariables_Header", "Block", HEADERS
    ),
]

# AWS's examples are echo $HOME and echo $PATH.
CASES = [
    Case(
        "UNIXShellCommandsVariables_QUERYSTRING",
        get("/ping?host=127.0.0.1;echo%20$HOME"),
        get("/price?amount=%2410%20home"),
    ),
    Case(
        "UNIXShellCommandsVariables_BODY",
        post("cmd=echo%20%24PATH"),
        post("note=pay%20%245%20for%20the%20path"),
    ),
    Case(
        "UNIXShellCommandsVariables_HEADER",
        get("/", {"X-Debug": "echo $HOME"}),
        get("/", {"X-Debug": "home sweet home"}),
    ),
]


def test_the_file_says_what_aws_documents() -> None:
    check_documented(GROUP, 100, NAMESPACE, TABLE)


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
    check_blocks(GROUP, post("cmd=echo%20%24HOME"), N + "UNIXShellCommandsVariables_Body")
