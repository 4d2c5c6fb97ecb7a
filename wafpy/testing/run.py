"""Case files run: each request evaluated and checked, and a decision shown as plain lines.

The cases of a file go in order to one fresh web ACL instance, so rate-based state carries from
case to case as written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from wafpy.decision import MATCH, NOT_APPLIED, Decision
from wafpy.errors import NotAvailableError
from wafpy.request import Request
from wafpy.testing.cases import (
    MANAGED_WORDS,
    CaseFile,
    CaseFileError,
    Expect,
    Outcome,
    expand_files,
    resolve_path,
)
from wafpy.webacl import WebACL, load_web_acl

__all__ = ["check", "describe_request", "failure_lines", "format_trace", "load_acl", "run_case_file"]


# ------------------------------------------------------------------------------------------------
# Running


def check(decision: Decision, expect: Expect) -> list[str]:
    """Every way `decision` differs from `expect`, one line each ("action: expected X, got Y")."""
    failures = []
    if expect.action is not None and decision.action != expect.action:
        failures.append(f"action: expected {expect.action}, got {decision.action}")
    rule = expect.terminating_rule_id
    if rule is not None and decision.terminating_rule_id != rule:
        failures.append(f"terminatingRuleId: expected {rule}, got {decision.terminating_rule_id}")
    if expect.response_code is not None and decision.response_code != expect.response_code:
        failures.append(f"responseCode: expected {expect.response_code}, got {decision.response_code}")
    if expect.labels is not None:
        have = set(decision.labels)
        if expect.labels_exact:
            missing = sorted(set(expect.labels) - have)
            extra = sorted(have - set(expect.labels))
            if missing or extra:
                failures.append(
                    f"labels (exact): missing {missing or 'none'}, unexpected {extra or 'none'}; "
                    f"got {sorted(have)}"
                )
        else:
            missing = sorted(set(expect.labels) - have)
            if missing:
                failures.append(f"labels: missing {missing}; got {sorted(have)}")
    rules = expect.non_terminating_matching_rules
    if rules is not None and tuple(decision.non_terminating_matching_rules) != rules:
        failures.append(
            f"nonTerminatingMatchingRules: expected {list(rules)}, "
            f"got {list(decision.non_terminating_matching_rules)}"
        )
    return failures


def run_case_file(case_file: CaseFile, clock: Any = None) -> list[Outcome]:
    """Evaluate every case in order against one fresh web ACL; CaseFileError if it does not load.

    `clock` (optional) is a no-argument callable returning seconds, to time each evaluation.
    """
    acl = case_file.load_acl()
    outcomes = []
    for case in case_file.cases:
        start = clock() if clock else 0.0
        try:
            decision = acl.evaluate(case.request)
        except NotAvailableError as exc:
            raise CaseFileError(case_file.path, f"{case.name}: {exc}") from None
        seconds = clock() - start if clock else 0.0
        outcomes.append(Outcome(case, decision, tuple(check(decision, case.expect)), seconds))
    return outcomes


def load_acl(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    base: str | os.PathLike[str] | None = None,
    resources: Mapping[str, Any] | Sequence[str | os.PathLike[str]] | None = None,
    account: str | None = None,
    search_string: Literal["auto", "base64", "text"] = "auto",
    managed: str | Sequence[str] | None = None,
    managed_ip_lists: str | os.PathLike[str] | Mapping[str, Sequence[str]] | None = None,
) -> WebACL:
    """`load_web_acl` with relative paths (source, resources, managed files, the IP lists file of
    the bundled IP-list groups) taken from `base`."""
    root = Path(base) if base is not None else Path.cwd()
    if isinstance(source, (str, os.PathLike)):
        source = resolve_path(root, os.fspath(source))
    if resources is not None and not isinstance(resources, Mapping):
        resources = expand_files(resolve_path(root, os.fspath(r)) for r in resources)
    if isinstance(managed, str):
        managed = [managed]
    if managed is not None:
        managed = [m if m in MANAGED_WORDS else str(resolve_path(root, m)) for m in managed]
    if isinstance(managed_ip_lists, (str, os.PathLike)):
        managed_ip_lists = resolve_path(root, os.fspath(managed_ip_lists))
    return load_web_acl(
        source,
        resources=resources,
        account=account,
        search_string=search_string,
        managed=managed,
        managed_ip_lists=managed_ip_lists,
    )


# ------------------------------------------------------------------------------------------------
# Showing a decision


def describe_request(request: Request) -> str:
    """`GET /path?query` with the client, as one line."""
    target = request.uri + (b"" if request.query is None else b"?" + request.query)
    text = f"{request.method.decode('latin-1')} {target.decode('utf-8', 'backslashreplace')}"
    return f"{text} from {request.client_ip}" + (f" ({request.country})" if request.country else "")


def _short(value: bytes | None, width: int = 60) -> str:
    if value is None:
        return ""
    text = value.decode("utf-8", "backslashreplace")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_trace(decision: Decision) -> list[str]:
    """The rule-by-rule trace as plain lines: priority, rule, result, and for a match what matched."""
    lines = [f"decision: {decision.action} by {decision.terminating_rule_id}"]
    for trace in decision.trace:
        indent = "    " if trace.group is not None else ""
        if trace.result == MATCH:
            result = f"MATCH -> {trace.action or ''}"
            if trace.overridden_action:
                result += f" (configured {trace.overridden_action})"
        elif trace.result == NOT_APPLIED:
            result = "not applied (forwarded-IP header absent)"
        else:
            result = "no match"
        line = f"{indent}{trace.priority:>6}  {trace.rule}  {result}"
        if trace.labels_added:
            line += "  + " + ", ".join(trace.labels_added)
        lines.append(line)
        if trace.result == MATCH:
            for d in trace.details:
                where = " ".join(x for x in (d.location or "", d.field_name or "") if x)
                what = f"{d.path.split('.Statement.', 1)[-1]} on {where or '-'}"
                lines.append(f"{indent}          {what}: {_short(d.value)!r} matched {d.matched or ''}")
    lines.append("labels: " + (", ".join(decision.labels) if decision.labels else "(none)"))
    if decision.not_evaluable:
        lines.append("could not be evaluated: " + ", ".join(decision.not_evaluable))
    return lines


def failure_lines(outcome: Outcome) -> list[str]:
    """What a failed case shows: each mismatch (the first is the summary line), the request, the trace."""
    lines = list(outcome.failures)
    lines.append(f"request: {describe_request(outcome.case.request)}")
    lines.append("rule trace:")
    lines += [f"  {line}" for line in format_trace(outcome.decision)]
    return lines
