"""Skip, in bulk, the rules whose required literals a request does not contain.

Most rules cannot match most requests, yet evaluating them one by one costs every rule its test.
Here the literal-bearing tests (ByteMatch, RegexMatch and RegexPatternSetReference with a literal
found by `wafpy.matching.literals`) that read the same field through the same transformation chain
form a *group*: once per request, one pass of a multi-literal search over that field says which
literals occur, as a bit mask of the rules that may match. A rule is then tested only when a
literal it needs occurs; the others are proven false and skipped.

What a rule needs (`Prefilter.need`), proven from its statement:
* a text test with a literal: that literal, in its field after its transformations;
* And: what its first child needs (later children never run when the first is false). Leading
  LabelMatch children, which have no side effects, may be passed over when the need's fields are
  read without side effects;
* Or: what each child needs, all of them (the rule may match only if one child may);
* anything else, and Not above all (it is true when its child is false), needs nothing that can be
  proven: the rule is always tested. So are And / Or holding a GeoMatch (each child runs).

Where it is used: the generated scanner (`wafpy.engine.scan`) and a rule group's loop
(`CompiledGroup.skip`) wrap each run of consecutive rules that have needs in one check, and check
each rule of an opened run on its own; a text test inside a rule that cannot be skipped whole (an
Or beside an XSS match, a Not) checks its own literals before its search (`Prefilter.leaf`). All
chains of one field share one automaton (`FieldSearch`), and a chain that leaves the text as
another left it costs a lookup, not a second search.

Evaluation stays exactly equal to rule-by-rule evaluation, including its side effects: a field is
extracted where the rule that first reads it stands, not earlier, so the order of oversize flags
is kept; the groups of an Or are computed in order and stop at the first one that finds a literal,
as the statement's own evaluation would; a body the request does not carry (a log record) and an
OversizeHandling MATCH make every rule of the group a candidate, so those rules run and report
themselves. `tests/test_prefilter.py` checks the two forms agree (`compile_acl(prefilter=False)`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from wafpy import model as ast
from wafpy.engine.context import EvalContext
from wafpy.engine.statements.base import Flags
from wafpy.engine.statements.logic import contains_geo
from wafpy.engine.statements.match import SINGLE_VALUED
from wafpy.matching.fields import extractor
from wafpy.matching.literals import FOLD, LiteralSearch, fold, required_literals

# Fields whose extraction is visible (an oversize flag, a body missing from a log record): their
# group must be computed exactly where the statement would read them.
_WITH_SIDE_EFFECTS = (ast.Body, ast.JsonBody, ast.Headers, ast.Cookies, ast.HeaderOrder)
_MANY_VALUED = (ast.Headers, ast.Cookies, ast.AllQueryArguments, ast.JsonBody)
_ALL = -1  # every rule of the group is a candidate (all bits set)
MIN_USERS = 2  # tests needing literals in one field before its search pays (many-valued: 1)
_NONE = 1  # bit 0 is always set: a computed result is never 0, so `memo.get(k) or ...` works


@dataclass(eq=False)
class FieldSearch:
    """The literals of every chain of one field, in one automaton. Chains often leave a field as it
    was (URL_DECODE of a JSON body): a text already searched for this request is not searched again."""

    memo_key: int
    literals: dict[bytes, int] = field(default_factory=dict)  # literal -> index in the automaton
    search: LiteralSearch | None = None

    def finish(self) -> None:
        if self.search is None:
            self.search = LiteralSearch(list(self.literals))

    def found(self, ctx: EvalContext, text: bytes) -> set[int]:
        """Indexes of the literals in `text` (folded), remembered per text for this request."""
        seen: dict[bytes, set[int]] | None = ctx.memo.get(self.memo_key)
        if seen is None:
            seen = ctx.memo[self.memo_key] = {}
        found = seen.get(text)
        if found is None:
            assert self.search is not None, "Prefilter.finish() was not called"
            found = seen[text] = self.search.found(text)
        return found


@dataclass(eq=False)
class Group:
    """One field after one transformation chain, and the literals rules look for there."""

    memo_key: int
    fetch: Callable[[EvalContext], tuple[bool | None, list[bytes]]]
    pure: bool  # reading the field has no visible side effect
    min_users: int  # tests that must use the group for its search to pay
    shared: FieldSearch
    masks: dict[int, int] = field(default_factory=dict)  # literal index -> mask of rule bits
    next_bit: int = 1
    users: int = 0  # rules that need a literal here (`Prefilter.survey`)

    def allocate(self, literals: frozenset[bytes]) -> int:
        bit = 1 << self.next_bit
        self.next_bit += 1
        indexes = self.shared.literals
        for literal in literals:
            i = indexes.setdefault(literal, len(indexes))
            self.masks[i] = self.masks.get(i, 0) | bit
        return bit

    def hits(self, ctx: EvalContext) -> int:
        """The mask of rules that may match, computed once per request."""
        memo = ctx.memo
        known: int | None = memo.get(self.memo_key)
        if known is not None:
            return known
        forced, elements = self.fetch(ctx)
        if forced is not None:
            result = _ALL if forced else _NONE
        elif not elements:
            result = _NONE
        else:
            text = elements[0] if len(elements) == 1 else b"\x00".join(elements)
            masks = self.masks
            result = _NONE
            for i in self.shared.found(ctx, text.translate(FOLD)):
                result |= masks.get(i, 0)
        memo[self.memo_key] = result
        return result


# One part of a rule's need: (group, the rule's bit in it). The rule may match only if the group's
# hits for the request have the bit for at least one part.
Need = tuple[tuple[Group, int], ...]


def _fetch_single(attribute: str, plan: tuple[tuple[int, Any], ...]) -> Callable[[EvalContext], Any]:
    """The value a single-valued field's test sees, sharing the memo entries the test uses."""

    def fetch(ctx: EvalContext) -> tuple[bool | None, list[bytes]]:
        value: bytes | None = getattr(ctx.request, attribute)
        if value is None:
            return None, []
        memo = ctx.memo
        for key, step in plan:
            known = memo.get(key)
            value = memo[key] = known if known is not None else step(value)
        return None, [value]

    return fetch


def _fetch_header(name: bytes, plan: tuple[tuple[int, Any], ...]) -> Callable[[EvalContext], Any]:
    """One header's values after a chain, as the generated scanner reads them."""

    def fetch(ctx: EvalContext) -> tuple[bool | None, list[bytes]]:
        current = ctx.request.header_values(name)
        memo = ctx.memo
        for key, step in plan:
            known = memo.get(key)
            current = memo[key] = known if known is not None else [step(v) for v in current]
        return None, list(current)

    return fetch


def _fetch_values(ex: Any, extract_key: int, plan: Any, body: bool) -> Callable[[EvalContext], Any]:
    """A field's elements after a chain through `EvalContext.values`, as the closures read them."""

    def fetch(ctx: EvalContext) -> tuple[bool | None, list[bytes]]:
        if body and not ctx.request.body_available:
            return True, []  # the statement itself reports that it cannot be evaluated
        values = ctx.memo.get(plan[-1][0])
        if values is None:
            values = ctx.values(ex, extract_key, plan)
        return values[0], values[1]

    return fetch


class Prefilter:
    """The groups of one compiled web ACL; `need` registers a rule, `finish` builds the searches."""

    def __init__(self, flags: Flags, body_limit: int) -> None:
        self.flags = flags
        self.body_limit = body_limit
        self.groups: dict[Hashable, Group] = {}
        self.fields: dict[Hashable, FieldSearch] = {}

    def _group(self, statement: Any, scanner: bool) -> Group:
        field_to_match = statement.field_to_match
        pre_parse = tuple(t.type for t in statement.pre_parse_transformations)
        chain = tuple(t.type for t in statement.text_transformations if t.type != "NONE")
        # The search is case-folded anyway, so a chain and the same chain then LOWERCASE (or
        # UPPERCASE: ASCII only, within the search's folding) share one search and skip that step.
        while chain and chain[-1] in ("LOWERCASE", "UPPERCASE"):
            chain = chain[:-1]
        ex = extractor(field_to_match, pre_parse, self.body_limit)
        flags = self.flags
        attribute = SINGLE_VALUED.get(type(field_to_match))
        fetch: Callable[[EvalContext], Any]
        if attribute is not None:
            mode = "single"
            fetch = _fetch_single(attribute, flags.plan(("single", ex.key), chain)[1:] if chain else ())
        elif scanner and isinstance(field_to_match, ast.SingleHeader):
            mode = "header"
            name = field_to_match.name.encode("latin-1")
            fetch = _fetch_header(name, flags.plan(("header", ex.key), chain)[1:] if chain else ())
        else:
            mode = "values"
            body = isinstance(field_to_match, (ast.Body, ast.JsonBody))
            fetch = _fetch_values(ex, flags.intern(ex.key), flags.plan(ex.key, chain), body)
        key = (ex.key, chain, mode)
        group = self.groups.get(key)
        if group is None:
            pure = not isinstance(field_to_match, _WITH_SIDE_EFFECTS)
            # A test of a many-valued field runs once per element; one search replaces them all.
            few = 1 if isinstance(field_to_match, _MANY_VALUED) else MIN_USERS
            shared = self.fields.get((ex.key, mode))
            if shared is None:
                shared = self.fields[ex.key, mode] = FieldSearch(flags.intern(("prefilter", ex.key, mode)))
            group = self.groups[key] = Group(flags.intern(("prefilter", key)), fetch, pure, few, shared)
        return group

    def _parts(self, statement: ast.Statement, scanner: bool) -> list[tuple[Group, frozenset[bytes]]] | None:
        literals = self._literals(statement)
        if literals is not None:
            return [(self._group(statement, scanner), literals)]
        if isinstance(statement, ast.And) and not contains_geo(statement):
            for i, child in enumerate(statement.statements):
                parts = self._parts(child, scanner)
                if parts is not None:
                    return parts if i == 0 or all(g.pure for g, _ in parts) else None
                if not isinstance(child, ast.LabelMatch):
                    return None
            return None
        elif isinstance(statement, ast.Or) and not contains_geo(statement):
            out: list[tuple[Group, frozenset[bytes]]] = []
            for child in statement.statements:
                parts = self._parts(child, scanner)
                if parts is None:
                    return None
                out += parts
            return out or None
        return None

    def _literals(self, statement: ast.Statement) -> frozenset[bytes] | None:
        """What a text test needs in its transformed field; None for other statements."""
        if isinstance(statement, ast.ByteMatch):
            search = statement.search_string
            return frozenset([fold(search)]) if search else None
        if isinstance(statement, ast.RegexMatch):
            return required_literals(statement.regex_string)
        if isinstance(statement, ast.RegexPatternSetReference):
            patterns = statement.pattern_set.patterns if statement.pattern_set is not None else ()
            found = [required_literals(p) for p in patterns]
            if found and all(f is not None for f in found):
                return frozenset().union(*found)  # type: ignore[arg-type]
        return None

    def survey(self, statement: ast.Statement, *, scanner: bool) -> None:
        """Count the tests that would use each group, before any `need` or `leaf` is asked."""
        if self._literals(statement) is not None:
            self._group(statement, scanner).users += 1
        for child in getattr(statement, "statements", None) or ():
            self.survey(child, scanner=scanner)
        if isinstance(statement, ast.Not):
            self.survey(statement.statement, scanner=scanner)

    def leaf(self, statement: ast.Statement, *, scanner: bool) -> tuple[Group, int] | None:
        """For a text test anywhere in a statement (under Not, beside a detector): its group and
        bit, when its literals' absence proves it false. Its field is read where it stands."""
        literals = self._literals(statement)
        if literals is None:
            return None
        group = self._group(statement, scanner)
        if group.users < group.min_users:
            return None
        return group, group.allocate(literals)

    def need(self, statement: ast.Statement, *, scanner: bool) -> Need | None:
        """Register a rule's statement; what it needs to possibly match, or None (always tested).

        A group that few rules use is not worth its search: testing those rules costs no more."""
        parts = self._parts(statement, scanner)
        if parts is None or any(g.users < g.min_users for g, _ in parts):
            return None
        out: list[tuple[Group, int]] = []
        for group, literals in parts:
            bit = group.allocate(literals)
            if out and out[-1][0] is group:
                out[-1] = (group, out[-1][1] | bit)  # two children of an Or reading one field
            else:
                out.append((group, bit))
        return tuple(out)

    def finish(self) -> None:
        for shared in self.fields.values():
            shared.finish()


def check(need: Need) -> Callable[[EvalContext], bool]:
    """A function telling whether a rule with `need` may match the request."""
    if len(need) == 1:
        ((group, mask),) = need
        key, hits = group.memo_key, group.hits

        def one(ctx: EvalContext) -> bool:
            return bool((ctx.memo.get(key) or hits(ctx)) & mask)

        return one

    def several(ctx: EvalContext) -> bool:
        return any(group.hits(ctx) & mask for group, mask in need)

    return several


def condition(need: Need, bind: Callable[[str, Any], str]) -> str:
    """The same test as Python source for the generated scanner (`bind` names a value)."""
    terms = []
    for group, mask in need:
        hits = bind("prefilter", group.hits)
        terms.append(f"(memo.get({group.memo_key}) or {hits}(ctx)) & {mask}")
    return " or ".join(terms)
