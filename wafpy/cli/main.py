"""The `wafpy` command: `eval` (replay logs through a web ACL), `validate`, `explain`.

Exit codes of `wafpy eval`:

    0    done
    1    usage error, or the web ACL (or a resource) could not be loaded -- every error is
         printed with its line:column and nothing is evaluated
    2    `--fail-on ACTION` matched: at least one request got that action
    3    `--strict` stopped at the first bad log line
    4    an input could not be read whole: missing, unreadable, a truncated or corrupt gzip file,
         a file removed or replaced during the run. Printed on stderr even with `--quiet`; the
         rest of that input is skipped, the other inputs are replayed (with `--strict`, the run
         stops there). Takes precedence over 2.
    5    `--workers`: a worker process died (killed, out of memory) twice on the same part of the
         input. A worker that dies once is replaced and its part replayed again (a warning on
         stderr), so the output is unchanged; the second time the run stops, the output holding
         what came before that part.
    130  interrupted (Ctrl-C)

Argparse's own exit code for usage errors (2) is replaced by 1 so that 2 always means `--fail-on`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, Any, NoReturn

from rich.console import Console
from rich.markup import escape

from wafpy.cli.rates import add_rate_backend_argument, use_rate_backend
from wafpy.cli.validate import add_document_options, add_managed_option
from wafpy.errors import RulesetErrors, WafpyError
from wafpy.load.managed import managed_groups
from wafpy.webacl import WebACL, load_web_acl

__all__ = [
    "EXIT_FAIL_ON",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STRICT",
    "EXIT_USAGE",
    "EXIT_WORKER_DIED",
    "eval_command",
    "explain_command",
    "main",
]

EXIT_OK, EXIT_USAGE, EXIT_FAIL_ON, EXIT_STRICT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_INPUT, EXIT_WORKER_DIED = 4, 5
ACTIONS = ("ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE", "UNDETERMINED")

EVAL_EPILOG = """\
LOG may be files, folders (read recursively) or - for stdin, plain or gzip; the format of each
file is detected from its first record line unless --format says it.

--workers N parses and evaluates in N processes, output kept in input order; each worker reads
its own part of a plain (uncompressed) file, while stdin and gzip input are read by the main
process and handed out in chunks. A worker that dies (killed, out of memory) is replaced and
its part replayed again, with a warning; if that part kills a worker twice, the run stops
(exit 5). A web ACL with
rate-based rules is evaluated in one ordered process (--workers is ignored, with a warning):
rate counts need every request of a key in time order, and the key (custom keys, labels,
forwarded IPs) is not known before evaluation, so the stream cannot be partitioned safely.

exit codes: 0 ok; 1 usage error or web ACL not loadable (errors printed with line:column);
2 --fail-on matched; 3 --strict stopped at a bad line; 4 an input could not be read whole
(missing, unreadable, truncated or corrupt gzip, removed or replaced during the run; printed
even with --quiet); 5 a worker process died twice on the same part of the input;
130 interrupted.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _time(text: str) -> int:
    from wafpy.logs import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_acl_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("acl", metavar="ACL", help="web ACL JSON (bare, get-web-acl output or CloudFormation)")
    add_document_options(p)


def build_parser() -> argparse.ArgumentParser:
    from wafpy._version import __version__
    from wafpy.cli.commands import finish_parser
    from wafpy.cli.validate import add_validate_parser
    from wafpy.cli.waftest import add_test_parser
    from wafpy.logs.formats import AUTO, CHOICES

    parser = _Parser(prog="wafpy", description="Evaluate AWS WAF (WAFv2) web ACLs exactly as AWS does.")
    parser.add_argument("--version", action="version", version=f"wafpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "eval",
        help="replay request logs against a web ACL",
        epilog=EVAL_EPILOG,
        description="Replay AWS WAF logs, ALB access logs or request lines against a web ACL.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_acl_arguments(p)
    p.add_argument("logs", metavar="LOG", nargs="+", help="log files, folders, or - for stdin")
    p.add_argument("--format", choices=CHOICES, default=AUTO, help="input format")
    p.add_argument(
        "--output", "-o", metavar="FILE", help="write one AWS WAF log record per request (- = stdout)"
    )
    p.add_argument("--report", metavar="FILE.html", help="write a self-contained HTML report with charts")
    p.add_argument(
        "--compare",
        action="store_true",
        help="compare with the decisions the logs recorded (WAF action and rule; ALB blocked or not)",
    )
    p.add_argument("--workers", type=_positive, default=1, metavar="N", help="processes (default 1)")
    p.add_argument(
        "--fail-on",
        metavar="ACTION",
        nargs="+",
        action="extend",
        default=[],
        type=str.upper,
        choices=ACTIONS,
        help="exit 2 when any request gets this action (COUNT: any Count rule matched; UNDETERMINED: the "
        "log cannot give a managed rule group's outcome)",
    )
    p.add_argument(
        "--since", type=_time, metavar="TIME", help="only requests at or after TIME (ISO 8601 or epoch ms)"
    )
    p.add_argument("--until", type=_time, metavar="TIME", help="only requests before TIME")
    p.add_argument("--limit", type=_positive, metavar="N", help="stop after N requests")
    p.add_argument("--strict", action="store_true", help="stop at the first bad line (exit 3)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary and no progress bar")
    p.add_argument("--verbose", "-v", action="store_true", help="every table: labels, blocked IPs, ...")
    add_managed_option(p)
    add_rate_backend_argument(p)
    p.set_defaults(func=eval_command)

    add_validate_parser(sub)
    add_test_parser(sub)

    p = sub.add_parser("explain", help="show, rule by rule, how the web ACL decides logged requests")
    _add_acl_arguments(p)
    add_managed_option(p)
    p.add_argument("log", metavar="LOG", nargs="?", help="log file (or - for stdin)")
    p.add_argument("--line", type=_positive, metavar="N", help="the request on line N (default: the first)")
    p.add_argument("--format", choices=CHOICES, default=AUTO, help="input format")
    p.add_argument(
        "--scanner",
        action="store_true",
        help="print the Python code generated for the web ACL's rules instead (no LOG needed)",
    )
    p.set_defaults(func=explain_command)
    finish_parser(parser, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `wafpy` command; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def resource_files(paths: Sequence[str]) -> list[str]:
    """`--resources` values: files as given, folders expanded to their document files (sorted)."""
    from wafpy.load.loader import expand_resource_paths

    return expand_resource_paths(paths)


def _load(args: argparse.Namespace, managed: Any = None) -> tuple[WebACL, functools.partial[WebACL]] | None:
    loader = functools.partial(
        load_web_acl,
        args.acl,
        resources=resource_files(args.resources) or None,
        account=args.account,
        search_string=args.search_string,
        managed=managed if managed is not None else args.managed,
    )
    # Plain prints: a rich console would wrap the messages and split the line:column references.
    try:
        return loader(), loader
    except RulesetErrors as exc:
        print(str(exc), file=sys.stderr)
    except (WafpyError, OSError, ValueError) as exc:
        print(f"error: cannot load {args.acl}: {exc}", file=sys.stderr)
    return None


def eval_command(args: argparse.Namespace) -> int:
    """`wafpy eval`: replay, write records, print the summary, the comparison, the HTML report."""
    from wafpy.cli.progress import Progress
    from wafpy.logs.formats import waf_records_only
    from wafpy.replay.compare import Comparison, render_comparison
    from wafpy.replay.outcome import BadLine, ReplayError, ReplayOptions, StrictStop, UnreadableInput
    from wafpy.replay.runner import Replay
    from wafpy.replay.summary import Summary, render_summary
    from wafpy.replay.workers import WorkerDied

    err = Console(stderr=True)

    def warn(message: str) -> None:
        err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)

    # AWS WAF records say what happened inside each managed rule group: replay them from there
    # unless told otherwise (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html).
    waf_logs = args.managed is None and waf_records_only(args.logs, args.format)
    loaded = _load(args, "log" if waf_logs else None)
    if loaded is None:
        if args.managed is None and not waf_logs:
            print(
                "note: --managed log, the default on AWS WAF logs, needs AWS WAF log records (their "
                "ruleGroupList); these inputs are not all AWS WAF logs (or are read from stdin)",
                file=sys.stderr,
            )
        return EXIT_USAGE
    acl, loader = loaded
    warnings = [str(w) for w in acl.managed_warnings]
    for warning in warnings:
        warn(warning)
    close_rates = use_rate_backend(args.rate_backend, acl)
    if close_rates is None:
        return EXIT_USAGE
    to_stdout = args.output == "-"
    out = err if to_stdout else Console()
    options = ReplayOptions(
        format=args.format,
        since=args.since,
        until=args.until,
        limit=args.limit,
        strict=args.strict,
        workers=args.workers,
        write_records=args.output is not None,
    )
    replay = Replay(acl, args.logs, options, loader=loader, warn=warn)
    if args.workers > 1 and replay.rate_based:
        err.print(
            "[yellow]warning[/]: the web ACL has rate-based rules, which need one ordered pass; "
            "--workers is ignored"
        )
    summary = Summary()
    comparison = Comparison(rule_names=[r.name for r in acl.model.rules]) if args.compare else None
    sink: IO[bytes] | None = None
    if args.output is not None:
        try:
            sink = sys.stdout.buffer if to_stdout else open(args.output, "wb")  # noqa: SIM115
        except OSError as exc:
            err.print(f"error: cannot write {args.output}: {exc.strerror or exc}", markup=False)
            return EXIT_USAGE
    progress = Progress(err) if not args.quiet and err.is_terminal else None
    stopped: StrictStop | None = None
    started = time.perf_counter()
    try:
        if args.limit is None:
            # In bulk: the workers (or this process) count each chunk and join its records.
            # closing(): the replay's worker pool and temporary files go on any exit (Ctrl-C too).
            with contextlib.closing(replay.batches(summary, comparison)) as batches:
                for batch in batches:
                    if sink is not None:
                        batch.write_to(sink)
                    if batch.stopped is not None:
                        raise StrictStop(batch.stopped)
                    if progress is not None:
                        progress.tick(summary)
        else:
            for item in replay:
                if isinstance(item, BadLine):
                    summary.add_bad(item)
                else:
                    summary.add(item)
                    if comparison is not None:
                        comparison.add(item)
                    if sink is not None and item.record is not None:
                        sink.write(item.record)
                        sink.write(b"\n")
                if progress is not None:
                    progress.tick(summary)
    except StrictStop as exc:
        stopped = exc
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WorkerDied as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WORKER_DIED
    except BrokenPipeError:  # `wafpy eval ... -o - | head`: the reader is gone, so are we
        _quiet_stdout()
        return EXIT_OK
    finally:
        close_rates()
        if progress is not None:
            progress.stop()
        if sink is not None:
            try:
                sink.flush()
            except BrokenPipeError:
                _quiet_stdout()
            if not to_stdout:
                sink.close()
    elapsed = time.perf_counter() - started
    summary.filtered = replay.filtered
    if not args.quiet:
        from_log = [g for g, _, st in managed_groups(acl.model) if st.rules_from == "log"]
        if from_log:
            out.print(
                "managed rule groups replayed from the AWS WAF log records (--managed log): "
                + ", ".join(from_log),
                markup=False,
                highlight=False,
            )
        render_summary(
            out,
            summary,
            title=f"wafpy eval {acl.name}",
            rule_names=[r.name for r in acl.model.rules],
            warnings=warnings,
            verbose=args.verbose,
        )
        if comparison is not None:
            render_comparison(out, comparison)
        rate = summary.total / elapsed if elapsed > 0 else 0.0
        out.print(
            f"[dim]{summary.total:,} requests in {elapsed:.2f} s ({rate:,.0f}/s), "
            f"{replay.workers_used} process{'es' if replay.workers_used > 1 else ''}[/]"
        )
    if args.report:
        from wafpy.replay.htmlreport import write_html_report

        try:
            write_html_report(
                args.report,
                summary,
                comparison,
                title=f"wafpy eval: {acl.name}",
                inputs=args.logs,
                rule_names=[r.name for r in acl.model.rules],
                warnings=warnings,
            )
        except OSError as exc:
            err.print(f"error: cannot write {args.report}: {exc.strerror or exc}", markup=False)
            return EXIT_USAGE
        if not args.quiet:
            out.print(f"report written to {args.report}", markup=False)
    # Inputs not read whole go to stderr whatever --quiet says: the run did not see everything.
    unreadable = list(summary.input_errors)
    if stopped is not None and isinstance(stopped.bad, UnreadableInput):
        unreadable.append(stopped.bad)
        stopped = None
    for bad in unreadable:
        print(f"error: {bad.describe()}", file=sys.stderr)
    if summary.unreadable_inputs > len(summary.input_errors):
        more = summary.unreadable_inputs - len(summary.input_errors)
        print(f"error: and {more:,} more inputs could not be read whole", file=sys.stderr)
    if stopped is not None:
        err.print(f"[red]error[/] (--strict): {escape(stopped.bad.describe())}", highlight=False)
        return EXIT_STRICT
    if unreadable:
        return EXIT_INPUT
    # COUNT never ends an evaluation: it means "a Count rule matched" (a rule tried out in count mode).
    # UNDETERMINED requests are never counted as ALLOW or BLOCK; --fail-on UNDETERMINED fails on them.
    got = {a: summary.requests_counted if a == "COUNT" else summary.by_action.get(a, 0) for a in args.fail_on}
    hit = [a for a, n in got.items() if n]
    if args.fail_on and summary.requests_undetermined:
        per = "; ".join(f"{n:,} {g}: {r}" for (g, r), n in summary.undetermined.most_common())
        print(f"--fail-on: {summary.requests_undetermined:,} UNDETERMINED apart ({per})", file=sys.stderr)
    if hit:
        err.print(f"--fail-on: {', '.join(f'{got[a]:,} {a}' for a in hit)}", markup=False)
        return EXIT_FAIL_ON
    return EXIT_OK


def _quiet_stdout() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def acl_rate_based(acl: WebACL) -> bool:
    from wafpy.replay.coverage import has_rate_based

    return has_rate_based(acl.model)


def request_line(http_request: dict[str, Any]) -> str:
    return f"{http_request.get('httpMethod')} {http_request.get('uri')}"


def explain_command(args: argparse.Namespace) -> int:
    """`wafpy explain`: evaluate one logged request and print, rule by rule, what happened;
    with `--scanner`, print the code generated for the web ACL's rules."""
    from wafpy.cli.explain import location_warning, render_explanation, rule_sources
    from wafpy.errors import LogFormatError
    from wafpy.logs import read_entries
    from wafpy.request import Request

    err, out = Console(stderr=True), Console()
    if args.log is None and not args.scanner:
        err.print("error: give a LOG to explain a request, or --scanner", markup=False)
        return EXIT_USAGE
    loaded = _load(args)
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


if __name__ == "__main__":
    sys.exit(main())
