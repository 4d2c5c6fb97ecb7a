"""`--report FILE.html`: one self-contained HTML page with inline SVG charts (no script, no network).

The charts are drawn here in Python as SVG, so the page needs nothing but a browser: requests over
time stacked by action, top terminating rules, top blocked client IPs and URIs, and with
`--compare` the matrix of logged → new actions with the first examples of each change; with
wafpy's bundled managed rule groups, each of their rules with its fidelity tier. Every text from
the logs is HTML-escaped; a URI is data, not markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from string import Template

from wafpy import model as ast
from wafpy.replay.compare import Comparison
from wafpy.replay.summary import ACTION_COLORS, ACTION_ORDER, Summary
from wafpy.replay.summary_render import format_ms, name_path

__all__ = ["bundled_label_tiers", "hbar_chart", "render_html", "stacked_bar_chart", "write_html_report"]

_OTHER_COLOR = "#9aa5b1"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _middle(text: str, limit: int) -> str:
    """Shorten in the middle: both ends of a label or path say the most (`awswaf:…:country:GB`)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 3
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def _nice_max(value: int) -> int:
    """A round axis maximum >= value (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _actions_in(summary: Summary) -> list[str]:
    known = [a for a in ACTION_ORDER if summary.by_action.get(a)]
    return known + sorted(a for a in summary.by_action if a not in ACTION_ORDER)


def stacked_bar_chart(summary: Summary, *, width: int = 1160, height: int = 280) -> str:
    """Requests per time bucket, one stacked bar per bucket, one colour per action."""
    series = summary.timeline.series()
    if not series:
        return '<p class="muted">No timestamps in the input: no timeline.</p>'
    actions = _actions_in(summary)
    left, right, top, bottom = 56, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max(sum(c.values()) for _, c in series))
    slot = plot_w / len(series)
    bar = max(slot * 0.85, 0.6) if len(series) > 1 else min(plot_w * 0.3, 80)
    parts = [
        f'<svg class="chart timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="requests over time by action">'
    ]
    for i in range(5):  # horizontal grid and y labels
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{value:,.0f}</text>'
        )
    for index, (start, counts) in enumerate(series):
        x = left + index * slot + (slot - bar) / 2
        y = top + plot_h
        for action in actions:
            n = counts.get(action, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            color = ACTION_COLORS.get(action, _OTHER_COLOR)
            parts.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{bar:.2f}" height="{h:.2f}" fill="{color}">'
                f"<title>{_e(format_ms(start))}: {n:,} {_e(action)}</title></rect>"
            )
    ticks = min(6, len(series))
    for t in range(ticks):
        index = round(t * (len(series) - 1) / max(ticks - 1, 1))
        x = left + index * slot + slot / 2
        when = datetime.fromtimestamp(series[index][0] / 1000, UTC)
        label = when.strftime("%m-%d %H:%M")
        # The outer ticks hang inwards so their text stays inside the chart.
        anchor = "start" if t == 0 and ticks > 1 else "end" if t == ticks - 1 and ticks > 1 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" font-size="11" text-anchor="{anchor}">{label}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#9aa5b1"/>'
    )
    parts.append("</svg>")
    legend = "".join(
        f'<span style="--c:{ACTION_COLORS.get(a, _OTHER_COLOR)}">{_e(a)} {summary.by_action[a]:,}</span>'
        for a in actions
    )
    minutes = summary.timeline.width_ms / 60_000
    unit = "minute" if minutes == 1 else f"{minutes:g} minutes"
    return (
        "".join(parts) + f'<div class="legend">{legend}<span class="muted" style="--c:transparent">'
        f"one bar per {unit} (UTC)</span></div>"
    )


def hbar_chart(items: Sequence[tuple[str, int, str]], *, width: int = 380, label_width: int = 150) -> str:
    """Horizontal bars: (label, value, colour) per row, largest first as given."""
    if not items:
        return '<p class="muted">None.</p>'
    row, top = 24, 4
    height = top + row * len(items) + 4
    peak = max(v for _, v, _ in items) or 1
    bar_w = width - label_width - 70
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img">'
    ]
    for i, (label, value, color) in enumerate(items):
        y = top + i * row
        w = max(bar_w * value / peak, 1.5)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(_middle(label, 19))}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" rx="2" fill="{color}"/>'
            f'<text x="{label_width + w + 6:.1f}" y="{y + 15}" font-size="12">{value:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _cards(summary: Summary, comparison: Comparison | None) -> str:
    cards = [("requests", f"{summary.total:,}", "")]
    for action in _actions_in(summary):
        cards.append((action.lower(), f"{summary.by_action[action]:,}", ACTION_COLORS.get(action, "")))
    cards.append(("bad lines skipped", f"{summary.bad_lines:,}", ""))
    if summary.requests_not_evaluable:
        cards.append(("partly not evaluable", f"{summary.requests_not_evaluable:,}", ""))
    if summary.requests_undetermined:
        cards.append(("cannot tell from this log", f"{summary.requests_undetermined:,}", ""))
    if comparison is not None:
        cards.append(
            (f"changed vs {comparison.old_label}", f"{comparison.changed:,} / {comparison.compared:,}", "")
        )
    out = []
    for label, n, color in cards:
        style = f' style="color:{color}"' if color else ""
        out.append(
            f'<div class="card"><div class="n"{style}>{_e(n)}</div><div class="l">{_e(label)}</div></div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def _matrix(comparison: Comparison) -> str:
    olds = sorted({o for o, _ in comparison.matrix}, key=_action_rank)
    news = sorted({n for _, n in comparison.matrix}, key=_action_rank)
    peak = max(comparison.matrix.values(), default=1)
    head = "".join(f'<th class="num">{_e(n)}</th>' for n in news)
    rows = []
    for old in olds:
        cells = []
        for new in news:
            n = comparison.matrix.get((old, new), 0)
            if n and old != new:
                alpha = 0.15 + 0.75 * n / peak
                style = f"background:rgba(214,69,69,{alpha:.2f});font-weight:600"
            elif n:
                style = f"background:rgba(46,158,91,{0.10 + 0.35 * n / peak:.2f})"
            else:
                style = "color:#9aa5b1"
            cells.append(f'<td class="cell" style="{style}">{n:,}</td>')
        rows.append(f"<tr><th>{_e(old)}</th>{''.join(cells)}</tr>")
    corner = f"{_e(comparison.old_label)} ↓ / new →"
    return f'<table class="matrix"><tr><th>{corner}</th>' + head + "</tr>" + "".join(rows) + "</table>"


def _action_rank(action: str) -> int:
    return ACTION_ORDER.index(action) if action in ACTION_ORDER else len(ACTION_ORDER)


def _changes(comparison: Comparison) -> str:
    label = comparison.old_label
    if not comparison.changes:
        which = "AWS logged" if label == "logged" else f"the {label} web ACL gave"
        return (
            f'<p class="good">No change: every compared request gets the action (and rule) {_e(which)}.</p>'
        )
    out = []
    for kind in comparison.ordered_kinds():
        count = comparison.changes[kind]
        rules = "".join(
            f"<tr><td>{_e(o)}</td><td>{_e(n)}</td><td class='num'>{c:,}</td></tr>"
            for (o, n), c in comparison.rules[kind].most_common(10)
        )
        examples = "".join(
            f"<tr><td class='wrap'>{_e(ex.source)}:{ex.line}</td><td class='wrap'>{_e(ex.method)} "
            f"{_e(_short(ex.uri, 90))}</td><td>{_e(ex.old_action)} → {_e(ex.new_action)}</td>"
            f"<td>{_e(ex.old_rule or '-')} → {_e(ex.new_rule)}</td></tr>"
            for ex in comparison.examples[kind]
        )
        out.append(
            f"<h3>{_e(kind)} <span class='muted'>({count:,})</span></h3>"
            f"<table><tr><th>{_e(label)} terminating rule</th><th>new terminating rule</th>"
            f"<th class='num'>requests</th></tr>{rules}</table>"
            f"<table style='margin-top:8px'><tr><th>where</th><th>request</th><th>{_e(label)} → new</th>"
            f"<th>rule</th></tr>{examples}</table>"
        )
    return "".join(out)


def _cell(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: int = 1) -> str:
    head = "".join(
        f"<th{' class=num' if i >= len(headers) - numeric else ''}>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if i >= len(r) - numeric else "wrap"}">{_e(_cell(v))}</td>'
            for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _bundled_section(summary: Summary, tiers: Mapping[str, tuple[str, str, str]]) -> str:
    """The rules of the bundled groups the web ACL uses: their tier, and the requests each labelled."""
    counts = summary.labels.counts
    rows = sorted(
        ((group, rule, tier, counts.get(label, 0)) for label, (group, rule, tier) in tiers.items()),
        key=lambda row: (-row[3], row[0], row[1]),
    )
    return (
        "<section id='bundled'><h2>Rules of wafpy's bundled managed rule groups</h2><p class='muted'>"
        "These groups are wafpy's own equivalents, not AWS's rules. Tier: <em>exact</em> (AWS documents "
        "the test fully), <em>documented-examples</em> (built from AWS's description and examples), "
        "<em>heuristic</em> (a best guess at an undocumented test). Requests: those that got the "
        "rule's label (it matched, also under Count).</p>"
        f"{_table(('managed rule group', 'rule', 'tier', 'requests'), rows)}</section>"
    )


def bundled_label_tiers(model: ast.WebACL) -> dict[str, tuple[str, str, str]]:
    """label -> (group, rule, tier) for each labelled inner rule of the bundled groups of `model`."""
    out = {}
    for rule in (*model.pre_process_rules, *model.rules, *model.post_process_rules):
        s = rule.statement
        if not isinstance(s, ast.ManagedRuleGroup) or s.rules_from != "bundled" or s.rule_group is None:
            continue
        for inner in s.rule_group.rules:
            if inner.fidelity is not None:
                for label in inner.rule_labels:
                    out[s.rule_group.label_namespace + label] = (s.name, inner.name, inner.fidelity.tier)
    return out


def render_html(
    summary: Summary,
    comparison: Comparison | None = None,
    *,
    title: str = "wafpy eval",
    inputs: Sequence[str] = (),
    rule_names: Sequence[str] = (),
    warnings: Sequence[str] = (),
    tiers: Mapping[str, tuple[str, str, str]] | None = None,
) -> str:
    """The whole report page as a string; `warnings` (managed groups evaluated as "no inner rule
    matched") head it. `tiers` (`bundled_label_tiers`): label -> (group, rule, fidelity tier) of the
    rules of wafpy's bundled groups, shown wherever the report names one."""
    from wafpy._version import __version__

    rules = [
        (rule, count, ACTION_COLORS.get(action, _OTHER_COLOR))
        for (rule, _type, action), count in summary.by_rule.most_common(12)
    ]
    red = ACTION_COLORS["BLOCK"]
    ips = [(ip, n, red) for ip, n in summary.blocked_ips.top(10)]
    uris = [(uri, n, red) for uri, n in summary.blocked_uris.top(10)]
    body = [
        "".join(f"<p class='warning'><strong>warning</strong>: {_e(w)}</p>" for w in warnings),
        _cards(summary, comparison),
    ]
    body.append(
        f"<section id='timeline'><h2>Requests over time by action</h2>{stacked_bar_chart(summary)}</section>"
    )
    body.append("<div class='grid'>")
    body.append(f"<section id='rules'><h2>Top terminating rules</h2>{hbar_chart(rules)}</section>")
    body.append(f"<section id='ips'><h2>Top blocked client IPs</h2>{hbar_chart(ips)}</section>")
    body.append(f"<section id='uris'><h2>Top blocked paths</h2>{hbar_chart(uris)}</section>")
    if summary.counted:
        counted = [(rule, n, ACTION_COLORS["COUNT"]) for rule, n in summary.counted.most_common(10)]
        body.append(f"<section id='counted'><h2>Count rule matches</h2>{hbar_chart(counted)}</section>")
    tiers = tiers or {}
    if summary.labels.counts:
        labels = [
            (label + (f" [{tiers[label][2]}]" if label in tiers else ""), n, "#3b82c4")
            for label, n in summary.labels.top(10)
        ]
        body.append(f"<section id='labels'><h2>Top labels</h2>{hbar_chart(labels)}</section>")
    body.append("</div><div style='height:18px'></div>")
    if tiers:
        body.append(_bundled_section(summary, tiers))
    if comparison is not None:
        missing = comparison.no_ground_truth
        cannot = comparison.cannot_tell
        body.append(
            f"<section id='compare'><h2>{_e(comparison.old_label.capitalize())} → new action</h2>"
            f"<p class='muted'>{comparison.compared:,} requests compared, {comparison.changed:,} changed"
            f"{f', {cannot:,} cannot tell from this log (not compared)' if cannot else ''}"
            f"{f', {missing:,} without a {comparison.old_label} decision' if missing else ''}"
            f".</p>{_matrix(comparison) if comparison.matrix else ''}{_changes(comparison)}</section>"
        )
    if summary.not_evaluable:
        gaps = [(name_path(path, rule_names), n) for path, n in summary.not_evaluable.most_common(20)]
        body.append(
            "<section id='gaps'><h2>Statements the logs cannot evaluate</h2><p class='muted'>"
            "The log lacks what these statements inspect; they were evaluated as if it were absent.</p>"
            f"{_table(('statement: missing part', 'requests'), gaps)}</section>"
        )
    if summary.undetermined:
        groups = [(group, reason, n) for (group, reason), n in summary.undetermined.most_common(20)]
        body.append(
            "<section id='undetermined'><h2>Cannot tell from this log: "
            f"{summary.requests_undetermined:,} requests (UNDETERMINED)</h2><p class='muted'>Managed rule "
            "groups replayed from the log (--managed log) where the record cannot give the outcome; "
            "these requests are counted apart, not as ALLOW or BLOCK.</p>"
            f"{_table(('managed rule group', 'reason', 'requests'), groups)}</section>"
        )
    if summary.bad_lines:
        rows = [
            (f"{b.file or '<input>'}:{b.line if b.line is not None else '-'}", b.message)
            for b in summary.bad_examples
        ]
        body.append(
            f"<section id='bad'><h2>Bad lines skipped: {summary.bad_lines:,}</h2>"
            f"{_table(('where', 'reason'), rows, numeric=0)}</section>"
        )
    span = (
        f"{format_ms(summary.first_ms)} – {format_ms(summary.last_ms)}"
        if summary.first_ms
        else "no timestamps"
    )
    subtitle = f"{summary.total:,} requests from {', '.join(inputs) or 'the input'} · {span}"
    template = Template(resources.files("wafpy.replay").joinpath("report_template.html").read_text("utf-8"))
    return template.substitute(
        title=_e(title), subtitle=_e(subtitle), body="\n".join(body), version=__version__
    )


def write_html_report(
    path: str,
    summary: Summary,
    comparison: Comparison | None = None,
    *,
    title: str = "wafpy eval",
    inputs: Sequence[str] = (),
    rule_names: Sequence[str] = (),
    warnings: Sequence[str] = (),
    tiers: Mapping[str, tuple[str, str, str]] | None = None,
) -> None:
    """Write the report to `path` (UTF-8)."""
    text = render_html(
        summary, comparison, title=title, inputs=inputs, rule_names=rule_names, warnings=warnings, tiers=tiers
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
