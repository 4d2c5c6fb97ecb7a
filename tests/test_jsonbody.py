from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafpy.matching.jsonbody import MAX_DEPTH, MAX_ITEMS, JsonSelector, extract, parse_pointer

DOC_EXAMPLE = b'{"a":{"c":"d","b":{"e":{"f":"g"}}}}'


def both(data: bytes, paths: list[str] | None, scope: str) -> tuple[list[bytes], bool]:
    """Run the fast path and the scanner; they must agree."""
    sel = JsonSelector(paths, scope)
    fast = sel(data)
    slow = sel(data, fast=False)
    assert fast == slow
    return fast.elements, fast.failed


@pytest.mark.parametrize(
    ("scope", "expected"),
    [("KEY", [b"e", b"f"]), ("VALUE", [b"g"]), ("ALL", [b"e", b"f", b"g"])],
)
def test_documented_a_b_example(scope: str, expected: list[bytes]) -> None:
    assert both(DOC_EXAMPLE, ["/a/b"], scope) == (expected, False)


@pytest.mark.parametrize(
    ("data", "paths", "scope", "expected"),
    [
        # All: the root is selected
        (b'{"k":"v","n":{"m":1}}', None, "ALL", [b"k", b"v", b"n", b"m", b"1"]),
        (b'{"k":"v","n":{"m":1}}', None, "KEY", [b"k", b"n", b"m"]),
        (b'{"k":"v","n":{"m":1}}', None, "VALUE", [b"v", b"1"]),
        (b'{"k":"v"}', ["/"], "ALL", [b"k", b"v"]),
        # A selected scalar yields one VALUE element and no key
        (b'{"profile":"isAdmin"}', ["/profile"], "KEY", []),
        (b'{"profile":"isAdmin"}', ["/profile"], "VALUE", [b"isAdmin"]),
        # Array indices
        (b'{"dogs":[{"name":"Rex"},{"name":"Fido"}]}', ["/dogs/0/name"], "VALUE", [b"Rex"]),
        (b'{"dogs":[{"name":"Rex"},{"name":"Fido"}]}', ["/dogs/1"], "ALL", [b"name", b"Fido"]),
        (b'{"dogs":[{"name":"Rex"}]}', ["/dogs/5/name"], "VALUE", []),
        (b'{"dogs":[{"name":"Rex"}]}', ["/dogs/00/name"], "VALUE", []),
        (b"[[1,2],[3]]", ["/0/1"], "VALUE", [b"2"]),
        # Pointers that resolve to nothing; escaped tokens; overlapping pointers count once
        (b'{"a":1}', ["/b"], "ALL", []),
        (b'{"a/b":"x","m~n":"y"}', ["/a~1b", "/m~0n"], "VALUE", [b"x", b"y"]),
        (b'{"a":{"b":"x"}}', ["/a", "/a/b"], "VALUE", [b"x"]),
        # Scalars: unescaped strings, literal numbers, words
        (
            b'["a\\"b", "\\u00e9", "\\ud83d\\ude00", "\\n\\/"]',
            None,
            "VALUE",
            [b'a"b', b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"\n/"],
        ),
        (
            b"[1.50, -0, 1E+5, 0.1e-2, 12345678901234567890]",
            None,
            "VALUE",
            [b"1.50", b"-0", b"1E+5", b"0.1e-2", b"12345678901234567890"],
        ),
        (b"[true, false, null]", None, "VALUE", [b"true", b"false", b"null"]),
        (b'{"\\u0061":1}', None, "KEY", [b"a"]),
        # Empty containers
        (b"{}", None, "ALL", []),
        (b" [ ] ", None, "ALL", []),
    ],
)
def test_extraction_table(data: bytes, paths: list[str] | None, scope: str, expected: list[bytes]) -> None:
    assert both(data, paths, scope) == (expected, False)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # The documented leniencies parse (no failure).
        (b'{"key1":"value1""key2":"value2"}', [b"key1", b"value1", b"key2", b"value2"]),
        (b'{"key1":"value1","key2""value2"}', [b"key1", b"value1", b"key2", b"value2"]),
        (b'{"key1"::"value1","key2""value2"}', [b"key1", b"value1", b"key2", b"value2"]),
        (b'{"a" : : 1 "b" 2}', [b"a", b"1", b"b", b"2"]),
        (b'{"a":1"b":{"c":[1 2 "x"]}}', [b"a", b"1", b"b", b"c", b"1", b"2", b"x"]),
    ],
)
def test_lenient_documents_parse(data: bytes, expected: list[bytes]) -> None:
    result = JsonSelector(None, "ALL")(data)
    assert (result.elements, result.failed) == (expected, False)


@pytest.mark.parametrize(
    ("data", "before_error"),
    [
        (b'{"a":"1","a":"2"}', [b"1"]),  # duplicate key
        (b'{"a":{"x":1,"x":2}}', [b"1"]),  # duplicate in a nested object
        (b'"just a string"', []),  # root is not an object or array
        (b"42", []),
        (b"null", []),
        (b"", []),
        (b"   ", []),
        (b'{"a":"b"', [b"b"]),  # truncated
        (b'{"a":"b', []),
        (b'{"a": @}', []),  # invalid character
        (b'{"note":"evil", @}', [b"evil"]),
        (b'{"note":"evil","x": @}', [b"evil"]),
        (b'{"x": @, "note":"evil"}', []),
        (b'{"a":1,,"b":2}', [b"1"]),  # doubled comma
        (b'{"a":1,}', [b"1"]),  # trailing comma
        (b"[1,]", [b"1"]),
        (b"[01]", []),
        (b"[truex]", []),
        (b"[NaN]", []),
        (b"[Infinity]", []),
        (b'["a\x01b"]', []),  # raw control character in a string
        (b'["\\x41"]', []),  # invalid escape
        (b'{"a":1} x', [b"1"]),  # data after the document
        (b'{"a":1}{"b":2}', [b"1"]),
        (b"\xef\xbb\xbf{}", []),  # BOM
    ],
)
def test_failures_keep_elements_parsed_before_the_error(data: bytes, before_error: list[bytes]) -> None:
    assert both(data, None, "VALUE") == (before_error, True)


def test_depth_limit() -> None:
    ok = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    too_deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    assert both(ok, None, "ALL") == ([], False)
    assert both(too_deep, None, "ALL") == ([], True)


def test_depth_limit_keeps_elements_before_the_error() -> None:
    data = b'{"a":"x","b":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    assert both(data, None, "VALUE") == ([b"x"], True)


def test_hostile_depth_does_not_recurse() -> None:
    data = b"[" * 200_000
    assert both(data, None, "ALL") == ([], True)


def test_item_limit() -> None:
    # The root container counts as one item: MAX_ITEMS - 1 values fit, one more does not.
    fits = b"[" + b",".join([b"1"] * (MAX_ITEMS - 1)) + b"]"
    over = b"[" + b",".join([b"1"] * MAX_ITEMS) + b"]"
    assert both(fits, None, "VALUE")[1] is False
    elements, failed = both(over, None, "VALUE")
    assert failed is True
    assert len(elements) == MAX_ITEMS - 1


def test_keys_count_toward_the_item_limit() -> None:
    half = MAX_ITEMS // 2
    data = b"{" + b",".join(b'"k%d":1' % i for i in range(half)) + b"}"
    assert both(data, None, "KEY")[1] is True


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [("/", ()), ("", ()), ("/a/b", (b"a", b"b")), ("/a~1b/~0", (b"a/b", b"~")), ("/a/", (b"a", b""))],
)
def test_parse_pointer(pointer: str, tokens: tuple[bytes, ...]) -> None:
    assert parse_pointer(pointer) == tokens


def test_bad_scope_rejected() -> None:
    with pytest.raises(ValueError, match="MatchScope"):
        JsonSelector(None, "KEYS")


def test_extract_convenience() -> None:
    assert extract(DOC_EXAMPLE, ["/a/b"], "VALUE").elements == [b"g"]


# ------------------------------------------------------------------------------------------------
# Properties

_json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
_json = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _expected_scalars(doc: Any) -> list[bytes]:
    out: list[bytes] = []
    todo = [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            todo.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            todo.extend(reversed(node))
        elif isinstance(node, str):
            out.append(node.encode("utf-8", "surrogatepass"))
        elif node is None or isinstance(node, bool):
            out.append(json.dumps(node).encode())
        else:
            out.append(json.dumps(node).encode())
    return out


def _expected_keys(doc: Any) -> list[bytes]:
    out: list[bytes] = []
    todo = [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                todo.append(value)
                todo.append(_Key(key))
        elif isinstance(node, list):
            todo.extend(reversed(node))
        elif isinstance(node, _Key):
            out.append(node.key.encode("utf-8", "surrogatepass"))
    return out


class _Key:
    def __init__(self, key: str) -> None:
        self.key = key


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _json, max_size=5) | st.lists(_json, max_size=5), st.booleans())
def test_valid_json_matches_json_loads(doc: Any, ascii_only: bool) -> None:
    data = json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    for fast in (True, False):
        values = JsonSelector(None, "VALUE")(data, fast=fast)
        keys = JsonSelector(None, "KEY")(data, fast=fast)
        assert values.failed is False and keys.failed is False
        assert values.elements == _expected_scalars(json.loads(data))
        assert keys.elements == _expected_keys(json.loads(data))


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_scanner_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    for fast in (True, False):
        result = JsonSelector(["/a", "/0/b"], "ALL")(data, fast=fast)
        assert isinstance(result.failed, bool)
        assert all(isinstance(e, bytes) for e in result.elements)


_json_tokens = st.sampled_from(
    [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b'"a"',
        b'"b"',
        b"1",
        b"-2.5e3",
        b"true",
        b"null",
        b" ",
        b'"\\u00e9"',
        b"@",
    ]
)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.lists(_json_tokens, max_size=40))
def test_scanner_never_raises_on_json_like_tokens_and_paths_agree(tokens: list[bytes]) -> None:
    data = b"".join(tokens)
    sel = JsonSelector(None, "ALL")
    fast = sel(data)
    slow = sel(data, fast=False)
    # Whenever the strict fast path accepts a document, the tolerant scanner reads it the same way.
    assert fast == slow
