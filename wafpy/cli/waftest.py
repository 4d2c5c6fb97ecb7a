"""`wafpy test CASES...`: run web ACL unit tests (case files) and report like pytest.

One line per request (`file::case PASSED`), then each failure with what was expected, what came
and the rule-by-rule trace, then a summary line. `--junit FILE` writes a JUnit XML report for CI.
The case file format is in docs/testing-web-acls.md and `wafpy.testing`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from wafpy.testing import CaseFileError, Outcome, failure_lines, find_case_files

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_NO_CASES",
    "EXIT_OK",
    "EXIT_USAGE",
    "JUnitCase",
    "add_test_parser",
    "junit_document",
    "junit_xml",
    "waftest_command",
]

EXIT_OK, EXIT_USAGE, EXIT_FAILED, EXIT_INVALID, EXIT_NO_CASES = 0, 1, 2, 3, 4

TEST_EPILOG = """\
CASES are case files (JSON, or YAML when named .yaml / .yml, which needs PyYAML) or folders,
searched recursively for *.waftest.json, *.waftest.yaml and *.waftest.yml. A case file holds a
web ACL (inline, or a path relative to the case file), its resources, and requests with the
expected action, terminating rule and labels; see docs/testing-web-acls.md. The cases of a file
are sent in order to one web ACL instance, so rate-based state carries from case to case.

examples:
  wafpy test waf-tests/
  wafpy test login.waftest.yaml --junit reports/waf.xml

exit codes: 0 every request got what its case expects; 1 usage error; 2 at least one request
did not; 3 a case file could not be read or is invalid, or its web ACL does not load (takes
precedence over 2; the other files still run); 4 no case file found; 130 interrupted.
"""


@dataclass
class FileResult:
    """One case file run: its outcomes, or the error that stopped it."""

    path: str
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def add_test_parser(sub: Any) -> None:
    """Register `wafpy test` on an argparse subparsers object (from `add_subparsers()`)."""
    p = sub.add_parser(
        "test",
        help="run web ACL unit tests: requests and the decisions they must get",
        description="Run web ACL unit tests: requests with the action, terminating rule and labels "
        "AWS WAF should give them.",
        epilog=TEST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("cases", metavar="CASES", nargs="+", help="case files or folders")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE")
    p.add_argument("--quiet", "-q", action="store_true", help="no line per passing request")
    p.set_defaults(func=waftest_command)


def run_files(paths: list[Path]) -> list[FileResult]:
    from wafpy.testing import read_case_file, run_case_file

    results = []
    for path in paths:
        result = FileResult(str(path))
        start = time.perf_counter()
        try:
            result.outcomes = run_case_file(read_case_file(path), time.perf_counter)
        except CaseFileError as exc:
            result.error = str(exc)
        result.seconds = time.perf_counter() - start
        results.append(result)
    return results


def _rule(title: str, char: str, out: TextIO, width: int = 78) -> None:
    text = f" {title} " if title else ""
    side = max(3, (width - len(text)) // 2)
    print(f"{char * side}{text}{char * side}", file=out)


def report(results: list[FileResult], seconds: float, out: TextIO, *, quiet: bool = False) -> None:
    total = sum(len(r.outcomes) for r in results)
    _rule(f"wafpy test: {len(results)} case file(s), {total} request(s)", "=", out)
    for result in results:
        if result.error is not None:
            print(f"{result.path} ERROR", file=out)
        for outcome in result.outcomes:
            if not quiet or not outcome.passed:
                status = "PASSED" if outcome.passed else "FAILED"
                print(f"{result.path}::{outcome.case.name} {status}", file=out)
    failed = [(r.path, o) for r in results for o in r.outcomes if not o.passed]
    errors = [r for r in results if r.error is not None]
    if failed:
        print(file=out)
        _rule("FAILURES", "=", out)
        for path, outcome in failed:
            _rule(f"{path}::{outcome.case.name}", "_", out)
            for line in failure_lines(outcome):
                print(line, file=out)
    if errors:
        print(file=out)
        _rule("ERRORS", "=", out)
        for result in errors:
            _rule(result.path, "_", out)
            print(result.error, file=out)
    passed = total - len(failed)
    parts = [f"{len(failed)} failed"] if failed else []
    if passed or not failed:
        parts.append(f"{passed} passed")
    if errors:
        parts.append(f"{len(errors)} error" + ("s" if len(errors) > 1 else ""))
    print(file=out)
    _rule(f"{', '.join(parts)} in {seconds:.2f}s", "=", out)


# ------------------------------------------------------------------------------------------------
# JUnit XML


def _xml_safe_table() -> dict[int, str]:
    # XML 1.0 cannot hold these characters at all, escaped or not
    # (https://www.w3.org/TR/xml/#charsets): show them as Python escapes instead.
    table = {c: f"\\x{c:02x}" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
    table.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)})
    table.update({0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"})
    return table


_XML_SAFE = _xml_safe_table()


def _x(text: str) -> str:
    return text.translate(_XML_SAFE)


@dataclass
class JUnitCase:
    """One testcase of a JUnit report; `problem` is None when it passed."""

    name: str
    classname: str
    file: str | None = None
    seconds: float = 0.0
    problem: str | None = None  # the one-line message of a failure or an error
    detail: str = ""
    problem_type: str = "failure"
    error: bool = False  # an <error> (could not run) rather than a <failure> (ran, wrong result)


def junit_document(name: str, seconds: float, suites: list[tuple[str, float, list[JUnitCase]]]) -> bytes:
    """A JUnit XML report: one testsuite per (name, seconds, cases)."""
    root = ET.Element("testsuites", name=_x(name), time=f"{seconds:.3f}")
    totals = [0, 0, 0]
    for suite_name, suite_seconds, cases in suites:
        failures = sum(1 for c in cases if c.problem is not None and not c.error)
        errors = sum(1 for c in cases if c.problem is not None and c.error)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_x(suite_name),
            tests=str(len(cases)),
            failures=str(failures),
            errors=str(errors),
            skipped="0",
            time=f"{suite_seconds:.3f}",
        )
        for case in cases:
            element = ET.SubElement(suite, "testcase", classname=_x(case.classname), name=_x(case.name))
            if case.file is not None:
                element.set("file", _x(case.file))
            element.set("time", f"{case.seconds:.6f}")
            if case.problem is not None:
                problem = ET.SubElement(
                    element, "error" if case.error else "failure", message=_x(case.problem)
                )
                problem.set("type", case.problem_type)
                problem.text = _x(case.detail)
        totals = [totals[0] + len(cases), totals[1] + failures, totals[2] + errors]
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", str(totals[2]))
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def junit_xml(results: list[FileResult], seconds: float) -> bytes:
    """A JUnit XML report: a testsuite per case file, a testcase per request, an error per bad file."""
    suites = []
    for result in results:
        classname = Path(result.path).name
        cases = [
            JUnitCase(
                outcome.case.name,
                classname,
                result.path,
                outcome.seconds,
                None if outcome.passed else "; ".join(outcome.failures),
                "\n".join(failure_lines(outcome)),
                "expectation",
            )
            for outcome in result.outcomes
        ]
        if result.error is not None:
            cases.append(
                JUnitCase(
                    "(case file)",
                    classname,
                    result.path,
                    problem=result.error.splitlines()[0],
                    detail=result.error,
                    problem_type="case file",
                    error=True,
                )
            )
        suites.append((result.path, result.seconds, cases))
    return junit_document("wafpy test", seconds, suites)


# ------------------------------------------------------------------------------------------------
# The command


def waftest_command(args: argparse.Namespace) -> int:
    """`wafpy test`: run the case files, print the report, write --junit; return the exit code."""
    start = time.perf_counter()
    paths = find_case_files(args.cases)
    if not paths:
        print(
            f"error: no case file found in {', '.join(args.cases)} "
            "(looked for *.waftest.json, *.waftest.yaml, *.waftest.yml)",
            file=sys.stderr,
        )
        return EXIT_NO_CASES
    results = run_files(paths)
    seconds = time.perf_counter() - start
    try:
        report(results, seconds, sys.stdout, quiet=args.quiet)
        sys.stdout.flush()
    except BrokenPipeError:
        # `wafpy test ... | head`: the reader left. Point stdout at /dev/null so that the exit
        # flush does not fail again, and still write the report and give the exit code
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if args.junit:
        try:
            Path(args.junit).write_bytes(junit_xml(results, seconds))
        except OSError as exc:
            print(f"error: cannot write {args.junit}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    if any(r.error is not None for r in results):
        return EXIT_INVALID
    if any(not o.passed for r in results for o in r.outcomes):
        return EXIT_FAILED
    return EXIT_OK
