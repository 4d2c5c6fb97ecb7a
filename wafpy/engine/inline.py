"""Python source for rule statements, inlined into the generated scanner (`wafpy.engine.scan`).

Calling a closure per statement and a test per element costs more than the checks themselves,
so statements that inspect a component (ByteMatch, RegexMatch, RegexPatternSetReference,
SqliMatch, XssMatch, SizeConstraint) and the And / Or / Not around them become plain code:
fetch the memoized field values, loop over the elements, compare. A match calls a small closure
that records why it matched. Every other statement (IP sets, geo, labels, ASN, rate-based, and
logic holding a geo statement) stays a call of its compiled closure. The closures of
`wafpy.engine.statements` define the semantics; `tests/test_inline.py` checks both agree.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from wafpy import model as ast
from wafpy.decision import MatchDetail
from wafpy.engine.context import EvalContext, Matcher, Values
from wafpy.engine.statements.base import CompileContext
from wafpy.engine.statements.logic import contains_geo
from wafpy.engine.statements.match import SINGLE_VALUED, size_text
from wafpy.matching.fields import extractor
from wafpy.matching.iptools import CidrSet, parse_ip
from wafpy.matching.regex import compile_regex, compile_regex_set

_WORD = b"A-Za-z0-9_"
_COMPARE = {"EQ": "==", "NE": "!=", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}


# Names the scanner function defines or reads besides the bound ones (`wafpy.engine.scan`).
RESERVED = frozenset({"scan", "NotApplied", "GROUP", "flush_labels"})


def identifier(text: str, *, limit: int = 40) -> str:
    """`text` (a rule name) as a readable Python identifier: other characters become `_`."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in text[:limit])
    if not name or name[0].isdigit():
        name = "rule_" + name
    return name


@dataclass(slots=True)
class Source:
    """Generated lines and the names they refer to (bound into the scanner's namespace).

    A bound name reads as `<owner>_<role>` (`block_admin_search`, `block_admin_record_2`): whoever
    reads the generated code, or a traceback through it, sees which rule a value belongs to.
    """

    names: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    counter: int = 0  # local temporaries `t1`, `t2`, ... (the bound names all hold an underscore)
    owner: str = "scan"  # identifier of the rule being generated

    def bind(self, role: str, value: Any) -> str:
        base = f"{self.owner}_{role}"
        name, n = base, 1
        while name in self.names or name in RESERVED:
            n += 1
            name = f"{base}_{n}"
        self.names[name] = value
        return name

    def temporary(self) -> str:
        """A fresh local variable for a nested result."""
        self.counter += 1
        return f"t{self.counter}"

    def emit(self, indent: int, *lines: str) -> None:
        pad = " " * indent
        self.lines.extend(pad + line for line in lines)


def _recorder(
    statement_name: str, cc: CompileContext, condition: str | None, sensitivity: str | None
) -> Callable[[EvalContext, str, bytes | None, bytes, Any], bool]:
    path = cc.path
    record_details = cc.record_details

    def record(ctx: EvalContext, location: str, name: bytes | None, value: bytes, hit: Any) -> bool:
        if record_details:
            tokens: tuple[str, ...] = hit if isinstance(hit, tuple) else ()
            text = ", ".join(tokens) if tokens else hit.decode("utf-8", "replace")
            field_name = name.decode("latin-1") if name is not None else None
            ctx.details.append(
                MatchDetail(
                    statement_name, path, location, field_name, value, text, condition, sensitivity, tokens
                )
            )
        return True

    return record


def _forced(statement_name: str, cc: CompileContext) -> Callable[[EvalContext, Values], bool]:
    path = cc.path
    record_details = cc.record_details

    def forced(ctx: EvalContext, values: Values) -> bool:
        result = values[0]
        if result and record_details:
            ctx.details.append(MatchDetail(statement_name, path, values[3], matched="(fallback or oversize)"))
        return bool(result)

    return forced


def _test(statement: ast.Statement, src: Source) -> tuple[str, str, str, str | None, str | None]:
    """(statement name, condition on `v`, hit expression, log condition type, sensitivity)."""
    if isinstance(statement, ast.ByteMatch):
        s = src.bind("search", statement.search_string)
        kind = statement.positional_constraint
        condition = {
            "EXACTLY": f"v == {s}",
            "STARTS_WITH": f"v.startswith({s})",
            "ENDS_WITH": f"v.endswith({s})",
            "CONTAINS": f"{s} in v",
        }.get(kind)
        # CONTAINS_WORD: every occurrence is tried (waf-rule-statement-type-string-match).
        if condition is None:
            search = statement.search_string
            word = re.compile(b"(?<![" + _WORD + b"])" + re.escape(search) + b"(?![" + _WORD + b"])")
            w = src.bind("word", word.search)
            condition = f"{s} in v and {w}(v) is not None"
        return "ByteMatchStatement", condition, s, None, None
    if isinstance(statement, ast.RegexMatch):
        r = src.bind("regex", compile_regex(statement.regex_string))
        return "RegexMatchStatement", f"(h := {r}(v)) is not None", "h", None, None
    if isinstance(statement, ast.RegexPatternSetReference):
        assert statement.pattern_set is not None
        r = src.bind("regex_set", compile_regex_set(statement.pattern_set.patterns))
        return "RegexPatternSetReferenceStatement", f"(h := {r}(v)) is not None", "h", None, None
    if isinstance(statement, ast.SizeConstraint):
        n = src.bind("size", statement.size)
        z = src.bind("size_text", size_text(statement.comparison_operator, statement.size))
        return (
            "SizeConstraintStatement",
            f"len(v) {_COMPARE[statement.comparison_operator]} {n}",
            f"{z}(v)",
            None,
            None,
        )
    raise TypeError(type(statement).__name__)


def _text_leaf(statement: Any, cc: CompileContext, src: Source, var: str, indent: int) -> None:
    field_to_match = statement.field_to_match
    log_condition: str | None
    sensitivity: str | None
    if isinstance(statement, ast.SqliMatch):
        level = src.bind("level", statement.sensitivity_level)
        tokens = getattr(cc.detector, "sqli_tokens", None)
        detector = src.bind("sqli", tokens or cc.detector.sqli)
        name, condition = "SqliMatchStatement", f"(h := {detector}(v, {level})) is not None"
        hit = "h" if tokens else "h.matched"
        log_condition, sensitivity = "SQL_INJECTION", statement.sensitivity_level
    elif isinstance(statement, ast.XssMatch):
        tokens = getattr(cc.detector, "xss_tokens", None)
        detector = src.bind("xss", tokens or cc.detector.xss)
        name, condition = "XssMatchStatement", f"(h := {detector}(v)) is not None"
        hit = "h" if tokens else "h.matched"
        log_condition, sensitivity = "XSS", None
    else:
        name, condition, hit, log_condition, sensitivity = _test(statement, src)
    pre_parse = tuple(t.type for t in statement.pre_parse_transformations)
    ex = extractor(field_to_match, pre_parse, cc.body_limit)
    chain_types = tuple(t.type for t in statement.text_transformations if t.type != "NONE")
    flags = cc.flags
    location = src.bind("location", ex.location)
    if cc.record_details:
        recorder = src.bind("record", _recorder(name, cc, log_condition, sensitivity))

        def record(location: str, field_name: str, value: str = "v") -> str:
            return f"{recorder}(ctx, {location}, {field_name}, {value}, {hit})"

    else:
        # Under a NotStatement the details would be thrown away: a match is just True.
        def record(location: str, field_name: str, value: str = "v") -> str:
            return "True"

    attribute = SINGLE_VALUED.get(type(field_to_match))
    if attribute is not None:
        if chain_types:
            plan = flags.plan(("single", ex.key), chain_types)[1:]
            single = src.bind("single_value", _single_value(attribute, plan))
            key = src.bind("key", plan[-1][0])
            src.emit(indent, f"v = memo.get({key})", "if v is None:", f"    v = {single}(ctx)")
        else:
            src.emit(indent, f"v = request.{attribute}")
        # Only the query string can be absent; the path and the method always exist.
        absent = "v is not None and " if attribute == "query" else ""
        src.emit(
            indent,
            f"if {absent}{condition}:",
            f"    {var} = {record(location, 'None')}",
            "else:",
            f"    {var} = False",
        )
        return
    if isinstance(field_to_match, ast.SingleHeader):
        # The request keeps an index of header values: read it directly, no extraction objects.
        header = src.bind("header", field_to_match.name.encode("latin-1"))
        if chain_types:
            plan = flags.plan(("header", ex.key), chain_types)[1:]
            values = src.bind("header_values", _header_values(field_to_match.name.encode("latin-1"), plan))
            key = src.bind("key", plan[-1][0])
            src.emit(indent, f"vals = memo.get({key})", "if vals is None:", f"    vals = {values}(ctx)")
        else:
            src.emit(indent, f"vals = request.header_values({header})")
        src.emit(
            indent,
            f"{var} = False",
            "for v in vals:",
            f"    if {condition}:",
            f"        {var} = {record(location, header)}",
            "        break",
        )
        return
    if (
        isinstance(field_to_match, ast.Headers)
        and field_to_match.match_pattern.all
        and field_to_match.match_scope != "ALL"
        and not chain_types
    ):
        # Every header's value (or name), untransformed: loop over the visible headers directly.
        # An oversize header block takes the general path below, which applies OversizeHandling.
        which = "v" if field_to_match.match_scope == "VALUE" else "n"
        src.emit(indent, "if not request.headers_oversize:", f"    {var} = False")
        src.emit(indent + 4, f"for n, {which if which == 'v' else '_'} in request.visible_headers:")
        if which == "n":
            src.emit(indent + 8, "v = n")
        src.emit(
            indent + 8,
            f"if {condition}:",
            f"    {var} = {record(location, 'n')}",
            "    break",
        )
        src.emit(indent, "else:")
        indent += 4
    reads_body = isinstance(field_to_match, (ast.Body, ast.JsonBody))
    if reads_body:
        flags.needs_body = True
        path = src.bind("path", cc.path)
        # A log record carries no body, so AWS's answer cannot be known:
        # https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html
        src.emit(indent, "if not request.body_available:", f"    ctx.not_evaluable.append({path})")
        src.emit(indent, f"    {var} = False", "else:")
        indent += 4
    plan = flags.plan(ex.key, chain_types)
    names = (
        src.bind("extract", ex),
        src.bind("extract_key", flags.intern(ex.key)),
        src.bind("plan", plan),
        src.bind("key", plan[-1][0]),
        src.bind("forced", _forced(name, cc)),
    )
    extract, extract_key, plan_name, key, forced = names
    src.emit(
        indent,
        f"vals = memo.get({key})",
        "if vals is None:",
        f"    vals = ctx.values({extract}, {extract_key}, {plan_name})",
        "if vals[0] is not None:",
        f"    {var} = {forced}(ctx, vals)",
        "else:",
        f"    {var} = False",
        "    for i, v in enumerate(vals[1]):",
        f"        if {condition}:",
        f"            {var} = {record('vals[3]', 'vals[2][i] if vals[2] else None')}",
        "            break",
    )


def _single_value(attribute: str, plan: tuple[tuple[int, Any], ...]) -> Callable[[EvalContext], bytes | None]:
    """A single-valued component after its chain, reusing any prefix already computed."""

    def single(ctx: EvalContext) -> bytes | None:
        value: bytes | None = getattr(ctx.request, attribute)
        if value is None:
            return None
        memo = ctx.memo
        for key, step in plan:
            known = memo.get(key)
            value = memo[key] = known if known is not None else step(value)
        return value

    return single


def _header_values(name: bytes, plan: tuple[tuple[int, Any], ...]) -> Callable[[EvalContext], list[bytes]]:
    """Values of one header after a chain, reusing any prefix already computed."""

    def values(ctx: EvalContext) -> list[bytes]:
        current = ctx.request.header_values(name)
        memo = ctx.memo
        for key, step in plan:
            known = memo.get(key)
            current = memo[key] = known if known is not None else [step(v) for v in current]
        return current

    return values


TEXT_STATEMENTS = (
    ast.ByteMatch,
    ast.RegexMatch,
    ast.RegexPatternSetReference,
    ast.SqliMatch,
    ast.XssMatch,
    ast.SizeConstraint,
)


def statement_code(
    statement: ast.Statement,
    cc: CompileContext,
    compile_statement: Callable[[ast.Statement, CompileContext], Matcher],
    src: Source,
    var: str,
    indent: int,
) -> None:
    """Lines that set `var` to whether `statement` matches (NotApplied propagates as an exception)."""
    member = ast.STATEMENT_NAMES[type(statement)]
    here = cc.at(member)
    if isinstance(statement, TEXT_STATEMENTS):
        leaf = cc.prefilter.leaf(statement, scanner=True) if cc.prefilter is not None else None
        if leaf is not None:
            # False when the request lacks its literals (wafpy.engine.prefilter): no search.
            hits = src.bind("prefilter", leaf[0].hits)
            src.emit(indent, f"if (memo.get({leaf[0].memo_key}) or {hits}(ctx)) & {leaf[1]}:")
            _text_leaf(statement, here, src, var, indent + 4)
            src.emit(indent, "else:", f"    {var} = False")
            return
        _text_leaf(statement, here, src, var, indent)
        return
    if isinstance(statement, (ast.And, ast.Or)) and not contains_geo(statement):
        # Short-circuit like the closures do: nested ifs, one level per child.
        test = "if {var}:" if isinstance(statement, ast.And) else "if not {var}:"
        for i, child in enumerate(statement.statements):
            statement_code(child, here.at(f"Statements[{i}]"), compile_statement, src, var, indent)
            if i < len(statement.statements) - 1:
                src.emit(indent, test.format(var=var))
                indent += 4
        return
    if isinstance(statement, ast.Not) and not contains_geo(statement):
        inner = src.temporary()
        # The inner statement's details would be thrown away: do not record them.
        statement_code(
            statement.statement,
            replace(here, record_details=False).at("Statement"),
            compile_statement,
            src,
            inner,
            indent,
        )
        src.emit(indent, f"{var} = not {inner}")
        if cc.record_details:
            detail = src.bind(
                "not_detail", MatchDetail("NotStatement", here.path, matched="inner statement did not match")
            )
            src.emit(indent, f"if {var}:", f"    details.append({detail})")
        return
    if (
        isinstance(statement, ast.IPSetReference)
        and statement.forwarded_ip_config is None
        and statement.ip_set is not None
    ):
        _ip_set(statement, here, src, var, indent)
        return
    matcher = src.bind("matcher", compile_statement(statement, cc))
    src.emit(indent, f"{var} = {matcher}(ctx)")


def _ip_set(statement: ast.IPSetReference, cc: CompileContext, src: Source, var: str, indent: int) -> None:
    """The client address (parsed once per request, as `client_address` memoises it) bisected into
    the set's merged ranges, inline; the detail is recorded by a call only on a match."""
    assert statement.ip_set is not None
    version = 6 if statement.ip_set.ip_address_version == "IPV6" else 4
    cidrs = CidrSet(statement.ip_set.addresses, version)
    starts, ends = src.bind("starts", cidrs._starts), src.bind("ends", cidrs._ends)
    if cc.record_details:
        path = cc.path

        def hit(ctx: EvalContext, address: tuple[int, int]) -> bool:
            text = ctx.request.client_ip.encode()
            found = cidrs.containing_cidr(address[1])
            ctx.details.append(MatchDetail("IPSetReferenceStatement", path, "CLIENT_IP", None, text, found))
            return True

        record = f"{src.bind('ip_hit', hit)}(ctx, a)"
    else:
        record = "True"
    parse = src.bind("parse_ip", parse_ip)
    bisect = src.bind("bisect", bisect_right)
    src.emit(
        indent,
        'a = memo.get("client_ip")',
        "if a is None:",
        f'    a = memo["client_ip"] = {parse}(request.client_ip) or (0, -1)',
        f"if a[0] == {version} and (i := {bisect}({starts}, a[1]) - 1) >= 0 and a[1] <= {ends}[i]:",
        f"    {var} = {record}",
        "else:",
        f"    {var} = False",
    )
