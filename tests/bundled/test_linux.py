"""The bundled Linux operating system managed rule group (AWSManagedRulesLinuxRuleSet) against AWS's table:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html"""

from __future__ import annotations

import pytest

from tests.bundled.usecase_groups import (
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
)

GROUP = "AWSManagedRulesLinuxRuleSet"
NAMESPACE = "awswaf:managed:aws:linux-os:"
N = NAMESPACE

# AWS's table, in its order: rule, label, default action, component.
TABLE = [
    Documented("LFI_URIPATH", N + "LFI_URIPath", "Block", URI_PATH),
    Documented("LFI_QUERYSTRING", N + "LFI_QueryString", "Block", QUERY_STRING),
    Documented("LFI_HEADER", N + "LFI_Header", "Block", HEADERS),
]

# AWS's example is /proc/version; the others are files of the public LFI lists (PayloadsAllTheThings).
CASES = [
    Case("LFI_URIPATH", get("/static/..%2f..%2f..%2fproc/version"), get("/docs/processing/version")),
    Case("LFI_QUERYSTRING", get("/view?file=/proc/version"), get("/view?file=reports/version.txt")),
    Case(
        "LFI_HEADER",
        get("/", {"X-File": "....//....//etc/passwd"}),
        get("/", {"Referer": "https://example.com/etc/password-tips"}),
    ),
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
    check_blocks(GROUP, get("/view?file=../../../../etc/shadow"), N + "LFI_QueryString")
