"""A generated scanner: one straight-line function per rule list, run until a rule needs attention.

Most rules do not match most requests. Calling a generic per-rule routine for each costs more than
the checks themselves, so each web ACL gets a function, generated once at compile time, that
evaluates rule after rule inline (And/Or become Python `and`/`or`; leaves are the compiled
matcher closures, which record why they matched). It returns the index of the first rule that
matched, was not applied, added labels, or references a rule group, and the evaluation loop
handles that rule with the full machinery before resuming the scan after it.

The generated text is kept (`CompiledACL.scanner_source`, `wafpy explain --scanner`) and
registered with `linecache` under a pseudo-filename of its own, so a traceback through the
scanner shows its lines. Each rule's code starts with a comment naming the rule and its
priority, and the values it uses are bound under names made from the rule's name.
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from collections.abc import Callable
from typing import Any

from wafpy import model as ast
from wafpy.decision import COUNT, MATCH
from wafpy.engine.context import EvalContext, Matcher, NotApplied
from wafpy.engine.inline import Source, identifier, statement_code
from wafpy.engine.prefilter import Group, Need, condition
from wafpy.engine.statements.base import CompileContext
from wafpy.engine.statements.logic import contains_geo

GROUP = "group"  # scan result: the rule at this index references a rule group

# (index of the rule that needs attention, or len(rules); its match result: True / False,
# None when it was not applied, GROUP for a rule-group reference)
ScanResult = tuple[int, bool | str | None]
Scanner = Callable[[EvalContext, int], ScanResult]


def flush_labels(ctx: EvalContext) -> None:
    """Add the labels a rule produced while it was evaluated (geo labels), after the rule."""
    for label in ctx.pending_labels:
        ctx.add_label(label)
    ctx.pending_labels.clear()


def counter(index: int, name: str, priority: int, labels: tuple[str, ...]) -> Callable[[EvalContext], None]:
    """What the evaluation loop does for a top-level Count rule that matched (labels, trace entry,
    log entry), done inside the scanner, which then goes on: no return to the loop per match.

    Only for a plain Count (no inserted headers, not rate-based): the same outcome as the loop's
    https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-action.html
    """

    def counted(ctx: EvalContext) -> None:
        details = tuple(ctx.details)
        if ctx.pending_labels:
            # Labels the statement produced land first, then the rule's own (as in the loop).
            flush_labels(ctx)
        for label in labels:
            ctx.add_label(label)
        if ctx.events is None:
            ctx.events, ctx.non_terminating, ctx.non_terminating_names = [], [], []
        ctx.events.append((index, (name, priority, MATCH, COUNT, None, None, details, labels)))
        ctx.non_terminating.append(  # type: ignore[union-attr]
            {
                "ruleId": name,
                "action": COUNT,
                "ruleMatchDetails": [d.to_log() for d in details if d.condition_type],
            }
        )
        ctx.non_terminating_names.append(name)  # type: ignore[union-attr]

    return counted


# Numbers the pseudo-filenames: two compilations of one web ACL (a reload) never share an entry.
_serial = itertools.count(1)


class ScannerSource:
    """Collects the rules' code; `build` turns it into the scanner function."""

    def __init__(self, *, inline: bool = True, acl_name: str = "") -> None:
        self.inline = inline
        self.acl_name = acl_name
        self.source = Source({})
        self.count = 0
        # An open run of consecutive rules that each have a prefilter need: (its first line, its
        # first rule index, each group it reads with the mask of the run's rules there, in the
        # order the rules first read them). One `if` around the run skips it all when no group
        # holds a literal any of its rules needs.
        self.run: tuple[int, int, dict[Group, int]] | None = None
        self.hits_names: dict[int, str] = {}

    def _hits(self, role: str, value: Any) -> str:
        """One bound name per group's `hits` method, however many rules use it."""
        name = self.hits_names.get(id(value.__self__))
        if name is None:
            name = self.hits_names[id(value.__self__)] = self.source.bind(role, value)
        return name

    def _close_run(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        line, first, masks = run
        lines = self.source.lines
        if self.count - first < 2:
            del lines[line]  # one rule: its own check suffices
            return
        need = condition(tuple(masks.items()), self._hits)
        lines[line] = f"    if start <= {self.count - 1} and ({need}):"
        lines[line + 1 :] = ["    " + text for text in lines[line + 1 :]]

    def _extend_run(self, need: Need | None) -> None:
        """Add a rule with `need` to the open run (opening one), or close the run before it."""
        if need is None:
            self._close_run()
            return
        if self.run is None:
            self.source.lines.append("")  # the run's `if`, written when it closes
            self.run = (len(self.source.lines) - 1, self.count, {})
        masks = self.run[2]
        for group, mask in need:
            masks[group] = masks.get(group, 0) | mask

    def add_rule(
        self,
        statement: ast.Statement,
        cc: CompileContext,
        compile_statement: Callable[[ast.Statement, CompileContext], Matcher],
        *,
        name: str = "",
        priority: int = 0,
        path: str = "",
        need: Need | None = None,
        count_labels: tuple[str, ...] | None = None,
    ) -> None:
        """Add a top-level rule; `count_labels` (the rule's labels) for a plain Count rule, which
        the inline scanner concludes itself when it matches."""
        src = self.source
        self._extend_run(need)
        index = self.count
        self.count += 1
        src.owner = identifier(name)
        src.emit(4, f"# rule {name!r}, priority {priority} ({path})")
        if need is not None:
            # Proven false unless the request holds a literal it needs (wafpy.engine.prefilter).
            src.emit(4, f"if start <= {index} and ({condition(need, self._hits)}):", "    try:")
        else:
            src.emit(4, f"if start <= {index}:", "    try:")
        if self.inline:
            statement_code(statement, cc, compile_statement, src, "m", 12)
        else:
            matcher = src.bind("matcher", compile_statement(statement, cc))
            src.emit(12, f"m = {matcher}(ctx)")
        src.emit(8, "except NotApplied:", f"    return {index}, None")
        geo = contains_geo(statement)
        if count_labels is not None and self.inline:
            counted = src.bind("counted", counter(index, name, priority, count_labels))
            src.emit(8, "if m:", f"    {counted}(ctx)")
            if geo:
                src.emit(8, "elif ctx.pending_labels:", "    flush_labels(ctx)")
        else:
            src.emit(8, "if m:", f"    return {index}, m")
            if geo:
                # Only GeoMatch adds labels as it goes (match or not); they land after the rule.
                src.emit(8, "if ctx.pending_labels:", "    flush_labels(ctx)")
        src.emit(8, "if details:", "    del details[:]")

    def add_group(self, *, name: str = "", priority: int = 0, path: str = "") -> None:
        self._close_run()
        self.source.emit(
            4, f"# rule {name!r}, priority {priority} ({path}): a rule group, run outside the scanner"
        )
        self.source.emit(4, f"if start <= {self.count}:", f"    return {self.count}, GROUP")
        self.count += 1

    def build(self) -> tuple[Scanner, str]:
        """The scanner function and its source text."""
        self._close_run()
        head = [
            "def scan(ctx, start):",
            "    request = ctx.request",
            "    memo = ctx.memo",
            "    details = ctx.details",
        ]
        lines = [*head, *self.source.lines, f"    return {self.count}, False"]
        text = "\n".join(lines) + "\n"
        return _compile_scanner(text, self.source.names, self.acl_name), text


def _compile_scanner(text: str, names: dict[str, Any], acl_name: str) -> Scanner:
    namespace: dict[str, Any] = {
        "NotApplied": NotApplied,
        "GROUP": GROUP,
        "flush_labels": flush_labels,
        **names,
    }
    shown = "".join(c if c.isprintable() and c not in "<>" else "_" for c in acl_name)
    filename = f"<wafpy scanner {shown} #{next(_serial)}>"
    exec(compile(text, filename, "exec"), namespace)
    scanner: Scanner = namespace["scan"]
    # No modification time: `linecache.checkcache` keeps the entry (it cannot stat the file).
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    # A reloaded web ACL must not leave its old source behind for the life of the process.
    weakref.finalize(scanner, linecache.cache.pop, filename, None)
    return scanner
