"""`wafpy validate FILE`: check a web ACL, rule group, IP set, regex pattern set or rule list, print
each rule's WCU and every error.

The kind is read from the document (the get-* output key, the CloudFormation Type, the members a
bare object has); a rule list is what `aws wafv2 check-capacity --rules` takes (a JSON array of
rules, or {"Scope": ..., "Rules": [...]}) and gets its capacity printed.

Two separate statements: whether AWS WAF would accept the document (this decides the exit code),
and whether wafpy can evaluate it offline, which for AWS managed rule groups takes `--managed`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any, TextIO

from wafpy import model as ast
from wafpy.errors import NotAvailableError, RulesetErrors, WafpyError
from wafpy.load.capacity import CapacityReport, acl_capacity
from wafpy.load.fidelity import TIERS
from wafpy.load.managed import ManagedChoice, managed_groups, parse_managed, unavailable_message

if TYPE_CHECKING:
    from wafpy.load.loader import Loaded

__all__ = ["add_validate_parser", "validate_command"]

# https://docs.aws.amazon.com/waf/latest/developerguide/aws-waf-capacity-units.html
WCU_BASE_PRICE = 1500  # included in the base price; more costs extra
# https://docs.aws.amazon.com/waf/latest/developerguide/limits.html
WCU_LIMIT = 5000  # hard limit for a web ACL or rule group


def add_document_options(p: argparse.ArgumentParser) -> None:
    """The options every command that loads a web ACL takes: resources, account, SearchString mode."""
    p.add_argument(
        "--resources",
        metavar="PATH",
        # One path per option, repeated for more: a list option (nargs="+") would also take the
        # positional arguments written after it (`--resources DIR acl.json logs/`).
        action="append",
        default=[],
        help="IP sets, regex pattern sets, rule groups: a file or folder of get-* outputs or templates "
        "(a folder: its .json/.yaml files, recursively); repeat the option for more",
    )
    p.add_argument("--account", metavar="ID", help="account id for label namespaces when the ARN has none")
    p.add_argument(
        "--search-string",
        choices=("auto", "base64", "text"),
        default="auto",
        help="ByteMatch SearchString encoding: base64 (get-* output), text (CloudFormation); default auto",
    )


def add_managed_option(p: argparse.ArgumentParser) -> None:
    """`--managed`: how AWS managed rule groups are evaluated (`managed=` of `load_web_acl`)."""
    p.add_argument(
        "--managed",
        metavar="HOW",
        action="append",
        help="how to evaluate AWS managed rule groups, whose rules AWS does not publish: none (as if no "
        "inner rule matched, with a warning), bundled (wafpy's own equivalents, not AWS's rules; may be "
        "repeated with files, searched in order), log (replayed from AWS WAF log "
        "records: `wafpy eval` only, its default on AWS WAF logs), or a file "
        "or folder of rule groups in get-rule-group JSON (repeat to search several, in order)",
    )
    p.add_argument(
        "--managed-ip-lists",
        metavar="FILE",
        help="with --managed bundled: a JSON object, rule name -> list of CIDRs, for the bundled IP "
        "reputation groups (AWSManagedIPReputationList, AWSManagedReconnaissanceList, "
        "AWSManagedIPDDoSList, AnonymousIPList, HostingProviderIPList), whose own lists AWS keeps private",
    )


VALIDATE_EPILOG = """exit status:
  0  the document is valid: AWS WAF would accept it (whether wafpy can evaluate its managed rule
     groups offline is reported apart, and does not change the exit status)
  1  errors, more than 5,000 WCU, or a usage error (as for every wafpy command): a malformed
     --managed value, or a --managed path that does not exist"""


def add_validate_parser(subparsers: Any) -> None:
    """Register `validate` on an argparse subparsers object (from `add_subparsers()`)."""
    p = subparsers.add_parser(
        "validate",
        help="check a web ACL or rule group and print its capacity (WCU)",
        description=__doc__,
        epilog=VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "file",
        metavar="FILE",
        help="web ACL, rule group, IP set, regex pattern set or rule list (bare, get-* output, "
        "CloudFormation); the kind is detected",
    )
    add_document_options(p)
    add_managed_option(p)
    p.add_argument(
        "--rule-group", action="store_true", help="read FILE as a rule group (the kind is otherwise detected)"
    )
    p.set_defaults(func=validate_command)


def _print_errors(exc: RulesetErrors, out: TextIO) -> None:
    # The exception's own text (`file:line:col: message at JSON.path`), so that the command, the
    # middleware and Python callers all show a document error the same, clickable way.
    print(str(exc), file=out)


def _table(report: CapacityReport, out: TextIO) -> None:
    rows = [
        (
            r.section if r.section != "Rules" else "",
            str(r.priority),
            r.name,
            f"{r.wcu}{'' if r.exact else '+?'}",
        )
        for r in report.rules
    ]
    if out.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title="capacity (WCU)")
        for col in ("section", "priority", "rule", "WCU"):
            table.add_column(col, justify="right" if col in ("priority", "WCU") else "left")
        for row in rows:
            table.add_row(*row)
        if report.label_wcu:
            table.add_row("", "", "rule labels", str(report.label_wcu))
        table.add_row("", "", "total", str(report.total))
        Console(file=out).print(table)
        return
    for section, priority, name, wcu in rows:
        prefix = f"{section} " if section else ""
        print(f"{prefix}{priority:>5}  {name}  {wcu} WCU", file=out)
    if report.label_wcu:
        print(f"       rule labels  {report.label_wcu} WCU", file=out)
    print(
        f"total {report.total} WCU"
        + ("" if report.exact else " (+ unknown managed rule group capacity)")
        + (f"; the document states {report.stated}" if report.stated is not None else ""),
        file=out,
    )


def _offline(loaded: Loaded, out: TextIO, err: TextIO) -> None:
    """Whether wafpy can evaluate the managed rule groups offline, apart from AWS validity."""
    choice: ManagedChoice = loaded.managed
    missing = loaded.managed_missing
    listed = ", ".join(f"{group} (at {path})" for group, path in missing)
    n = f"{len(missing)} managed rule group{'s' if len(missing) != 1 else ''}"
    if choice.mode == "log":
        groups = (
            [group for group, _, _ in managed_groups(loaded.model)]
            if isinstance(loaded.model, ast.WebACL)
            else []
        )
        print(
            "offline: --managed log replays managed rule groups from AWS WAF log records (`wafpy eval` "
            "on AWS WAF logs); elsewhere use --managed none or --managed PATH"
            + (f"; from the log: {', '.join(groups)}" if groups else ""),
            file=out,
        )
    elif missing and choice.mode == "bundled":
        print(f"offline: {unavailable_message(missing, choice)}", file=out)
    elif missing and choice.mode == "files":
        print(
            f"offline: {n} not found in the --managed files ({', '.join(choice.paths)}): {listed}", file=out
        )
    elif missing:
        verb = "needs" if len(missing) == 1 else "need"
        print(f"offline: {n} {verb} --managed to be evaluated: {listed}", file=out)
    if isinstance(loaded.model, ast.WebACL):
        for group, path, statement in managed_groups(loaded.model):
            source = statement.rules_from or ""
            if source.startswith("file:"):
                where = source.removeprefix("file:")
                print(f"offline: {group} (at {path}) evaluated with the rules of {where}", file=out)
            elif source == "bundled" and statement.rule_group is not None:
                tiers = Counter(r.fidelity.tier for r in statement.rule_group.rules if r.fidelity)
                counts = ", ".join(f"{tiers[t]} {t}" for t in TIERS if tiers[t])
                print(
                    f"offline: {group} (at {path}) evaluated with wafpy's bundled equivalent, not AWS's "
                    f"rules (rule tiers: {counts})",
                    file=out,
                )
    for warning in loaded.managed_warnings:
        print(
            f"warning: managed rule group {warning.group} at {warning.path} is evaluated as if no inner "
            "rule matched (--managed none): its real rules are not applied",
            file=err,
        )


def validate_command(args: argparse.Namespace) -> int:
    """Exit 0 when AWS WAF would accept the document (warnings and offline notes allowed), 1 on any
    error, above 5,000 WCU or on a malformed or absent --managed value (a usage error)."""
    from wafpy.load.detect import load_detected

    out, err = sys.stdout, sys.stderr
    try:
        managed = parse_managed(getattr(args, "managed", None), getattr(args, "managed_ip_lists", None))
    except ValueError as exc:
        print(f"error: --managed: {exc}", file=err)
        return 1  # a usage error, as argparse's are in every wafpy command
    absent = [path for path in managed.paths if not os.path.exists(path)]
    if absent:  # a usage error, said before the document is read
        print(f"error: --managed: no such file or folder: {', '.join(absent)}", file=err)
        return 1
    try:
        loaded, detected, origin = load_detected(
            args.file,
            kind="RuleGroup" if getattr(args, "rule_group", False) else None,
            resources=args.resources or None,  # folders are expanded by the loader
            account=args.account,
            search_string=args.search_string,
            managed=managed,
        )
    except RulesetErrors as exc:
        _print_errors(exc, out)
        return 1
    except (NotAvailableError, WafpyError) as exc:
        print(f"error: {exc}", file=out)
        return 1
    model = loaded.model
    if isinstance(model, (ast.IPSet, ast.RegexPatternSet)):
        count = (
            f"{len(model.addresses)} addresses"
            if isinstance(model, ast.IPSet)
            else f"{len(model.patterns)} patterns"
        )
        print(
            f"{detected} {model.name} ({origin} document, {count}): valid (AWS WAF would accept it)",
            file=out,
        )
        return 0
    kind = "WebACL" if isinstance(model, ast.WebACL) else "RuleGroup"
    if detected == "Rules":
        print(
            f"rules ({len(model.rules)} rules, as `aws wafv2 check-capacity --rules` takes them): "
            "valid (AWS WAF would accept them)",
            file=out,
        )
    else:
        print(
            f"{kind} {model.name} ({origin} document, {len(model.rules)} rules): "
            "valid (AWS WAF would accept it)",
            file=out,
        )
    report = acl_capacity(model)
    _table(report, out)
    _offline(loaded, out, err)
    if report.total > WCU_LIMIT:
        print(f"error: {report.total} WCU exceeds the {WCU_LIMIT} WCU limit of a {kind}", file=out)
        return 1
    if report.total > WCU_BASE_PRICE:
        print(
            f"warning: {report.total} WCU is above the {WCU_BASE_PRICE} WCU included in the base price",
            file=err,
        )
    return 0
