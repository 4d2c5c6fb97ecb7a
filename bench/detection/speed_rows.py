"""The peer rows of `python -m bench.speed`: CPU per request of ModSecurity + CRS and lewaf + CRS.

They use the detection benchmark's harness as it is: the same engines (`engines.WafpyEngine`,
`engines.ModSecurityEngine`, lewaf's worker through `peers.run_lewaf`), the same way of turning a
request into each engine's request or transaction, the same timing (batches of consecutive
requests in each process's CPU time, the median of the batches' per-request means) and the same
discovery of the peers (`peers.missing_crs`, `peers.missing_modsecurity`, `peers.installed_lewaf`).
A peer that is not installed gives a skipped row saying why; lewaf's venv is made by
`python -m bench.detection`, never here.

The requests are the realistic browser GET, the same GET with SQL injection and XSS in its query,
and the 4 KB JSON POST (`bench.realistic_acl`), each repeated. wafpy stands in for CRS with a web
ACL referencing the nine bundled AWS managed rule groups (`managed="bundled"`); the ratio to the
small demo web ACL of `bench.realistic_acl` is given on a second line, for reference only.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

import wafpy
from bench import realistic_acl
from bench.detection import peers
from bench.detection.cases import Case
from bench.detection.engines import ModSecurityEngine, Outcome, WafpyEngine, timed, to_request
from bench.speed_common import Row, Settings

MODSECURITY = "ModSecurity + CRS"
LEWAF = "lewaf + CRS"
TARGETS = {MODSECURITY: 50.0, LEWAF: 500.0}
ATTACK_ARGS = "q=1%27%20OR%201%3D1--&c=%3Cscript%3Ealert(1)%3C/script%3E"


def _case(name: str, raw: dict[str, Any]) -> Case:
    target = raw["uri"] + (f"?{raw['args']}" if raw["args"] else "")
    return Case(
        set=name,
        name=name,
        attack=name.startswith("attack"),
        method=raw["httpMethod"],
        target=target,
        version=raw.get("httpVersion", "HTTP/1.1"),
        headers=tuple((h["name"], h["value"]) for h in raw["headers"]),
        body=raw.get("body", "").encode("utf-8"),
    )


def requests() -> list[Case]:
    """The three requests, once each, named as their rows are."""
    probes = dict(realistic_acl.probe_requests())
    attack = {**probes["get"], "args": ATTACK_ARGS}
    return [
        _case("benign GET", probes["get"]),
        _case("attack GET", attack),
        _case("4 KB JSON POST", probes["post"]),
    ]


def repeated(cases: list[Case], times: int) -> list[Case]:
    """Each case `times` times in a row, so the harness times whole batches of one request."""
    return [case for case in cases for _ in range(times)]


def per_request_us(outcome: Outcome) -> dict[str, tuple[float, bool]]:
    """Request name -> (median CPU µs per request over its batches, whether the engine blocked it)."""
    means: dict[str, list[float]] = {}
    for name, number, seconds in outcome.batches:
        means.setdefault(name, []).append(seconds / number * 1e6)
    first: dict[str, bool] = {}
    at = 0
    for name, number, _ in outcome.batches:
        first.setdefault(name, outcome.blocked[at])
        at += number
    return {name: (statistics.median(values), first[name]) for name, values in means.items()}


def _verdict(blocked: bool) -> str:
    return "blocked" if blocked else "allowed"


def _peer_outcome(peer: str, cases: list[Case], crs: Path, peers_dir: Path) -> Outcome | str:
    """The peer's outcome over `cases`, or why it was skipped."""
    reason = peers.missing_crs(crs)
    if reason is not None:
        return reason
    if peer == MODSECURITY:
        reason = peers.missing_modsecurity()
        if reason is not None:
            return reason
        with tempfile.TemporaryDirectory() as scratch:
            return ModSecurityEngine(crs, Path(scratch)).run(cases)
    python = peers.installed_lewaf(peers_dir)
    if python is None:
        return f"no lewaf venv in {peers_dir.name}/lewaf (`python -m bench.detection` makes it)"
    return peers.run_lewaf(python, crs, cases)


def peer_rows(s: Settings, crs: Path = peers.CRS_DIR, peers_dir: Path = peers.PEERS_DIR) -> None:
    """Add, per peer and request, the peer's CPU per request over wafpy's with the bundled groups."""
    base = requests()
    bundled = WafpyEngine("bundled")
    demo = wafpy.load_web_acl(
        realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text"
    )

    def demo_verdict(case: Case) -> bool:
        return demo.evaluate(to_request(case)).action == "BLOCK"

    ours_cases = repeated(base, 100 if s.quick else 400)
    ours = per_request_us(timed(ours_cases, bundled.verdict, "wafpy, bundled groups"))
    reference = per_request_us(timed(ours_cases, demo_verdict, "wafpy, demo web ACL"))
    runs: list[tuple[str, int]] = [(MODSECURITY, 40 if s.quick else 100), (LEWAF, 20 if s.quick else 60)]
    for peer, times in runs:
        target = TARGETS[peer]
        got = _peer_outcome(peer, repeated(base, times), crs, peers_dir)
        if isinstance(got, str):
            s.add(Row("peers", f"{peer} / wafpy, CPU per request", None, f"≥ {target:g}×", None, got))
            continue
        theirs = per_request_us(got)
        for case in base:
            us, blocked = theirs[case.name]
            mine, mine_blocked = ours[case.name]
            demo_us, _ = reference[case.name]
            ratio = us / mine
            s.add(
                Row(
                    "peers",
                    f"{peer} / wafpy (9 bundled groups), CPU per request, {case.name}",
                    ratio,
                    f"≥ {target:g}×",
                    ratio >= target,
                    f"{us:,.0f} vs {mine:.1f} µs; "
                    f"peer {_verdict(blocked)}, wafpy {_verdict(mine_blocked)} it",
                )
            )
            s.add(
                Row(
                    "peers",
                    f"{peer} / wafpy (demo web ACL, reference only), CPU per request, {case.name}",
                    us / demo_us,
                    "",
                    None,
                    f"{us:,.0f} vs {demo_us:.1f} µs",
                )
            )
