"""`wafpy diff OLD NEW LOG...`: what an edit of a web ACL changes, on the same traffic.

Both versions are evaluated by wafpy on every request of the logs (AWS WAF logs, ALB access logs,
request lines), read once. What the log cannot show (bodies) and the managed rule groups, which
are evaluated the same way on both sides (`--managed`, by default replayed from AWS WAF log
records as `wafpy eval` does), cancel out. The output is the change matrix (old action → new
action), the rules responsible (old terminating rule → new terminating rule) and the first
examples, on the terminal, in JSON (`--json FILE`) and in HTML (`--report FILE`).

Exit codes: 0 done (whatever changed: a gate on changes is a separate option); 1 usage error, or
a web ACL (or a resource) could not be loaded, or a JSON or HTML file could not be written;
3 `--strict` stopped at the first bad log line; 4 an input could not be read whole (missing,
unreadable, truncated gzip). 130 interrupted (Ctrl-C), as for every command.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from wafpy.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_STRICT,
    EXIT_USAGE,
    add_s3_option,
    load_acl,
    use_s3_options,
    write_report,
)
from wafpy.cli.validate import add_document_options, add_managed_option
from wafpy.webacl import WebACL

__all__ = ["DIFF_EPILOG", "add_diff_parser", "diff_command"]

DIFF_EPILOG = """\
examples:
  wafpy diff acl-old.json acl-new.json waf-logs/
  wafpy diff main.json branch.json alb.log.gz --json diff.json --report diff.html
  wafpy diff old.json new.json requests.jsonl --managed none

LOG may be files, folders (read recursively) or - for stdin, plain or gzip. Both web ACLs see
the same requests, so parts a log lacks (bodies) and managed rule groups (--managed, by default
replayed from AWS WAF log records as `wafpy eval` does) are the same on both sides. Requests
either side cannot decide from the log (UNDETERMINED) are counted apart, not as changes.

exit codes: 0 done (changes or not); 1 usage error, a web ACL not loadable, or an output file
not writable; 3 --strict stopped at a bad line; 4 an input could not be read whole; 130
interrupted.
"""


def add_diff_parser(subparsers: Any) -> None:
    """Register `diff` on an argparse subparsers object (from `add_subparsers()`)."""
    from wafpy.logs.formats import AUTO, CHOICES

    p = subparsers.add_parser(
        "diff",
        help="compare two versions of a web ACL on the same logged traffic",
        description="Evaluate two web ACL versions on the same requests and show what changes.",
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", metavar="OLD", help="the current web ACL (JSON, YAML, CloudFormation, ...)")
    p.add_argument("new", metavar="NEW", help="the changed web ACL")
    p.add_argument("logs", metavar="LOG", nargs="+", help="log files, folders, or - for stdin")
    add_document_options(p)
    add_managed_option(p)
    p.add_argument("--format", choices=CHOICES, default=AUTO, help="input format")
    p.add_argument("--json", metavar="FILE", help="write the changes as JSON (- = stdout)")
    p.add_argument("--report", metavar="FILE.html", help="write a self-contained HTML report")
    p.add_argument(
        "--examples", type=int, default=5, metavar="N", help="examples kept per change (default 5)"
    )
    p.add_argument("--strict", action="store_true", help="stop at the first bad line (exit 3)")
    p.add_argument("--quiet", "-q", action="store_true", help="no terminal output")
    add_s3_option(p)
    p.set_defaults(func=diff_command)


def _load(path: str, args: argparse.Namespace, managed: Any) -> WebACL | None:
    loaded = load_acl(args, managed, path=path)
    return None if loaded is None else loaded[0]


def diff_command(args: argparse.Namespace) -> int:
    """`wafpy diff`: evaluate OLD and NEW on the logs, print and write the changes."""
    from wafpy.logs.formats import waf_records_only
    from wafpy.replay.compare import render_comparison
    from wafpy.replay.diff import diff_comparison_json, diff_logs
    from wafpy.replay.outcome import ReplayOptions, StrictStop, UnreadableInput
    from wafpy.replay.summary_render import undetermined_table

    err, out = Console(stderr=True), Console()
    if not use_s3_options(args, args.logs):
        return EXIT_USAGE
    # As `wafpy eval`: AWS WAF records say what happened inside each managed rule group, so
    # they are replayed from there unless --managed says otherwise, on both sides alike
    # (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html).
    managed = (
        args.managed
        if args.managed is not None
        else "log"
        if waf_records_only(args.logs, args.format)
        else None
    )
    old = _load(args.old, args, managed)
    new = _load(args.new, args, managed) if old is not None else None
    if old is None or new is None:
        return EXIT_USAGE
    for warning in dict.fromkeys([str(w) for w in (*old.managed_warnings, *new.managed_warnings)]):
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    try:
        diff = diff_logs(
            old, new, args.logs, ReplayOptions(format=args.format, strict=args.strict), examples=args.examples
        )
    except StrictStop as exc:
        if isinstance(exc.bad, UnreadableInput):
            print(f"error: {exc.bad.describe()}", file=sys.stderr)
            return EXIT_INPUT
        err.print(f"[red]error[/] (--strict): {escape(exc.bad.describe())}", highlight=False)
        return EXIT_STRICT
    summary, comparison = diff.summary, diff.comparison
    if not args.quiet:
        out.print(f"[bold]wafpy diff[/] {escape(old.name)} → {escape(new.name)}: {summary.total:,} requests")
        render_comparison(out, comparison)
        if summary.bad_lines:
            out.print(f"bad lines skipped: {summary.bad_lines:,}")
        if summary.requests_undetermined and not comparison.undetermined:
            out.print(undetermined_table(summary.undetermined, summary.requests_undetermined))
    if args.json:
        data = diff_comparison_json(diff, old=args.old, new=args.new, inputs=args.logs)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        try:
            if args.json == "-":
                sys.stdout.write(text)
            else:
                with open(args.json, "w", encoding="utf-8") as f:
                    f.write(text)
        except OSError as exc:
            err.print(f"error: cannot write {args.json}: {exc.strerror or exc}", markup=False)
            return EXIT_USAGE
    if args.report and not write_report(
        err,
        args.report,
        summary,
        comparison,
        title=f"wafpy diff: {old.name} → {new.name}",
        inputs=args.logs,
        rule_names=[r.name for r in new.model.rules],
    ):
        return EXIT_USAGE
    # Inputs not read whole go to stderr whatever --quiet says: the diff did not see everything.
    for bad in summary.input_errors:
        print(f"error: {bad.describe()}", file=sys.stderr)
    return EXIT_INPUT if summary.unreadable_inputs else EXIT_OK
