"""The bundled SQL database managed rule group (AWSManagedRulesSQLiRuleSet) against AWS's table:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html"""

from __future__ import annotations

import pytest

from tests.bundled.usecase_groups import (
    BODY,
    COOKIES,
    HEADERS,
    QUERY_ARGUMENTS,
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

GROUP = "AWSManagedRulesSQLiRuleSet"
NAMESPACE = "awswaf:managed:aws:sql-database:"
N = NAMESPACE

# AWS's table, in its order: rule, label, default action, component (and the SQLi statement's level).
TABLE = [
    Documented("SQLi_QUERYARGUMENTS", N + "SQLi_QueryArguments", "Block", QUERY_ARGUMENTS, "LOW"),
    Documented(
        "SQLiExtendedPatterns_QUERYARGUMENTS",
        N + "SQLiExtendedPatterns_QueryArguments",
        "Block",
        QUERY_ARGUMENTS,
    ),
    Documented("SQLi_BODY", N + "SQLi_Body", "Block", BODY, "LOW"),
    Documented("SQLiExtendedPatterns_BODY", N + "SQLiExtendedPatterns_Body", "Block", BODY),
    Documented("SQLiExtendedPatterns_HEADER", N + "SQLiExtendedPatterns_Header", "Block", HEADERS),
    Documented("SQLiExtendedPatterns_URIPATH", N + "SQLiExtendedPatterns_UriPath", "Block", URI_PATH),
    Documented("SQLi_COOKIE", N + "SQLi_Cookie", "Block", COOKIES, "LOW"),
    Documented("SQLi_URIPATH", N + "SQLi_URIPath", "Block", URI_PATH, "LOW"),
]

# AWS gives no example strings for this group: the attacks are classic SQL injection probes of the
# public corpora (libinjection's samples, the OWASP CRS regression tests).
CASES = [
    Case("SQLi_QUERYARGUMENTS", get("/items?id=1%27%20OR%20%271%27%3D%271"), get("/items?id=O%27Reilly")),
    Case(
        "SQLiExtendedPatterns_QUERYARGUMENTS",
        get("/report?table=information_schema.tables"),
        get("/report?table=information%20schema"),
    ),
    Case("SQLi_BODY", post("user=admin%27%20OR%201%3D1--"), post("comment=it%27s%20one%20or%20two")),
    Case("SQLiExtendedPatterns_BODY", post("q=COALESCE%28"), post("q=coalesce")),
    Case(
        "SQLiExtendedPatterns_HEADER",
        get("/", {"X-Filter": "1 UNION SELECT password FROM users"}),
        get("/", {"X-Filter": "the union selected a chair"}),
    ),
    Case(
        "SQLiExtendedPatterns_URIPATH",
        get("/report/1%20UNION%20SELECT%20null"),
        get("/blog/union-select-committee"),
    ),
    Case(
        "SQLi_COOKIE",
        get("/", {"Cookie": "session=1' OR '1'='1"}),
        get("/", {"Cookie": "session=abc123; theme=dark"}),
    ),
    Case("SQLi_URIPATH", get("/item/1%27%20OR%20%271%27%3D%271"), get("/item/o%27reilly-books")),
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
    check_blocks(GROUP, get("/items?id=1%27%20OR%20%271%27%3D%271"), N + "SQLi_QueryArguments")
