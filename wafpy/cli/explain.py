"""`wafpy explain`: a decision's trace, rule by rule, as a person reads it.

One line per rule evaluated (coloured by result on a terminal), the rules of a rule group indented
under the rule that references it, and for every match a small table: which statement, which part
of the request after which transformations, and what matched.

A managed rule group says where its inner rules came from: from the log record (`--managed log`),
from a rule group file (`--managed PATH`), wafpy's bundled equivalent (`--managed bundled`: each
inner rule shows its fidelity tier, and why when it matched), or none at all (`--managed none`).

Rules that read what the log does not record are flagged: the body (the engine reports it), and
the country or ASN (`location_warning`): an ALB access log records no country, and no log
records an ASN or the country of a forwarded IP, so those rules see the country "XX" and the ASN 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from wafpy import model as ast
from wafpy.cli.common import EXIT_OK, EXIT_USAGE, StdoutConsole, load_acl
from wafpy.decision import MATCH, NOT_APPLIED, Decision, MatchDetail, RuleTrace
from wafpy.load.bundled import rule_tiers
from wafpy.load.locations import LocationSources, describe, location_uses, unanswered
from wafpy.load.managed import managed_groups
from wafpy.webacl import WebACL

_STYLES = {
    "ALLOW": "green",
    "BLOCK": "bold red",
    "COUNT": "yellow",
    "CAPTCHA": "magenta",
    "CHALLENGE": "magenta",
}
_VALUE_WIDTH = 60


def _short(value: bytes | None) -> str:
    if value is None:
        return ""
    text = value.decode("utf-8", "backslashreplace")
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _details_table(details: Iterable[MatchDetail]) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    for column in ("statement", "component", "value inspected", "matched"):
        table.add_column(column, overflow="fold")
    for d in details:
        component = " ".join(x for x in (d.location or "", d.field_name or "") if x)
        # The path inside the rule (`AndStatement.Statements[1].ByteMatchStatement`) says enough.
        where = d.path.split(".Statement.", 1)[-1]
        table.add_row(where, component, _short(d.value), d.matched or "")
    return table


def rule_sources(model: ast.WebACL) -> dict[str, str]:
    """Web ACL rule name -> where the inner rules of its managed rule group came from."""
    out = {}
    for rule in (*model.pre_process_rules, *model.rules, *model.post_process_rules):
        statement = rule.statement
        if isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from:
            source = statement.rules_from
            out[rule.name] = (
                "inner rules from the log"
                if source == "log"
                else "no inner rule evaluated (--managed none)"
                if source == "none"
                else "inner rules: wafpy's bundled equivalent, not AWS's; [tier]: fidelity to AWS's rule"
                if source == "bundled"
                else f"inner rules from {source.removeprefix('file:')}"
                if source.startswith("file:")
                else "inner rules from the resolver"
            )
    return out


def _headline(trace: RuleTrace, not_evaluable: bool) -> Text:
    line = Text(f"{trace.priority:>6}  ")
    line.append(trace.rule, style="bold" if trace.result == MATCH else "")
    line.append("  ")
    if trace.result == MATCH:
        action = trace.action or ""
        line.append(f"MATCH → {action}", style=_STYLES.get(action, ""))
        if trace.overridden_action:
            line.append(f" (configured {trace.overridden_action})", style="dim")
    elif trace.result == NOT_APPLIED:
        line.append("NOT APPLIED (forwarded-IP header absent)", style="cyan")
    else:
        line.append("no match", style="dim")
    if not_evaluable:
        line.append("  (needs data this request does not carry)", style="italic yellow")
    if trace.labels_added:
        line.append("  + " + ", ".join(trace.labels_added), style="blue")
    return line


def _rules_not_evaluable(decision: Decision, rule_names: Sequence[str]) -> set[str]:
    """Web ACL rules holding a statement the request's source could not provide data for."""
    found = set()
    for path in decision.not_evaluable:
        index = path[len("Rules[") : path.find("]")] if path.startswith("Rules[") else ""
        if index.isdigit() and int(index) < len(rule_names):
            found.add(rule_names[int(index)])
    return found


def location_warning(model: ast.WebACL, carries_country: bool) -> tuple[str | None, frozenset[str]]:
    """(the warning, the web ACL rules it names) for rules reading a country or ASN the log does
    not give; `carries_country`: the log records the client's country (AWS WAF logs do)."""
    missing = unanswered(location_uses(model), LocationSources(country=carries_country))
    if not missing:
        return None, frozenset()
    message = (
        f"rules read what this log does not record ({describe(missing)}): here they see the country "
        '"XX" and the ASN 0, where AWS saw the real ones. AWS WAF logs record the client\'s country, '
        "ALB access logs do not; no log records an ASN or the country of a forwarded IP"
    )
    return message, frozenset(use.rule.split(" > ")[0] for use in missing)


def render_explanation(
    decision: Decision,
    console: Console,
    *,
    title: str = "",
    rule_names: Sequence[str] = (),
    unlocated: Collection[str] = (),
    sources: Mapping[str, str] | None = None,
    tiers: Mapping[tuple[str, str], ast.RuleFidelity] | None = None,
) -> None:
    """Print `decision` with its whole trace; `rule_names` (the web ACL's `Rules`, in document
    order) lets rules that could not be evaluated from the request's source be flagged, as are
    the rules named in `unlocated` (from `location_warning`); `sources` (from `rule_sources`)
    says where each managed group's inner rules came from; `tiers` (from `rule_tiers`) gives the
    fidelity tier of each inner rule of a bundled group, shown on its line (and why, when it matched)."""
    head = Text(title + " → " if title else "")
    head.append(decision.action, style=_STYLES.get(decision.action, "bold"))
    head.append(f" by {decision.terminating_rule_id} ({decision.terminating_rule_type})")
    if decision.response_code is not None:
        head.append(f", HTTP {decision.response_code}")
    console.print(head)
    unknown = set(decision.not_evaluable)
    unknown_rules = _rules_not_evaluable(decision, rule_names) | set(unlocated)
    for trace in decision.trace:
        inner = trace.group is not None
        line = _headline(trace, not inner and trace.rule in unknown_rules)
        fidelity = (tiers or {}).get((trace.group, trace.rule)) if trace.group is not None else None
        if fidelity is not None:
            line.append(f"  [{fidelity.tier}]", style="italic")
        console.print(Padding(line, (0, 0, 0, 4 if inner else 0)))
        if fidelity is not None and trace.result == MATCH:
            basis = Text(f"{fidelity.tier}: {fidelity.basis}", style="dim", overflow="fold")
            console.print(Padding(basis, (0, 0, 0, 8)))
        source = None if inner or sources is None else sources.get(trace.rule)
        if source is not None:  # under the group's line, before its inner rules
            console.print(Padding(Text(f"[{source}]", style="dim", overflow="fold"), (0, 0, 0, 8)))
        if trace.result == MATCH and trace.details:
            console.print(Padding(_details_table(trace.details), (0, 0, 0, 12 if inner else 8)))
    if decision.labels:
        console.print(Text("labels: ", style="dim") + Text(", ".join(decision.labels)))
    if decision.inserted_request_headers:
        inserted = ", ".join(f"{n}: {v}" for n, v in decision.inserted_request_headers)
        console.print(Text("headers inserted: ", style="dim") + Text(inserted))
    if decision.not_evaluable:
        console.print(
            Text("could not be evaluated from this request: ", style="yellow") + Text(", ".join(unknown))
        )


def acl_rate_based(acl: WebACL) -> bool:
    from wafpy.replay.coverage import has_rate_based

    return has_rate_based(acl.model)


def request_line(http_request: dict[str, Any]) -> str:
    return f"{http_request.get('httpMethod')} {http_request.get('uri')}"


def explain_command(args: argparse.Namespace) -> int:
    """`wafpy explain`: evaluate one logged request and print, rule by rule, what happened;
    with `--scanner`, print the code generated for the web ACL's rules."""
    from wafpy.errors import LogFormatError
    from wafpy.logs import read_entries
    from wafpy.request import Request

    err, out = Console(stderr=True), StdoutConsole()
    if args.log is None and not args.scanner:
        err.print("error: give a LOG to explain a request, or --scanner", markup=False)
        return EXIT_USAGE
    loaded = load_acl(args)
    if loaded is None:
        return EXIT_USAGE
    acl = loaded[0]
    if args.scanner:
        # Plain text: the code is meant to be read or saved as is, not wrapped or highlighted.
        sys.stdout.write(acl.scanner_source)
        return EXIT_OK
    for warning in acl.managed_warnings:
        err.print(
            f"warning: managed rule group {warning.group} at {warning.path} is evaluated as if no inner "
            "rule matched (--managed none): its real rules are not applied",
            markup=False,
        )

    def skip(error: LogFormatError) -> None:
        if args.line is not None and error.line == args.line:
            err.print(f"error: {error}", markup=False)

    entry = None
    for candidate in read_entries([args.log], format=args.format, on_error=skip):
        if args.line is None or candidate.line == args.line:
            entry = candidate
            break
    if entry is None:
        err.print(
            f"error: no request {'on line ' + str(args.line) if args.line else 'found'} in {args.log}",
            markup=False,
        )
        return EXIT_USAGE
    request = Request.from_log(
        entry.http_request,
        entry.timestamp_ms,
        body_available=entry.body_available,
        logged_groups=entry.rule_groups,  # for --managed log
    )
    decision = acl.evaluate(request)
    unlocated_warning, unlocated = location_warning(acl.model, entry.carries("country"))
    if unlocated_warning is not None:
        err.print(f"warning: {unlocated_warning}", markup=False, highlight=False, soft_wrap=True)
    render_explanation(
        decision,
        out,
        title=f"{entry.source}:{entry.line} {request_line(entry.http_request)}",
        rule_names=[rule.name for rule in acl.model.rules],
        unlocated=unlocated,
        sources=rule_sources(acl.model),
        tiers=rule_tiers([statement for _, _, statement in managed_groups(acl.model)]),
    )
    if acl_rate_based(acl):
        out.print(
            "note: rate-based rules see only this request here; replay the log with `wafpy eval`",
            markup=False,
        )
    if entry.logged is not None and entry.logged.action is not None:
        out.print(
            f"logged by AWS: {entry.logged.action} by {entry.logged.terminating_rule_id or '-'}", markup=False
        )
    return EXIT_OK
