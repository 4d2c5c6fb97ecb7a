"""The `wafpy` command: `eval` (replay logs through a web ACL), `validate`, `explain`.

Exit codes of `wafpy eval`:

    0    done
    1    usage error, or the web ACL (or a resource) could not be loaded -- every error is
         printed with its line:column and nothing is evaluated
    2    a gate failed: `--fail-on ACTION` matched (at least one request got that action), or
         `--fail-on-change OLD->NEW` counted more changes than `--max-changes` allows
    3    `--strict` stopped at the first bad log line
    4    an input could not be read whole: missing, unreadable, not a log (binary, or text in no
         log format: named once, not as bad lines), a truncated or corrupt gzip file, a file
         removed or replaced during the run. Printed on stderr even with `--quiet`; the rest of
         that input is skipped, the other inputs are replayed (with `--strict`, the run stops
         there). Takes precedence over 2 and 6: a gate never passes on what it could not read.
    5    `--workers`: a worker process died (killed, out of memory) twice on the same part of the
         input. A worker that dies once is replaced and its part replayed again (a warning on
         stderr), so the output is unchanged; the second time the run stops, the output holding
         what came before that part.
    6    no request was evaluated: every input empty, a folder with no log in it, or only bad lines
         (or `--since`/`--until` kept none). `--allow-empty` makes such a run exit 0, unless
         `--fail-on` is given: a gate never passes on nothing.
    130  interrupted (Ctrl-C)

Argparse's own exit code for usage errors (2) is replaced by 1 so that 2 always means a failed gate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from wafpy.cli.common import (
    EXIT_EMPTY,
    EXIT_FAIL_ON,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STRICT,
    EXIT_USAGE,
    EXIT_WORKER_DIED,
    add_s3_option,
    quiet_stdout,
)
from wafpy.cli.evaluate import ACTIONS, eval_command
from wafpy.cli.explain import explain_command
from wafpy.cli.gates import add_gate_arguments
from wafpy.cli.rates import add_rate_backend_argument
from wafpy.cli.spark_eval import add_spark_arguments
from wafpy.cli.validate import add_document_options, add_managed_option

__all__ = [
    "EXIT_EMPTY",
    "EXIT_FAIL_ON",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STRICT",
    "EXIT_USAGE",
    "EXIT_WORKER_DIED",
    "build_parser",
    "eval_command",
    "explain_command",
    "main",
]


EVAL_EPILOG = """\
LOG may be files, folders (read recursively) or - for stdin, plain or gzip; the format of each
file is detected from its first record line unless --format says it. LOG may also be an S3 URL
(s3://bucket/key, or s3://bucket/prefix/ for every object under it, in folder order), with the
s3 extra (pip install "wafpy-engine[s3]") and the standard AWS credentials; --s3-endpoint-url
(or AWS_ENDPOINT_URL_S3) for an S3-compatible server.

CI gates: --fail-on ACTION fails on any request given ACTION; with --compare, --fail-on-change
ALLOW->BLOCK fails when requests change that way (more than --max-changes N or P% of those
compared; default 0). --summary-json FILE writes the counts, changes and every gate's verdict;
--junit FILE writes a JUnit XML report with one testcase per gate (inputs read whole, each
--fail-on action, --fail-on-change, at least one request), the failed ones naming the requests.

--workers N parses and evaluates in N processes, output kept in input order; each worker reads
its own part of a plain (uncompressed) file, or its own objects in S3, while stdin and local gzip
input are read by the main process and handed out in chunks. A worker that dies (killed, out of
memory) is replaced and its part replayed again, with a warning; if that part kills a worker
twice, the run stops (exit 5). A web ACL with
rate-based rules is evaluated in one ordered process (--workers is ignored, with a warning):
rate counts need every request of a key in time order, and the key (custom keys, labels,
forwarded IPs) is not known before evaluation, so the stream cannot be partitioned safely.

exit codes: 0 ok; 1 usage error or web ACL not loadable (errors printed with line:column);
2 a gate failed (--fail-on, --fail-on-change); 3 --strict stopped at a bad line; 4 an input
could not be read whole (missing, unreadable, not a log, truncated or corrupt gzip, removed or
replaced during the run; printed even with --quiet); 5 a worker process died twice on the same
part of the input; 6 no request evaluated (empty inputs, only bad lines; 0 with --allow-empty,
unless --fail-on); 130 interrupted. An input that is missing, unreadable or not a log (binary,
or text in no log format) is named once on stderr. Exit 4 takes precedence over 2 and 6, so
--fail-on never passes on an input it could not read.
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
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="exit 0, not 6, when no request was evaluated (never with --fail-on)",
    )
    add_gate_arguments(p)
    add_managed_option(p)
    add_rate_backend_argument(p)
    add_s3_option(p)
    add_spark_arguments(p)
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
    add_s3_option(p)
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
        sys.stdout.flush()  # here, where a closed pipe can be caught, not at interpreter exit
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `wafpy ... | head`: the reader stopped reading; no traceback. Commands that decide
        # something (eval's gates) catch it themselves so their exit code still says it.
        quiet_stdout()
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
