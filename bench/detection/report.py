"""Figures from the engines' outcomes, and the Markdown page (docs/detection.md) that shows them.

Detection is the share of a set's attack requests an engine blocks; false positives the number
of a benign set's requests it blocks. CPU per request is, per set, the median over its batches of
the batch's CPU time divided by its requests; the "all requests" row divides each engine's total
CPU time by the number of requests. Ratios are the peer's CPU over wafpy's, measured in the same
run, so the machine's load affects both sides.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.detection.cases import BROWSER_HEADERS, GOAL_FAMILIES, SETS, Case
from bench.detection.engines import Outcome

DETECTION_MARGIN = 5.0  # points below CRS PL1 the goals allow on CRS's own tests
CPU_GOAL = 50.0  # ModSecurity + CRS CPU per request over wafpy's


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    attack: bool
    n: int
    hits: dict[str, int]  # engine -> blocked requests
    cpu_us: dict[str, float]  # engine -> median CPU µs per request

    def rate(self, engine: str) -> float:
        return 100.0 * self.hits[engine] / self.n if self.n else 0.0


def rows(cases: Sequence[Case], outcomes: Sequence[Outcome], *, pl1_only: bool = False) -> list[Row]:
    """One row per set present, in report order; `pl1_only` keeps the CRS tests of PL1 rules."""
    out = []
    for key, (label, attack) in SETS.items():
        index = [i for i, c in enumerate(cases) if c.set == key and (not pl1_only or c.pl == 1)]
        if not index:
            continue
        hits = {o.engine: sum(o.blocked[i] for i in index) for o in outcomes}
        cpu = {}
        for o in outcomes:
            means = [t / n for s, n, t in o.batches if s == key and n]
            cpu[o.engine] = statistics.median(means) * 1e6 if means else float("nan")
        out.append(Row(key, label, attack, len(index), hits, cpu))
    return out


def total_cpu_us(outcome: Outcome) -> float:
    requests = sum(n for _, n, _ in outcome.batches)
    return sum(t for _, _, t in outcome.batches) / requests * 1e6 if requests else float("nan")


def _pct(value: float) -> str:
    return f"{value:.1f} %"


def _us(value: float) -> str:
    return "–" if value != value else (f"{value:,.0f}" if value >= 100 else f"{value:.1f}")


def _ratio(peer: float, base: float) -> str:
    if not base or peer != peer or base != base:
        return "–"
    ratio = peer / base
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def table(found: Sequence[Row], engines: Sequence[str]) -> list[str]:
    """The main table: one line per set, detection or false positives, CPU and CPU ratios."""
    wafpy, peers = engines[0], engines[1:]
    head = ["set", "requests"] + [f"{e}" for e in engines]
    head += [f"CPU µs/req {e}" for e in engines] + [f"{p} / wafpy CPU" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in found:
        if row.attack:
            cells = [_pct(row.rate(e)) for e in engines]
        else:
            cells = [f"{row.hits[e]} FP ({row.rate(e):.1f} %)" for e in engines]
        cells += [_us(row.cpu_us[e]) for e in engines]
        cells += [_ratio(row.cpu_us[p], row.cpu_us[wafpy]) for p in peers]
        lines.append(f"| {row.label} | {row.n} | " + " | ".join(cells) + " |")
    return lines


def group_table(cases: Sequence[Case], wafpy: Outcome, names: Sequence[str]) -> list[str]:
    """Per attack set, the share of its requests each bundled group would block on its own."""
    short = [n.removeprefix("AWSManagedRules").removesuffix("RuleSet") for n in names]
    lines = ["| set | " + " | ".join(short) + " | any |", "|" + "---|" * (len(names) + 2)]
    for key, (label, attack) in SETS.items():
        index = [i for i, c in enumerate(cases) if c.set == key]
        if not index:
            continue
        cells = []
        for name in names:
            hit = sum(name in wafpy.groups[i] for i in index)
            cells.append(f"{100.0 * hit / len(index):.1f}" if attack else str(hit))
        anyhit = sum(bool(wafpy.groups[i]) for i in index)
        cells.append(f"{100.0 * anyhit / len(index):.1f}" if attack else str(anyhit))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def summary(found: Sequence[Row], outcomes: Sequence[Outcome]) -> list[str]:
    """The short table of the README: the goal families, false positives, CPU per request."""
    engines = [o.engine for o in outcomes]
    lines = ["| | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    by_key = {r.key: r for r in found}
    for key in GOAL_FAMILIES:
        if key in by_key:
            row = by_key[key]
            rates = " | ".join(_pct(row.rate(e)) for e in engines)
            lines.append(f"| {row.label} ({row.n}) | {rates} |")
    benign = [r for r in found if not r.attack]
    total = sum(r.n for r in benign)
    fps = [sum(r.hits[e] for r in benign) for e in engines]
    lines.append(f"| false positives, benign sets ({total}) | " + " | ".join(str(f) for f in fps) + " |")
    cpu = [total_cpu_us(o) for o in outcomes]
    cells = [f"{_us(cpu[0])} µs"] + [f"{_us(c)} µs ({_ratio(c, cpu[0])})" for c in cpu[1:]]
    lines.append("| CPU per request, all requests | " + " | ".join(cells) + " |")
    return lines


def goals(found: Sequence[Row], outcomes: Sequence[Outcome], crs: str | None) -> list[str]:
    """Each goal, the figures it is judged on, and whether it is met."""
    wafpy = outcomes[0].engine
    if crs is None:
        return ["ModSecurity + CRS was not run: the goals cannot be judged."]
    lines = ["| goal | wafpy | CRS PL1 | met? |", "|---|---|---|---|"]
    by_key = {r.key: r for r in found}
    for key in GOAL_FAMILIES:
        if key not in by_key:
            continue
        row = by_key[key]
        ours, theirs = row.rate(wafpy), row.rate(crs)
        met = ours >= theirs - DETECTION_MARGIN
        gap = f" ({ours - theirs:+.1f} points)"
        verdict = "yes" if met else "**no**"
        lines.append(
            f"| detection on {row.label}, within 5 points | {_pct(ours)}{gap} | {_pct(theirs)} | {verdict} |"
        )
    benign = [r for r in found if not r.attack]
    ours_fp = sum(r.hits[wafpy] for r in benign)
    theirs_fp = sum(r.hits[crs] for r in benign)
    verdict = "yes" if ours_fp < theirs_fp else "**no**"
    lines.append(f"| fewer false positives on the benign sets | {ours_fp} | {theirs_fp} | {verdict} |")
    ours_cpu = total_cpu_us(outcomes[0])
    theirs_cpu = total_cpu_us(next(o for o in outcomes if o.engine == crs))
    ratio = theirs_cpu / ours_cpu if ours_cpu else float("nan")
    lines.append(
        f"| at least {CPU_GOAL:.0f}× less CPU per request (all requests) | {_us(ours_cpu)} µs | "
        f"{_us(theirs_cpu)} µs ({ratio:.1f}×) | {'yes' if ratio >= CPU_GOAL else '**no**'} |"
    )
    return lines


# Headers every CRS test or browser-like request carries: not where a payload sits.
_ORDINARY_HEADERS = {"host", "accept", "connection", "content-length", "accept-language", "accept-encoding"}
_ORDINARY_VALUES = {"OWASP CRS test agent", "application/x-www-form-urlencoded", BROWSER_HEADERS[1][1]}


def payload_text(case: Case, width: int = 150) -> str:
    """The request in one line: method and target, unusual headers, body; cut at `width`."""
    text = f"{case.method} {case.target}"
    for name, value in case.headers:
        if name.lower() in _ORDINARY_HEADERS or value in _ORDINARY_VALUES:
            continue
        text += f" [{name}: {value}]"
    if case.body:
        text += " body " + case.body.decode("utf-8", "replace")
    text = text.replace("`", "'").replace("\n", "\\n").replace("\r", "\\r").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def missed_examples(
    cases: Sequence[Case], outcomes: Sequence[Outcome], crs: str | None, per_set: int = 4
) -> list[str]:
    """Attacks CRS PL1 blocks and wafpy lets through, a few per set, for the group authors."""
    if crs is None:
        return []
    wafpy = outcomes[0]
    peer = next(o for o in outcomes if o.engine == crs)
    lines = []
    for key, (label, attack) in SETS.items():
        if not attack:
            continue
        missed = [c for i, c in enumerate(cases) if c.set == key and peer.blocked[i] and not wafpy.blocked[i]]
        if not missed:
            continue
        lines.append(f"- {label}: {len(missed)} requests, e.g.")
        # Examples spread over the set, not the first rule's tests only; none whose payload names
        # a scratch folder, which the page would show as if it were a path of this project.
        shown = [c for c in missed if "/tmp/" not in payload_text(c, 10_000)]
        step = max(1, len(shown) // per_set)
        lines += [f"  - `{c.name}`: `{payload_text(c)}`" for c in shown[::step][:per_set]]
    return lines


def weakest_rules(
    cases: Sequence[Case], outcomes: Sequence[Outcome], crs: str | None, top: int = 15
) -> list[str]:
    """The CRS test files where wafpy blocks the fewest of the requests CRS PL1 blocks."""
    if crs is None:
        return []
    wafpy = outcomes[0]
    peer = next(o for o in outcomes if o.engine == crs)
    by_rule: dict[int, list[int]] = {}
    for i, c in enumerate(cases):
        if c.rule is not None:
            by_rule.setdefault(c.rule, []).append(i)
    gaps = []
    for rule, index in by_rule.items():
        theirs = sum(peer.blocked[i] for i in index)
        both = sum(peer.blocked[i] and wafpy.blocked[i] for i in index)
        if theirs > both:
            gaps.append((theirs - both, rule, len(index), theirs, sum(wafpy.blocked[i] for i in index)))
    gaps.sort(key=lambda g: (-g[0], g[1]))
    head = "| CRS test file (PL) | tests | CRS PL1 blocks | wafpy blocks | CRS-only |"
    lines = [head, "|---|---|---|---|---|"]
    for missed, rule, n, theirs, ours in gaps[:top]:
        pl = next((c.pl for c in cases if c.rule == rule), None)
        lines.append(f"| {rule}.yaml ({pl or '?'}) | {n} | {theirs} | {ours} | {missed} |")
    return lines


def false_positive_examples(cases: Sequence[Case], wafpy: Outcome, per_set: int = 4) -> list[str]:
    """Benign requests wafpy blocks: how many per rule, then a few per set with their rules."""
    counts: dict[str, int] = {}
    for i, c in enumerate(cases):
        if not c.attack and wafpy.blocked[i]:
            for rule in wafpy.rules[i]:
                counts[rule] = counts.get(rule, 0) + 1
    lines = [f"- `{rule}`: {n}" for rule, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if lines:
        lines = ["Rules behind them (benign requests each would block):", "", *lines, ""]
    for key, (label, attack) in SETS.items():
        if attack:
            continue
        fps = [(c, wafpy.rules[i]) for i, c in enumerate(cases) if c.set == key and wafpy.blocked[i]]
        for c, rules in fps[:per_set]:
            names = ", ".join(r.rsplit(":", 1)[-1] for r in rules) or "?"
            lines.append(f"- {label} `{c.name}` ({names}): `{payload_text(c)}`")
    return lines


def figures(cases: Sequence[Case], outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Everything the page shows, as JSON (written beside it, read by the CI test as a record)."""
    out: dict[str, Any] = {"engines": {}, "sets": {}, "sets_pl1": {}}
    for o in outcomes:
        out["engines"][o.engine] = {"note": o.note, "errors": o.errors, "cpu_us_per_request": total_cpu_us(o)}
    for target, pl1 in (("sets", False), ("sets_pl1", True)):
        for row in rows(cases, outcomes, pl1_only=pl1):
            out[target][row.key] = {
                "requests": row.n,
                "attack": row.attack,
                "blocked": row.hits,
                "cpu_us": {e: round(v, 2) for e, v in row.cpu_us.items()},
            }
    return out
