"""What the `wafpy` commands share: exit codes, loading the web ACL named on the command line,
expanding `--resources`, and leaving quietly when the reader of stdout has gone."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console

from wafpy.errors import NotAvailableError, RulesetErrors, WafpyError
from wafpy.webacl import WebACL, load_web_acl

if TYPE_CHECKING:
    from wafpy.replay.compare import Comparison
    from wafpy.replay.summary import Summary

__all__ = [
    "EXIT_EMPTY",
    "EXIT_FAIL_ON",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STRICT",
    "EXIT_USAGE",
    "EXIT_WORKER_DIED",
    "StdoutConsole",
    "load_acl",
    "quiet_stdout",
    "resource_files",
    "write_report",
]

EXIT_OK, EXIT_USAGE, EXIT_FAIL_ON, EXIT_STRICT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_INPUT, EXIT_WORKER_DIED, EXIT_EMPTY = 4, 5, 6


def resource_files(paths: Sequence[str]) -> list[str]:
    """`--resources` values: files as given, folders expanded to their document files (sorted)."""
    from wafpy.load.loader import expand_resource_paths

    return expand_resource_paths(paths)


def load_acl(
    args: argparse.Namespace,
    managed: Any = None,
    *,
    path: str | None = None,
    unavailable_note: str | None = None,
) -> tuple[WebACL, functools.partial[WebACL]] | None:
    """The web ACL (`path`, else `args.acl`) and a loader that reloads it; None (errors printed)
    when it cannot be loaded.

    `unavailable_note` is printed after the error when what is missing is a managed rule group."""
    path = args.acl if path is None else path
    loader = functools.partial(
        load_web_acl,
        path,
        resources=resource_files(args.resources) or None,
        account=args.account,
        search_string=args.search_string,
        managed=managed if managed is not None else args.managed,
        managed_ip_lists=getattr(args, "managed_ip_lists", None),
    )
    # Plain prints: a rich console would wrap the messages and split the line:column references.
    try:
        return loader(), loader
    except RulesetErrors as exc:
        print(str(exc), file=sys.stderr)
    except NotAvailableError as exc:
        print(f"error: cannot load {path}: {exc}", file=sys.stderr)
        if unavailable_note is not None:
            print(unavailable_note, file=sys.stderr)
    except (WafpyError, OSError, ValueError) as exc:
        print(f"error: cannot load {path}: {exc}", file=sys.stderr)
    return None


def quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class StdoutConsole(Console):
    """A rich console on stdout that lets a closed pipe (`| head`) reach the command as a
    `BrokenPipeError`: rich's own handler exits with 1 and would hide the command's exit code."""

    def on_broken_pipe(self) -> None:
        quiet_stdout()
        raise BrokenPipeError


def write_report(
    err: Console, path: str, summary: Summary, comparison: Comparison | None, **options: Any
) -> bool:
    """Write the HTML report (`wafpy.replay.htmlreport`); False, said on stderr, when the file
    cannot be written."""
    from wafpy.replay.htmlreport import write_html_report

    try:
        write_html_report(path, summary, comparison, **options)
    except OSError as exc:
        err.print(f"error: cannot write {path}: {exc.strerror or exc}", markup=False)
        return False
    return True
