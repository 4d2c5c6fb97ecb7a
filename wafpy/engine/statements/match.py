"""Statements that inspect a request component: ByteMatch, RegexMatch, RegexPatternSetReference,
SqliMatch, XssMatch and SizeConstraint.

Each compiles to one closure over a shared field extractor and transformation chain, so ten
rules reading `URL_DECODE, LOWERCASE` of the query string cost one decode per request.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from wafpy import model as ast
from wafpy.decision import MatchDetail
from wafpy.engine.context import EvalContext, Matcher
from wafpy.engine.statements.base import CompileContext
from wafpy.matching.fields import extractor
from wafpy.matching.regex import compile_regex, compile_regex_set
from wafpy.matching.transforms import chain

# A test returns the matched text (for the explanation and the log), a detector's tokens, or None.
Hit = bytes | tuple[str, ...]
Test = Callable[[bytes], Hit | None]
# A find runs a test over every element of a multi-valued component in one call: the index of
# the first matching element and what matched, or None.
Find = Callable[[list[bytes]], tuple[int, Hit] | None]


def _find_with(test: Test) -> Find:
    def find(elements: list[bytes]) -> tuple[int, Hit] | None:
        for i, value in enumerate(elements):
            hit = test(value)
            if hit is not None:
                return i, hit
        return None

    return find


def _byte_find(constraint: str, search: bytes, test: Test) -> Find:
    """Loops with the comparison inlined: no call per element for the common constraints."""
    if constraint == "CONTAINS":

        def contains(elements: list[bytes]) -> tuple[int, Hit] | None:
            for i, value in enumerate(elements):
                if search in value:
                    return i, search
            return None

        return contains
    if constraint == "EXACTLY":

        def exactly(elements: list[bytes]) -> tuple[int, Hit] | None:
            for i, value in enumerate(elements):
                if value == search:
                    return i, search
            return None

        return exactly
    return _find_with(test)


_WORD = b"A-Za-z0-9_"


def _byte_test(constraint: str, search: bytes) -> Test:
    if constraint == "EXACTLY":
        return lambda v: search if v == search else None
    if constraint == "STARTS_WITH":
        return lambda v: search if v.startswith(search) else None
    if constraint == "ENDS_WITH":
        return lambda v: search if v.endswith(search) else None
    if constraint == "CONTAINS":
        return lambda v: search if search in v else None
    if constraint == "CONTAINS_WORD":
        # Every occurrence is tried: `xBadBot BadBot` contains the word BadBot
        # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-string-match.html).
        word = re.compile(b"(?<![" + _WORD + b"])" + re.escape(search) + b"(?![" + _WORD + b"])")
        return lambda v: search if search in v and word.search(v) is not None else None
    raise ValueError(f"unknown PositionalConstraint {constraint}")


_SIZE_OPS: dict[str, Callable[[int, int], bool]] = {
    "EQ": operator.eq,
    "NE": operator.ne,
    "LE": operator.le,
    "LT": operator.lt,
    "GE": operator.ge,
    "GT": operator.gt,
}


def size_text(op_name: str, size: int) -> Callable[[bytes], bytes]:
    """What a matching SizeConstraint reports: `size 9 EQ 9`."""
    return lambda v: f"size {len(v)} {op_name} {size}".encode()


def _size_test(op_name: str, size: int) -> Test:
    op = _SIZE_OPS[op_name]
    text = size_text(op_name, size)

    def test(v: bytes) -> bytes | None:
        return text(v) if op(len(v), size) else None

    return test


# Components with exactly one element read straight from the request, without an extraction.
SINGLE_VALUED: dict[type[Any], str] = {ast.UriPath: "uri", ast.Method: "method", ast.QueryString: "query"}


def _field_matcher(
    statement_name: str,
    field: ast.FieldToMatch,
    transformations: ast.Transformations,
    pre_parse: ast.Transformations,
    cc: CompileContext,
    test: Test,
    *,
    find: Find | None = None,
    condition: str | None = None,
    sensitivity: str | None = None,
) -> Matcher:
    find = find or _find_with(test)
    ex = extractor(field, tuple(t.type for t in pre_parse), cc.body_limit)
    chain_types = tuple(t.type for t in transformations if t.type != "NONE")
    transform = chain(chain_types) if chain_types else None
    extract_key = cc.flags.intern(ex.key)
    plan = cc.flags.plan(ex.key, chain_types)
    values_key = plan[-1][0]
    path = cc.path
    record_details = cc.record_details
    reads_body = isinstance(field, (ast.Body, ast.JsonBody))
    if reads_body:
        cc.flags.needs_body = True

    def record(
        ctx: EvalContext, location: str, name: bytes | None, value: bytes, hit: bytes | tuple[str, ...]
    ) -> bool:
        if not record_details:
            return True
        tokens = hit if isinstance(hit, tuple) else ()
        text = ", ".join(tokens) if tokens else hit.decode("utf-8", "replace")  # type: ignore[union-attr]
        field_name = name.decode("latin-1") if name is not None else None
        ctx.details.append(
            MatchDetail(
                statement_name, path, location, field_name, value, text, condition, sensitivity, tokens
            )
        )
        return True

    attribute = SINGLE_VALUED.get(type(field))
    if attribute is not None:
        location = ex.location
        get_raw = operator.attrgetter(attribute)
        if transform is None:

            def match_raw(ctx: EvalContext) -> bool:
                value = get_raw(ctx.request)
                if value is None:
                    return False
                hit = test(value)
                return False if hit is None else record(ctx, location, None, value, hit)

            return match_raw

        # Its own keys: these memo entries hold bytes, not the Values tuples of `ctx.values`.
        single_plan = cc.flags.plan(("single", ex.key), chain_types)[1:]
        single_key = single_plan[-1][0]

        def match_single(ctx: EvalContext) -> bool:
            memo = ctx.memo
            value = memo.get(single_key)
            if value is None:
                value = get_raw(ctx.request)
                if value is None:
                    return False
                for key, step in single_plan:
                    # Reuse a prefix of the chain another rule computed (URL_DECODE, then LOWERCASE).
                    known = memo.get(key)
                    value = memo[key] = known if known is not None else step(value)  # type: ignore[misc]
            hit = test(value)
            return False if hit is None else record(ctx, location, None, value, hit)

        return match_single

    def match(ctx: EvalContext) -> bool:
        if reads_body and not ctx.request.body_available:
            # A log record carries no body, so AWS's answer cannot be known:
            # https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html
            ctx.not_evaluable.append(path)
            return False
        values = ctx.memo.get(values_key)
        if values is None:
            values = ctx.values(ex, extract_key, plan)
        forced, elements, names, location = values
        if forced is not None:
            if forced:
                ctx.details.append(
                    MatchDetail(statement_name, path, location, matched="(fallback or oversize)")
                )
            return forced
        found = find(elements)
        if found is None:
            return False
        i, hit = found
        return record(ctx, location, names[i] if names else None, elements[i], hit)

    return match


def byte_match(s: ast.ByteMatch, cc: CompileContext) -> Matcher:
    test = _byte_test(s.positional_constraint, s.search_string)
    return _field_matcher(
        "ByteMatchStatement",
        s.field_to_match,
        s.text_transformations,
        s.pre_parse_transformations,
        cc,
        test,
        find=_byte_find(s.positional_constraint, s.search_string, test),
    )


def regex_match(s: ast.RegexMatch, cc: CompileContext) -> Matcher:
    return _field_matcher(
        "RegexMatchStatement",
        s.field_to_match,
        s.text_transformations,
        s.pre_parse_transformations,
        cc,
        compile_regex(s.regex_string),
    )


def regex_pattern_set(s: ast.RegexPatternSetReference, cc: CompileContext) -> Matcher:
    if s.pattern_set is None:
        raise ValueError(f"regex pattern set {s.arn} was not resolved")
    return _field_matcher(
        "RegexPatternSetReferenceStatement",
        s.field_to_match,
        s.text_transformations,
        s.pre_parse_transformations,
        cc,
        compile_regex_set(s.pattern_set.patterns),
    )


def size_constraint(s: ast.SizeConstraint, cc: CompileContext) -> Matcher:
    return _field_matcher(
        "SizeConstraintStatement",
        s.field_to_match,
        s.text_transformations,
        s.pre_parse_transformations,
        cc,
        _size_test(s.comparison_operator, s.size),
    )


def sqli_match(s: ast.SqliMatch, cc: CompileContext) -> Matcher:
    sensitivity = s.sensitivity_level
    detect = cc.detector.sqli

    def test(v: bytes) -> tuple[str, ...] | None:
        found = detect(v, sensitivity)
        return found.matched if found is not None else None

    return _field_matcher(
        "SqliMatchStatement",
        s.field_to_match,
        s.text_transformations,
        s.pre_parse_transformations,
        cc,
        test,
        condition="SQL_INJECTION",
        sensitivity=sensitivity,
    )


def xss_match(s: ast.XssMatch, cc: CompileContext) -> Matcher:
    detect = cc.detector.xss

    def test(v: bytes) -> tuple[str, ...] | None:
        found = detect(v)
        return found.matched if found is not None else None

    return _field_matcher(
        "XssMatchStatement",
        s.field_to_match,
        s.text_transformations,
        s.pre_parse_transformations,
        cc,
        test,
        condition="XSS",
    )
