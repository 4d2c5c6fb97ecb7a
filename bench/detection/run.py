"""The detection benchmark's command: build the cases, run the engines, write docs/detection.md.

    python -m bench.detection                          # all engines, docs/detection.md
    python -m bench.detection --limit 200 --no-lewaf --out -    # a quick look, printed only
    python bench/detection/run.py --json detection.json

The shared corpora are read from `../shared/corpora` beside the repository (`--corpora`). Sets
larger than `--limit` requests are sampled evenly (the CRS regression tests never are).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.detection import corpora, crs, report
from bench.detection.cases import Case
from bench.detection.engines import ROOT, ModSecurityEngine, Outcome, WafpyEngine
from bench.detection.peers import CORPORA, CRS_VERSION, PEERS_DIR, lewaf_python, run_lewaf


def build_cases(corpora_dir: Path, limit: int) -> list[Case]:
    """The one request list every engine sees: CRS regression tests, then the other sets."""
    rules = corpora_dir / "crs-rules" / CRS_VERSION / "rules"
    cases = crs.crs_cases(corpora_dir / "attacks" / "crs-regression", crs.paranoia_levels(rules))
    return cases + corpora.corpus_cases(corpora_dir, limit)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def page(cases: list[Case], outcomes: list[Outcome], names: list[str], command: str) -> str:
    engines = [o.engine for o in outcomes]
    crs_engine = next((e for e in engines if e.startswith("ModSecurity")), None)
    found = report.rows(cases, outcomes)
    attacks = [r for r in found if r.attack]
    benign = [r for r in found if not r.attack]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Detection: the bundled managed rule groups beside ModSecurity + CRS and lewaf",
        "",
        f"Measured {now} on {machine()} (a shared machine: CPU figures are this process's CPU",
        "time, medians of batches of 20 requests; ratios come from the same run). Command:",
        "",
        "```",
        command,
        "```",
        "",
        "Engines, all given the same list of requests:",
        "",
        *[
            f"- **{o.engine}**: {o.note}"
            + (f" ({o.errors} requests raised, counted as not blocked)" if o.errors else "")
            for o in outcomes
        ],
        "",
        "What is counted (see `bench/detection/` for the details):",
        "",
        "- CRS regression tests: every stage the test expects to trigger a CRS rule (`expect_ids`),",
        "  rebuilt as go-ftw sends it (method, raw URI, version, headers completed as go-ftw does,",
        "  body). Many target paranoia level 2-4 rules, so CRS at PL1 does not block them all; a",
        "  second table keeps the tests of PL1 rules only.",
        "- libinjection samples, PayloadsAllTheThings lists, HttpParamsDataset values: each line as",
        "  the value of one query argument of a browser-like GET (libinjection lines URL-decoded",
        "  first, as its harness does); user agents in the `User-Agent` header; HAR requests as",
        "  described; AWS WAF log records that AWS allowed, as logged (no body); the ALB log's",
        "  ordinary requests (method, URL, user agent). Sets over `--limit` are sampled evenly.",
        "- An engine detects a request when it blocks it: wafpy's action BLOCK; ModSecurity's disruptive",
        "  intervention (anomaly score ≥ 5 at PL1); lewaf's interruption.",
        "",
        "## Summary",
        "",
        *report.summary(found, outcomes),
        "",
        "## Goals",
        "",
        *report.goals(found, outcomes, crs_engine),
        "",
        "## Detection (attack sets) and CPU per request",
        "",
        *report.table(attacks, engines),
        "",
        "## False positives (benign sets) and CPU per request",
        "",
        *report.table(benign, engines),
        "",
        "All requests, CPU µs per request (total CPU / requests): "
        + ", ".join(f"{o.engine} {report.total_cpu_us(o):,.1f}" for o in outcomes)
        + ".",
        "",
        "## CRS regression tests of paranoia-level-1 rules only",
        "",
        "The CPU columns are the whole family's (batches are timed per family, every level mixed).",
        "",
        *report.table(report.rows([c for c in cases], outcomes, pl1_only=True), engines),
        "",
        "## Which bundled group blocks what",
        "",
        "Share of each attack set (%) and number of benign requests each group would block by",
        "itself (the web ACL evaluated with every group's actions overridden to Count; a request",
        "may be blocked by several).",
        "",
        *report.group_table(cases, outcomes[0], names),
        "",
        "## Where the bundled groups are weakest",
        "",
        "The CRS test files with the most requests CRS PL1 blocks and the bundled groups do not:",
        "",
        *report.weakest_rules(cases, outcomes, crs_engine),
        "",
        "Attack requests CRS PL1 blocks and the bundled groups let through:",
        "",
        *(report.missed_examples(cases, outcomes, crs_engine) or ["- none"]),
        "",
        "Benign requests the bundled groups block (first few per set):",
        "",
        *(report.false_positive_examples(cases, outcomes[0]) or ["- none"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", type=Path, default=CORPORA, help="the shared corpora folder")
    parser.add_argument("--limit", type=int, default=1000, help="requests per set at most (0: all)")
    parser.add_argument("--managed", default="auto", help='"auto", "bundled", or a folder of group files')
    parser.add_argument("--no-modsecurity", action="store_true", help="leave ModSecurity + CRS out")
    parser.add_argument("--no-lewaf", action="store_true", help="leave lewaf + CRS out")
    parser.add_argument("--lewaf-python", help="a Python >= 3.12 to make lewaf's venv with")
    parser.add_argument("--peers-dir", type=Path, default=PEERS_DIR, help="where lewaf's venv lives")
    parser.add_argument(
        "--out", default=str(ROOT / "docs" / "detection.md"), help='the page to write ("-": none)'
    )
    parser.add_argument("--json", type=Path, help="every figure as JSON (default: beside the page)")
    args = parser.parse_args(argv)

    crs_dir = args.corpora / "crs-rules" / CRS_VERSION
    cases = build_cases(args.corpora, args.limit)
    print(f"{len(cases)} requests", file=sys.stderr)
    wafpy = (
        WafpyEngine(args.managed)
        if args.managed == "auto" or args.managed == "bundled"
        else WafpyEngine(args.managed, Path(args.managed))
    )
    outcomes = [wafpy.run(cases)]
    print(f"wafpy done ({wafpy.how})", file=sys.stderr)
    if not args.no_modsecurity:
        with tempfile.TemporaryDirectory() as scratch:
            outcomes.append(ModSecurityEngine(crs_dir, Path(scratch)).run(cases))
        print("ModSecurity done", file=sys.stderr)
    if not args.no_lewaf:
        outcomes.append(run_lewaf(lewaf_python(args.peers_dir, args.lewaf_python), crs_dir, cases))
        print("lewaf done", file=sys.stderr)

    command = "python -m bench.detection" + (
        ""
        if argv is None and len(sys.argv) < 2
        else " " + " ".join(argv if argv is not None else sys.argv[1:])
    )
    text = page(cases, outcomes, wafpy.names, command)
    if args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    json_path = args.json or (Path(args.out).with_suffix(".json") if args.out != "-" else None)
    if json_path is not None:
        json_path.write_text(json.dumps(report.figures(cases, outcomes), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
