"""What every statement builder receives: where it is compiled and how to compile children."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from wafpy.matching.transforms import TRANSFORMS

if TYPE_CHECKING:
    from wafpy import model as ast
    from wafpy.engine.context import Matcher, Plan
    from wafpy.matching.detectors import Detector


@dataclass(slots=True)
class Flags:
    """Facts about the whole ACL gathered while compiling (shared by every CompileContext)."""

    needs_body: bool = False
    has_geo: bool = False
    keys: dict[Hashable, int] = field(default_factory=dict)

    def intern(self, key: Hashable) -> int:
        """A small int for a memo key: per-request lookups then hash an int, not a tree of nodes."""
        return self.keys.setdefault(key, len(self.keys))

    def plan(self, base: Hashable, chain_types: tuple[str, ...]) -> Plan:
        """Memo keys and steps for `base` and each prefix of its transformation chain."""
        steps: list[tuple[int, Callable[[bytes], bytes] | None]] = [(self.intern((base, ())), None)]
        for n in range(1, len(chain_types) + 1):
            steps.append((self.intern((base, chain_types[:n])), TRANSFORMS[chain_types[n - 1]]))
        return tuple(steps)


class LeafFilter(Protocol):
    """`wafpy.engine.prefilter.Prefilter` as statements see it: a text test's group and bit."""

    def leaf(self, statement: ast.Statement, *, scanner: bool) -> tuple[Any, int] | None: ...


@dataclass(frozen=True, slots=True)
class CompileContext:
    label_prefix: str  # prefix of the web ACL or rule group where the statement is defined
    body_limit: int
    path: str  # JSON path of the statement, for explanations
    rule_uid: str  # stable id of the rule use, for rate counters
    compile_statement: Callable[[ast.Statement, CompileContext], Matcher]
    detector: Detector
    flags: Flags = field(default_factory=Flags)
    # False under a NotStatement: the inner statement's match details would be thrown away.
    record_details: bool = True
    # Skips literal-bearing tests whose literals the request lacks (wafpy.engine.prefilter).
    prefilter: LeafFilter | None = None

    def at(self, suffix: str) -> CompileContext:
        return replace(self, path=f"{self.path}.{suffix}" if self.path else suffix)

    def child(self, statement: ast.Statement, suffix: str) -> Matcher:
        return self.compile_statement(statement, self.at(suffix))
