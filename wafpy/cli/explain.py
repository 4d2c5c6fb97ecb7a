"""`wafpy explain`: a decision's trace, rule by rule, as a person reads it.

One line per rule evaluated (coloured by result on a terminal), the rules of a rule group indented
under the rule that references it, and for every match a small table: which statement, which part
of the request after which transformations, and what matched.

Rules that read what the log does not record are flagged: the body (the engine reports it), and
the country or ASN (`location_warning`): an ALB access log records no country, and no log
records an ASN or the country of a forwarded IP, so those rules see the country "XX" and the ASN 0.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from wafpy import model as ast
from wafpy.decision import MATCH, NOT_APPLIED, Decision, MatchDetail, RuleTrace
from wafpy.load.locations import LocationSources, describe, location_uses, unanswered

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
) -> None:
    """Print `decision` with its whole trace; `rule_names` (the web ACL's `Rules`, in document
    order) lets rules that could not be evaluated from the request's source be flagged, as are
    the rules named in `unlocated` (from `location_warning`)."""
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
        console.print(Padding(line, (0, 0, 0, 4 if inner else 0)))
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
