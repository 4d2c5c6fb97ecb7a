"""The terminal summary of a replay: the tables `wafpy eval` prints from a `Summary`.

The default is one screen (actions, terminating rules, what could not be evaluated, undetermined
requests, bad input); `verbose` adds every table (labels, blocked IPs and URIs, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wafpy.replay.summary import ACTION_COLORS, ACTION_ORDER, Summary, TopK, clip

__all__ = ["format_ms", "name_path", "render_summary", "undetermined_table"]


def undetermined_table(counts: Counter[tuple[str, str]], requests: int) -> Table:
    """Requests whose outcome the log cannot give, per managed group and reason."""
    table = Table(
        title=f"Cannot tell from this log: {requests:,} requests (UNDETERMINED)",
        title_justify="left",
        caption="Managed rule groups replayed from the log (--managed log) where the record cannot give "
        "the outcome; these requests are counted apart, not as ALLOW or BLOCK.",
        caption_justify="left",
    )
    table.add_column("managed rule group", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("requests", justify="right")
    for (group, reason), count in counts.most_common(15):
        table.add_row(_plain(group), _plain(reason), f"{count:,}")
    return table


def format_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _action_text(action: str) -> Text:
    return Text(action, style=f"bold {ACTION_COLORS.get(action, 'white')}")


def _plain(text: str) -> Text:
    """A table cell of text from the logs: clipped, and never read as rich markup (a URI such
    as `/[/x]` would otherwise be a markup error, `/[blink]` a style)."""
    return Text(clip(text))


def _top_table(title: str, heading: str, top: TopK, total: int, n: int = 10) -> Table:
    mark = " (approximate)" if top.approximate else ""
    table = Table(title=f"{title}{mark}", title_justify="left")
    table.add_column(heading, overflow="fold", max_width=70)
    table.add_column("requests", justify="right")
    table.add_column("share", justify="right")
    for key, count in top.top(n):
        table.add_row(_plain(key), f"{count:,}", _pct(count, total))
    return table


def name_path(path: str, rule_names: Sequence[str]) -> str:
    """`Rules[8].Statement.X` -> `sqli-body: Rules[8].Statement.X` (the rule name first, for humans)."""
    if path.startswith("Rules["):
        index = path[6 : path.find("]")]
        if index.isdigit() and int(index) < len(rule_names):
            return f"{rule_names[int(index)]}: {path}"
    return path


def render_summary(
    console: Console,
    summary: Summary,
    *,
    title: str = "wafpy eval",
    rule_names: Sequence[str] = (),
    warnings: Sequence[str] = (),
    verbose: bool = True,
) -> None:
    """Print the summary tables: actions, rules, labels, blocked IPs and URIs, gaps, bad lines.

    `warnings` are printed first (managed groups evaluated as "no inner rule matched"). Without
    `verbose`, the summary fits one screen: actions, the top terminating rules, undetermined
    requests and bad lines as tables; Count matches and statements the logs cannot evaluate as
    one line each; labels, blocked IPs and URIs left out (named in a closing hint)."""
    for warning in warnings:
        console.print(Text("warning: " + warning, style="yellow"))
    total = summary.total
    kinds = ", ".join(f"{n:,} {escape(clip(k))}" for k, n in summary.by_kind.most_common())
    console.print(
        f"[bold]{escape(title)}[/]: {total:,} requests replayed"
        + (f" ({kinds})" if kinds else "")
        + f", {summary.bad_lines:,} bad lines skipped"
        + (f", {summary.filtered:,} outside --since/--until" if summary.filtered else "")
    )
    if summary.first_ms is not None:
        console.print(f"  from {format_ms(summary.first_ms)} to {format_ms(summary.last_ms)}")

    actions = Table(title="Requests by action", title_justify="left")
    actions.add_column("action")
    actions.add_column("requests", justify="right")
    actions.add_column("share", justify="right")
    known = [a for a in ACTION_ORDER if a in summary.by_action]
    others = sorted(a for a in summary.by_action if a not in ACTION_ORDER)
    for action in known + others:
        count = summary.by_action[action]
        actions.add_row(_action_text(clip(action)), f"{count:,}", _pct(count, total))
    console.print(actions)

    rules = Table(title="Requests by terminating rule", title_justify="left")
    rules.add_column("rule", overflow="fold")
    rules.add_column("type")
    rules.add_column("action")
    rules.add_column("requests", justify="right")
    rules.add_column("share", justify="right")
    for (rule_id, rule_type, action), count in summary.by_rule.most_common(20 if verbose else 8):
        rules.add_row(
            _plain(rule_id), _plain(rule_type), _action_text(clip(action)), f"{count:,}", _pct(count, total)
        )
    console.print(rules)

    if not verbose:
        _render_brief(console, summary)
    if verbose and summary.counted:
        counted = Table(
            title=f"Non-terminating matches (Count rules): {summary.requests_counted:,} requests",
            title_justify="left",
        )
        counted.add_column("rule", overflow="fold")
        counted.add_column("requests", justify="right")
        counted.add_column("share", justify="right")
        for rule, count in summary.counted.most_common(15):
            counted.add_row(_plain(rule), f"{count:,}", _pct(count, total))
        console.print(counted)
    if verbose and summary.labels.counts:
        console.print(_top_table("Top labels", "label", summary.labels, total))
    if verbose and summary.blocked_ips.counts:
        blocked = summary.by_action.get("BLOCK", 0)
        console.print(_top_table("Top blocked client IPs", "client IP", summary.blocked_ips, blocked))
        console.print(_top_table("Top blocked URIs", "URI", summary.blocked_uris, blocked))

    if verbose and summary.not_evaluable:
        gaps = Table(
            title=f"Statements the logs cannot evaluate "
            f"({summary.requests_not_evaluable:,} requests affected)",
            title_justify="left",
            caption="The log lacks what these statements inspect; they were evaluated as if it were absent.",
            caption_justify="left",
        )
        gaps.add_column("statement: missing part", overflow="fold")
        gaps.add_column("requests", justify="right")
        for path, count in summary.not_evaluable.most_common(15):
            gaps.add_row(_plain(name_path(path, rule_names)), f"{count:,}")
        console.print(gaps)

    if summary.undetermined:
        console.print(undetermined_table(summary.undetermined, summary.requests_undetermined))

    if summary.bad_lines:
        bad = Table(title=f"Bad lines skipped: {summary.bad_lines:,}", title_justify="left")
        bad.add_column("where")
        bad.add_column("reason", overflow="fold")
        for item in summary.bad_examples:
            where = (
                f"{item.file or '<input>'}:{item.line}" if item.line is not None else (item.file or "<input>")
            )
            bad.add_row(_plain(where), _plain(item.message))
        if summary.bad_lines > len(summary.bad_examples):
            bad.add_row("...", f"{summary.bad_lines - len(summary.bad_examples):,} more")
        console.print(bad)


def _render_brief(console: Console, summary: Summary) -> None:
    """Without --verbose: one line per secondary count, and which tables --verbose adds."""
    if summary.counted:
        top = ", ".join(f"{escape(clip(rule))} {n:,}" for rule, n in summary.counted.most_common(3))
        console.print(f"Count rules matched {summary.requests_counted:,} requests ({top})")
    if summary.not_evaluable:
        console.print(f"{summary.requests_not_evaluable:,} requests met statements the logs cannot evaluate")
    hidden = [
        name
        for name, present in (
            ("Count rules", summary.counted),
            ("labels", summary.labels.counts),
            ("blocked IPs and URIs", summary.blocked_ips.counts),
            ("statements not evaluable", summary.not_evaluable),
        )
        if present
    ]
    if hidden:
        console.print(f"[dim]more with --verbose: {', '.join(hidden)}[/]")
