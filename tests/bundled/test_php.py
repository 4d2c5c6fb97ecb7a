"""The bundled PHP application managed rule group (AWSManagedRulesPHPRuleSet) against AWS's table:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html"""

from __future__ import annotations

import pytest

from tests.bundled.usecase_groups import (
    BODY,
    HEADERS,
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

GROUP = "AWSManagedRulesPHPRuleSet"
NAMESPACE = "awswaf:managed:aws:php-app:"
N = NAMESPACE

# AWS's table, in its order: rule, label, default action, component.
TABLE = [
    Documented(
        "PHPHighRiskMethodsVariables_HEADER", N + "PHPHighRiskMethodsVariables_Header", "Block", HEADERS
    ),
    Documented(
        "PHPHighRiskMethodsVariables_QUERYSTRING",
        N + "PHPHighRiskMethodsVariables_QueryString",
        "Block",
        QUERY_STRING,
    ),
    Documented("PHPHighRiskMethodsVariables_BODY", N + "PHPHighRiskMethodsVariables_Body", "Block", BODY),
    Documented(
        "PHPHighRiskMethodsVariables_URIPATH", N + "PHPHighRiskMethodsVariables_URIPath", "Block", URI_PATH
    ),
]

# AWS's examples are the fsockopen function and the $_GET superglobal.
CASES = [
    Case(
        "PHPHighRiskMethodsVariables_HEADER",
        get("/", {"X-Api": "<?php fsockopen('evil', 80); ?>"}),
        get("/", {"X-Api": "sockets open"}),
    ),
    Case("PHPHighRiskMethodsVariables_QUERYSTRING", get("/page?x=%24_GET%5Bcmd%5D"), get("/page?x=get_cmd")),
    Case(
        "PHPHighRiskMethodsVariables_BODY",
        post("code=fsockopen%28%22evil%22%2C80%29"),
        post("code=socket+open"),
    ),
    Case(
        "PHPHighRiskMethodsVariables_URIPATH",
        get("/download/php://filter/resource=index"),
        get("/docs/php/filters"),
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
    check_blocks(GROUP, get("/page?x=%24_GET%5Bcmd%5D"), N + "PHPHighRiskMethodsVariables_QueryString")
