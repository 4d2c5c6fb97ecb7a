"""The three engines, each fed the same `Case`s and timed the same way.

Every engine walks the case list in batches (consecutive cases of one set, `BATCH` at most) and
times each batch in its own process's CPU time (`time.process_time`); the report takes the median
of the batches' per-request means, so a neighbour's burst on the shared machine moves one batch,
not the figure. Building the engine's request from the case is inside the timed region for every
engine (a `wafpy.Request`; a ModSecurity or lewaf transaction fed method, URI, headers and body).

* `WafpyEngine`: a web ACL whose rules reference each bundled AWS managed rule group, in AWS's
  default actions. A second, untimed pass evaluates the same groups with a Count override, so the
  labels say which groups would have blocked (several may, where the first one terminates).
* `ModSecurityEngine`: ModSecurity v3 (`libmodsecurity` wheel) + OWASP CRS at paranoia level 1,
  in anomaly-scoring mode (blocks at an inbound score of 5), as `../shared/PEERS.md` describes.
* lewaf runs in its own interpreter (`lewaf_worker.py`, driven by `peers.run_lewaf`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.detection.cases import Case
from wafpy import NotAvailableError, Request, RulesetErrors, WebACL, load_web_acl

ROOT = Path(__file__).resolve().parents[2]
MANAGED_DIR = ROOT / "rulesets" / "managed"
BATCH = 20

# AWS's managed rule groups the project bundles, in the order AWS lists them.
GROUP_ORDER = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesAdminProtectionRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet",
    "AWSManagedRulesPHPRuleSet",
    "AWSManagedRulesWordPressRuleSet",
)


@dataclass
class Outcome:
    """What one engine made of the case list: a verdict per case and the batches' CPU times."""

    engine: str
    blocked: list[bool]
    # (set, number of requests, CPU seconds) per batch, in order.
    batches: list[tuple[str, int, float]]
    # wafpy only: per case, the bundled groups that would have blocked it.
    groups: list[tuple[str, ...]] = field(default_factory=list)
    # wafpy only: per case, the labels of the rules that would have blocked it.
    rules: list[tuple[str, ...]] = field(default_factory=list)
    errors: int = 0
    note: str = ""


def batches(cases: Sequence[Case], size: int = BATCH) -> Iterator[tuple[str, int, int]]:
    """(set, start, stop) of consecutive cases of one set, `size` at most."""
    start = 0
    while start < len(cases):
        stop = start + 1
        while stop < len(cases) and stop - start < size and cases[stop].set == cases[start].set:
            stop += 1
        yield cases[start].set, start, stop
        start = stop


def timed(cases: Sequence[Case], verdict: Callable[[Case], bool], engine: str) -> Outcome:
    blocked: list[bool] = []
    spent: list[tuple[str, int, float]] = []
    errors = 0
    clock = time.process_time
    for set_key, start, stop in batches(cases):
        verdicts = []
        begin = clock()
        for case in cases[start:stop]:
            try:
                verdicts.append(verdict(case))
            except Exception:  # one odd request must not end the run; counted and shown
                verdicts.append(False)
                errors += 1
        spent.append((set_key, stop - start, clock() - begin))
        blocked += verdicts
    return Outcome(engine, blocked, spent, errors=errors)


# ------------------------------------------------------------------------------------------------
# wafpy


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name}


def bundled_groups(folder: Path = MANAGED_DIR) -> list[dict[str, Any]]:
    """The RuleGroup objects of the `GROUP_ORDER` groups among the files in `folder`, in that order."""
    groups = []
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        group = document.get("RuleGroup", document)
        if isinstance(group, dict) and "Rules" in group:
            groups.append(group)
    # Only the groups measured here: IP-list groups need the user's lists, and match no payload.
    rank = {name: i for i, name in enumerate(GROUP_ORDER)}
    return sorted((g for g in groups if g["Name"] in rank), key=lambda g: rank[g["Name"]])


def web_acl(names: Sequence[str], *, count: bool = False) -> dict[str, Any]:
    """A web ACL referencing each group; `count` overrides every group's actions to Count."""
    override: dict[str, Any] = {"Count": {}} if count else {"None": {}}
    rules = [
        {
            "Name": name,
            "Priority": i,
            "OverrideAction": override,
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
            "VisibilityConfig": _visibility(name),
        }
        for i, name in enumerate(names)
    ]
    return {
        "Name": "bundled-managed-rule-groups",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": _visibility("bundled-managed-rule-groups"),
        "Rules": rules,
    }


def load_bundled(document: dict[str, Any], managed: str) -> tuple[WebACL, str]:
    """The web ACL with managed="bundled" when wafpy supports it, else the folder of group files.

    `managed` is "auto" (bundled, else the files), "bundled", or a folder of group files.
    """
    if managed in ("auto", "bundled"):
        try:
            return load_web_acl(document, managed="bundled"), 'managed="bundled"'
        except (NotAvailableError, RulesetErrors, ValueError, TypeError):
            if managed == "bundled":
                raise
    if managed in ("auto", "bundled"):
        return load_web_acl(document, managed=[str(MANAGED_DIR)]), "managed=[rulesets/managed]"
    return load_web_acl(document, managed=[managed]), f"managed=[{Path(managed).name}] (group files)"


def blocking_labels(groups: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Label -> group, for each rule whose own action blocks (Count rules only label)."""
    out = {}
    for group in groups:
        namespace = group.get("LabelNamespace", "")
        for rule in group["Rules"]:
            if "Block" not in rule.get("Action", {}):
                continue
            for label in rule.get("RuleLabels") or [{"Name": rule["Name"]}]:
                out[namespace + label["Name"]] = group["Name"]
    return out


def to_request(case: Case) -> Request:
    return Request(
        method=case.method,
        uri=case.target,
        headers=case.headers,
        body=case.body,
        http_version=case.version,
        client_ip="127.0.0.1",
    )


class WafpyEngine:
    name = "wafpy"

    def __init__(self, managed: str = "auto", folder: Path = MANAGED_DIR) -> None:
        self.groups = bundled_groups(folder)
        self.names = [g["Name"] for g in self.groups]
        self.acl, self.how = load_bundled(web_acl(self.names), managed)
        self.count_acl, _ = load_bundled(web_acl(self.names, count=True), managed)
        self.labels = blocking_labels(self.groups)

    def verdict(self, case: Case) -> bool:
        return self.acl.evaluate(to_request(case)).action == "BLOCK"

    def attribute(self, case: Case) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The groups, and the rules' labels, that would have blocked the case."""
        labels = [x for x in self.count_acl.evaluate(to_request(case)).labels if x in self.labels]
        return tuple(sorted({self.labels[x] for x in labels})), tuple(labels)

    def run(self, cases: Sequence[Case]) -> Outcome:
        outcome = timed(cases, self.verdict, self.name)
        attributed = [self.attribute(c) for c in cases]
        outcome.groups = [groups for groups, _ in attributed]
        outcome.rules = [rules for _, rules in attributed]
        outcome.note = f"{len(self.names)} bundled groups, {self.how}"
        return outcome


# ------------------------------------------------------------------------------------------------
# ModSecurity v3 + CRS


def modsecurity_config(crs: Path) -> str:
    """The main configuration: engine on, body access and limits, CRS setup and rules (PL1)."""
    return "\n".join(
        [
            "SecRuleEngine On",
            "SecRequestBodyAccess On",
            "SecRequestBodyLimit 13107200",
            "SecRequestBodyNoFilesLimit 131072",
            "SecRequestBodyLimitAction Reject",
            # ModSecurity's recommended configuration: the body processor follows the Content-Type.
            'SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" '
            '"id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"',
            'SecRule REQUEST_HEADERS:Content-Type "^application/json" '
            '"id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
            f"Include {crs / 'crs-setup.conf.example'}",
            f"Include {crs / 'rules' / '*.conf'}",
            "",
        ]
    )


class ModSecurityEngine:
    name = "ModSecurity + CRS PL1"

    def __init__(self, crs: Path, scratch: Path) -> None:
        from libmodsecurity import ModSecurity, RulesSet

        self.engine = ModSecurity()
        # Without a callback every match is printed to stderr, which would be timed too.
        self.engine.set_log_callback(lambda *_: None)
        self.rules = RulesSet()
        main = scratch / "modsecurity-main.conf"
        main.write_text(modsecurity_config(crs), encoding="utf-8")
        count = self.rules.load_from_uri(str(main))
        if count < 0:
            raise RuntimeError(f"ModSecurity could not load the CRS rules: {self.rules.get_parser_error()}")
        self.rule_count = count

    def verdict(self, case: Case) -> bool:
        version = case.version.removeprefix("HTTP/")
        with self.engine.transaction(self.rules) as t:
            t.process_connection("127.0.0.1", 40000, "127.0.0.1", 80)
            t.process_uri(case.target, case.method, version)
            for name, value in case.headers:
                t.add_request_header(name, value)
            t.process_request_headers()
            it = t.intervention()
            if it is not None and it.disruptive:
                return True
            if case.body:
                t.append_request_body(case.body)
            t.process_request_body()
            it = t.intervention()
            return it is not None and bool(it.disruptive)

    def run(self, cases: Sequence[Case]) -> Outcome:
        outcome = timed(cases, self.verdict, self.name)
        outcome.note = f"ModSecurity v3 (libmodsecurity wheel), CRS 4.21.0, {self.rule_count} rules"
        return outcome
