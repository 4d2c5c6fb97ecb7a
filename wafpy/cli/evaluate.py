"""`wafpy eval`: replay logs through a web ACL, write records, print the summary, the comparison
and the HTML report; the exit codes are listed in `wafpy.cli.main`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import IO

from rich.console import Console

from wafpy.cli.common import (
    EXIT_EMPTY,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WORKER_DIED,
    StdoutConsole,
    load_acl,
    quiet_stdout,
    write_report,
)
from wafpy.cli.gates import check_gate_arguments, evaluate_checks, exit_code, write_ci_outputs
from wafpy.cli.rates import use_rate_backend
from wafpy.load.managed import managed_groups
from wafpy.replay.compare import Comparison, render_comparison
from wafpy.replay.htmlreport import bundled_label_tiers
from wafpy.replay.summary import Summary
from wafpy.replay.summary_render import render_summary
from wafpy.webacl import WebACL

__all__ = ["ACTIONS", "eval_command"]

ACTIONS = ("ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE", "UNDETERMINED")


def eval_command(args: argparse.Namespace) -> int:
    """`wafpy eval`: replay, write records, print the summary, the comparison, the HTML report."""
    from wafpy.cli.explain import location_warning
    from wafpy.cli.progress import Progress
    from wafpy.logs.formats import waf_records_only
    from wafpy.replay.outcome import BadLine, ReplayError, ReplayOptions, StrictStop, UnreadableInput
    from wafpy.replay.runner import Replay
    from wafpy.replay.workers import WorkerDied

    err = Console(stderr=True)
    usage = check_gate_arguments(args)
    if usage is not None:
        print(f"wafpy eval: error: {usage}", file=sys.stderr)
        return EXIT_USAGE

    def warn(message: str) -> None:
        err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)

    # AWS WAF records say what happened inside each managed rule group: replay them from there
    # unless told otherwise (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html).
    only_waf = waf_records_only(args.logs, args.format)
    waf_logs = args.managed is None and only_waf
    note = None
    if args.managed is None and not waf_logs:
        note = (
            "note: --managed log, the default on AWS WAF logs, needs AWS WAF log records (their "
            "ruleGroupList); these inputs are not all AWS WAF logs (or are read from stdin)"
        )
    loaded = load_acl(args, "log" if waf_logs else None, unavailable_note=note)
    if loaded is None:
        return EXIT_USAGE
    acl, loader = loaded
    warnings = [str(w) for w in acl.managed_warnings]
    # Rules reading a country or ASN the logs do not record (AWS WAF logs record the country).
    unlocated, _ = location_warning(acl.model, carries_country=only_waf)
    if unlocated is not None:
        warnings.append(unlocated)
    for warning in warnings:
        warn(warning)
    close_rates = use_rate_backend(args.rate_backend, acl)
    if close_rates is None:
        return EXIT_USAGE
    to_stdout = args.output == "-"
    out = err if to_stdout else StdoutConsole()
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
        quiet_stdout()
        return EXIT_OK
    finally:
        close_rates()
        if progress is not None:
            progress.stop()
        if sink is not None:
            try:
                sink.flush()
            except BrokenPipeError:
                quiet_stdout()
            if not to_stdout:
                sink.close()
    elapsed = time.perf_counter() - started
    summary.filtered = replay.filtered
    try:
        if not args.quiet:
            _render(out, args, acl, summary, comparison, warnings, elapsed, replay.workers_used)
        if to_stdout:
            sys.stdout.flush()
    except BrokenPipeError:
        # `wafpy eval ... | head`: stop printing, but the gates below still decide the exit code.
        quiet_stdout()
    if args.report:
        if not write_report(
            err,
            args.report,
            summary,
            comparison,
            title=f"wafpy eval: {acl.name}",
            inputs=args.logs,
            rule_names=[r.name for r in acl.model.rules],
            warnings=warnings,
            tiers=bundled_label_tiers(acl.model),
        ):
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
        # Plain: a console would wrap the line and split its file:line reference.
        print(f"error (--strict): {stopped.bad.describe()}", file=sys.stderr)
    if args.fail_on and summary.requests_undetermined:
        per = "; ".join(f"{n:,} {g}: {r}" for (g, r), n in summary.undetermined.most_common())
        print(f"--fail-on: {summary.requests_undetermined:,} UNDETERMINED apart ({per})", file=sys.stderr)
    checks = evaluate_checks(args, summary, comparison, unreadable, None if stopped is None else stopped.bad)
    failed = [c for c in checks if c.problem is not None]
    hits = [c.problem for c in failed if c.name.startswith("--fail-on ")]
    if hits:
        print(f"--fail-on: {', '.join(p for p in hits if p)}", file=sys.stderr)
    for check in failed:
        if check.name.startswith("--fail-on ") and check.detail:
            print(check.detail, file=sys.stderr)  # plain: file:line references stay whole
        elif check.name.startswith("--fail-on-change"):
            print(check.problem, file=sys.stderr)
        elif check.code == EXIT_EMPTY and failed[0] is check:  # not when inputs failed already
            # A gate that saw nothing has checked nothing: a pipeline must not read that as a pass.
            why = f" ({summary.bad_lines:,} bad lines)" if summary.bad_lines else ""
            print(f"error: no request evaluated{why}: {', '.join(args.logs)}", file=sys.stderr)
    problem = write_ci_outputs(args, summary, comparison, checks, elapsed)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return exit_code(checks)


def _render(
    out: Console,
    args: argparse.Namespace,
    acl: WebACL,
    summary: Summary,
    comparison: Comparison | None,
    warnings: list[str],
    elapsed: float,
    workers_used: int,
) -> None:
    """The summary, the comparison and the timing line."""
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
        f"{workers_used} process{'es' if workers_used > 1 else ''}[/]"
    )
