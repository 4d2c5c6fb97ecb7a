"""The bundled Admin protection group (AWSManagedRulesAdminProtectionRuleSet): AWS's one rule, its label and
action; administration paths match, ordinary paths that only contain the word do not.

https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
"""

from __future__ import annotations

import pytest

from tests.bundled.aws_baseline import (
    Documented,
    Example,
    check_blocks,
    check_documented,
    check_fidelity,
    check_loads,
    labels,
    request,
)

GROUP = "AWSManagedRulesAdminProtectionRuleSet"
LABEL = "awswaf:managed:aws:admin-protection:AdminProtection_URIPath"
DOCUMENTED = [Documented("AdminProtection_URIPATH", LABEL)]

# (attack path, near miss): AWS's example sqlmanager first, then common administration consoles.
PATHS = [
    ("/sqlmanager/index.php", "/sql-manager-review"),
    ("/admin", "/administrivia"),
    ("/admin/login", "/shop/admin-fees"),
    ("/Administrator/index.php", "/administration-guide.pdf"),
    ("/phpmyadmin/", "/docs/phpmyadmin-howto"),
    ("/manager/html", "/manager/profile"),
    ("/%61dmin/users", "/rest/admin/application-version"),
]


def test_rules_labels_and_actions_are_the_documented_ones() -> None:
    check_documented(GROUP, "admin-protection", DOCUMENTED)


def test_every_rule_has_a_fidelity_tier() -> None:
    check_fidelity(GROUP)


def test_loads_and_validates() -> None:
    check_loads(GROUP)


@pytest.mark.parametrize(("path", "near_miss"), PATHS)
def test_administration_paths_match_and_near_misses_do_not(path: str, near_miss: str) -> None:
    assert LABEL in labels(GROUP, request(path))
    assert LABEL not in labels(GROUP, request(near_miss))


def test_web_acl_blocks_with_the_label() -> None:
    check_blocks(GROUP, Example(DOCUMENTED[0].rule, request("/sqlmanager/"), request("/products/42")), LABEL)
