"""The bundled WordPress application managed rule group (AWSManagedRulesWordPressRuleSet) against AWS's table:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html"""

from __future__ import annotations

import pytest

from tests.bundled.usecase_groups import (
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
)

GROUP = "AWSManagedRulesWordPressRuleSet"
NAMESPACE = "awswaf:managed:aws:wordpress-app:"
N = NAMESPACE

# AWS's table, in its order: rule, label, default action, component.
TABLE = [
    Documented(
        "WordPressExploitableCommands_QUERYSTRING",
        N + "WordPressExploitableCommands_QUERYSTRING",
        "Block",
        QUERY_STRING,
    ),
    Documented(
        "WordPressExploitablePaths_URIPATH", N + "WordPressExploitablePaths_URIPATH", "Block", URI_PATH
    ),
]

# AWS's examples are do-reset-wordpress and xmlrpc.php.
CASES = [
    Case(
        "WordPressExploitableCommands_QUERYSTRING",
        get("/wp-admin/admin.php?page=wordpress-reset&action=do-reset-wordpress"),
        get("/wp-admin/admin.php?page=wordpress-reset&action=view"),
    ),
    Case("WordPressExploitablePaths_URIPATH", get("/xmlrpc.php"), get("/xmlrpc-docs.html")),
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
    check_blocks(GROUP, get("/xmlrpc.php"), N + "WordPressExploitablePaths_URIPATH")
