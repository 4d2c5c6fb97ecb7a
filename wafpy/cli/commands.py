"""The last steps of building the `wafpy` parser: the `diff` command and examples in every `--help`.

Kept out of `wafpy.cli.main` so that the parser there stays about its own commands.
"""

from __future__ import annotations

import argparse
from typing import Any

from wafpy.cli.diff import add_diff_parser

__all__ = ["EXAMPLES", "finish_parser"]

EXAMPLES = {
    "eval": [
        "wafpy eval acl.json waf-logs/",
        "wafpy eval acl.json alb.log.gz --compare --report report.html",
        "wafpy eval acl.json requests.jsonl --fail-on BLOCK -q",
        "wafpy eval acl.json waf-logs/ --verbose   # every table: labels, blocked IPs and URIs",
    ],
    "validate": [
        "wafpy validate acl.json",
        "wafpy validate acl.json --resources ipsets/",
        "wafpy validate rule-group.json",
    ],
    "test": ["wafpy test waf-tests/", "wafpy test login.waftest.yaml --junit reports/waf.xml"],
    "explain": [
        "wafpy explain acl.json waf.log --line 42",
        "wafpy explain acl.json --scanner",
    ],
    "diff": [
        "wafpy diff acl-old.json acl-new.json waf-logs/",
        "wafpy diff main.json branch.json alb.log.gz --json diff.json --report diff.html",
    ],
}


def _block(lines: list[str]) -> str:
    return "examples:\n" + "".join(f"  {line}\n" for line in lines)


def finish_parser(parser: argparse.ArgumentParser, subparsers: Any) -> None:
    """Register `diff`, then head every command's epilog with examples (unless it has its own)."""
    add_diff_parser(subparsers)
    for name, sub in subparsers.choices.items():
        lines = EXAMPLES.get(name)
        if lines is None or "examples:" in (sub.epilog or ""):
            continue
        sub.epilog = _block(lines) + ("\n" + sub.epilog if sub.epilog else "")
        # Keep the examples' lines as written (one command a line).
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _block([lines[0] for lines in EXAMPLES.values()]) + "\nwafpy COMMAND --help for more."
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
