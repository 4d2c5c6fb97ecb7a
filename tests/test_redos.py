"""Every regular expression wafpy compiles runs in linear time: a table of generated worst cases.

The patterns are found, not listed. Every module under `wafpy` is imported and every `re.Pattern`
(or RE2 pattern) bound at module or class level, or held in a module-level tuple, list, set or
dict, is collected. Patterns compiled inside functions are found in the source with `ast`: a
literal pattern is compiled here from its text; any other must be listed in `_RUNTIME`, whose
factories call the real code (the API model's patterns, the CONTAINS_WORD word patterns, the
parser's run pattern and the grammar's terminals). A new pattern is tested the day it is added.

Each pattern runs on inputs built from its own parse tree (`re._parser`) and from generic hostile
alphabets:

* every character the pattern names, and generic ones (`a`, `0`, space, quotes, `\\`, `%`, ...),
  repeated;
* every prefix of a sample match, repeated: unclosed constructs such as `${${${` or `"\\"\\"\\"`;
* an opening followed by a repeated body, unclosed or broken by a stray byte: `"` + `a=/` * n,
  `"` + `\\a` * n + NUL;

at 1 KB, 10 KB and 100 KB, through `search`, `match`, `fullmatch` and `finditer` (`sub` and
`findall` do the regex work of `finditer`); the grammar's terminals through `match` only, the one
call lark's lexer makes. Times are CPU times compared within one run, never
against a number of seconds: ten times the input may cost at most `RATIO_LIMIT` times the time
(linear is about 10, quadratic 100). A screening pass times every family once at 1 KB and 10 KB;
the families that grew fastest, and the slowest ones, are then measured properly (best of
three) at all three sizes. A call that needs more than `CAP_FACTOR` times the CPU time of a
trivial linear regex on the same input size is stopped by a CPU timer and fails at once, so an
exponential pattern costs a few milliseconds, not a hung run.
"""

from __future__ import annotations

import ast
import collections
import gc
import importlib
import itertools
import pkgutil
import re
import signal
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

import wafpy

pytestmark = pytest.mark.slow  # timing checks of every regex in the package

# -- the verdict ------------------------------------------------------------------------------

SIZES = (1_000, 10_000, 100_000)
RATIO_LIMIT = 30.0  # t(10 n) / t(n): linear ~10, quadratic ~100
SCREEN_RATIO = 15.0  # screening: a family that grew more than this is measured properly
SCREEN_SLOWEST = 2  # ... and so are the slowest families of each method
CAP_FACTOR = 3000  # a call may cost this many times the trivial regex on the same size
MAX_FAILURES = 2  # per pattern: enough to show the problem without spending the run on it
METHODS = ("search", "match", "fullmatch", "finditer")

# -- collecting the patterns --------------------------------------------------------------------

_PATTERN_TYPES: tuple[type, ...] = (re.Pattern, re2._Regexp)


@dataclass(frozen=True)
class Target:
    """One compiled pattern and where it comes from."""

    ident: str  # "wafpy.matching.jsonbody:_WS", "wafpy.load.schema:_compiled('.*')"
    module: str
    pattern: Any  # re.Pattern[str] | re.Pattern[bytes] | re2._Regexp
    methods: tuple[str, ...] = ()  # the calls tried; empty: all of METHODS


def _modules() -> Iterator[Any]:
    yield wafpy
    for info in pkgutil.walk_packages(wafpy.__path__, "wafpy."):
        yield importlib.import_module(info.name)


def _source_tree(module: Any) -> ast.Module:
    return ast.parse(Path(module.__file__).read_text(encoding="utf-8"))


def _own_names(tree: ast.Module) -> set[str]:
    """Names a module binds itself at top level (imported names are walked where they are defined)."""
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _visit(value: Any, ident: str, module: str, found: dict[int, Target], depth: int = 0) -> None:
    if isinstance(value, _PATTERN_TYPES):
        found.setdefault(id(value), Target(ident, module, value))
    elif depth < 3 and isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        for i, item in enumerate(items[:10_000]):
            _visit(item, f"{ident}[{i}]", module, found, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for i, (key, item) in enumerate(itertools.islice(value.items(), 10_000)):
            label = repr(key) if isinstance(key, str | bytes | int) and len(repr(key)) < 24 else str(i)
            _visit(item, f"{ident}[{label}]", module, found, depth + 1)


def walk_patterns() -> list[Target]:
    """Every pattern bound at module or class level in wafpy, or held in such a container."""
    found: dict[int, Target] = {}
    for module in _modules():
        name = module.__name__
        for attr in sorted(_own_names(_source_tree(module))):
            value = getattr(module, attr, None)
            _visit(value, f"{name}:{attr}", name, found)
            if isinstance(value, type) and value.__module__ == name:
                for member, item in vars(value).items():
                    _visit(item, f"{name}:{attr}.{member}", name, found)
    return list(found.values())


# -- patterns compiled at run time ----------------------------------------------------------------

# The `re` functions that compile their first argument, with the position of their flags argument.
_COMPILING = {"compile": 1, "search": 2, "match": 2, "fullmatch": 2, "finditer": 2, "findall": 2,
              "split": 3, "sub": 4, "subn": 4}  # fmt: skip


@dataclass(frozen=True)
class Site:
    """A call of `re.compile` (or another compiling `re` function) inside a function body."""

    module: str
    function: str  # qualified name of the enclosing function
    line: int
    literal: tuple[str | bytes, int] | None  # (pattern, flags) when both are literals

    @property
    def key(self) -> str:
        return f"{self.module}:{self.function}"


def _literal(node: ast.expr, names: dict[str, Any]) -> Any:
    """The value of a constant expression (strings, flags, `+`, `|`), or raise ValueError."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes | int):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "re":
        return getattr(re, node.attr)
    if isinstance(node, ast.Name) and isinstance(names.get(node.id), str | bytes | int):
        return names[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.BitOr):
        left, right = _literal(node.left, names), _literal(node.right, names)
        return left + right if isinstance(node.op, ast.Add) else left | right
    raise ValueError("not a literal")


class _SiteFinder(ast.NodeVisitor):
    def __init__(self, module: Any) -> None:
        self.module = module
        self.scope: list[str] = []
        self.depth = 0  # function nesting
        self.sites: list[Site] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        # Decorators and defaults run in the enclosing scope; only the body runs later.
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self.scope.append(getattr(node, "name", "<lambda>"))
        self.depth += 1
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            self.visit(statement)
        self.depth -= 1
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            self.depth
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and (func.value.id, func.attr) in {("re", n) for n in _COMPILING} | {("re2", "compile")}
            and node.args
        ):
            literal: tuple[str | bytes, int] | None
            try:
                names = vars(self.module)
                flags_at = _COMPILING.get(func.attr, 1)
                flags = [kw.value for kw in node.keywords if kw.arg in ("flags", "options")]
                flags += node.args[flags_at : flags_at + 1]
                literal = (_literal(node.args[0], names), _literal(flags[0], names) if flags else 0)
            except (ValueError, TypeError):
                literal = None
            self.sites.append(Site(self.module.__name__, ".".join(self.scope), node.lineno, literal))
        self.generic_visit(node)


def runtime_sites() -> list[Site]:
    sites = []
    for module in _modules():
        finder = _SiteFinder(module)
        finder.visit(_source_tree(module))
        sites.extend(finder.sites)
    return sites


def _schema_patterns() -> list[Target]:
    """The API model's patterns, compiled by the function the validator calls."""
    from wafpy.load import schema

    shapes = [*schema._raw()["shapes"].values(), *schema._EXTRA_SHAPES.values()]
    texts = sorted({s["pattern"] for s in shapes if "pattern" in s})
    return [
        Target(f"wafpy.load.schema:_compiled({t!r})", "wafpy.load.schema", schema._compiled(t)) for t in texts
    ]


def _run_item(parser: Any) -> re.Pattern[str]:
    """The item pattern kept on the parser's inline transformer (wafpy's own builder class, which
    lark's annotations do not know: they type the transformer as a lark Transformer)."""
    pattern: re.Pattern[str] | None = parser.options.transformer.run_item
    assert pattern is not None  # set as soon as the parser is built
    return pattern


def _parse_patterns() -> list[Target]:
    """The MORE_SCALARS run pattern, and every terminal of the grammar as lark compiles it.

    Lark's lexer only ever matches a terminal at a position (`match(text, pos)`), so that is the
    call tried on the terminals; a search for `"(...)*"` would rescan from every quote.
    """
    from wafpy.load import parse

    parser = parse._parser()
    found = [Target("wafpy.load.parse:_parser(run_item)", "wafpy.load.parse", _run_item(parser))]
    for terminal in parser.terminals:
        flags = 0
        for flag in terminal.pattern.flags:
            flags |= getattr(re, flag.upper())
        compiled = re.compile(terminal.pattern.to_regexp(), flags)
        found.append(
            Target(f"grammars/webacl.lark:{terminal.name}", "wafpy.load.parse", compiled, ("match",))
        )
    return found


# Search strings for CONTAINS_WORD: plain, one byte, a long run of one byte (most overlap), markup.
_WORDS = (b"BadBot", b"a", b"a" * 64, b"<script>", b"' or 1=1 --")


def _inline_word_patterns() -> list[Target]:
    from wafpy import model as waf_ast
    from wafpy.engine import inline

    found = []
    for word in _WORDS:
        statement = waf_ast.ByteMatch(word, waf_ast.UriPath(), "CONTAINS_WORD", ())
        src = inline.Source(names={})
        inline._test(statement, src)
        bound = [
            v.__self__ for v in src.names.values() if isinstance(getattr(v, "__self__", None), re.Pattern)
        ]
        assert len(bound) == 1, src.names
        found.append(Target(f"wafpy.engine.inline:_test({word!r})", "wafpy.engine.inline", bound[0]))
    return found


def _match_word_patterns() -> list[Target]:
    from wafpy.engine.statements import match

    found = []
    for word in _WORDS:
        test = match._byte_test("CONTAINS_WORD", word)
        cells = [c.cell_contents for c in test.__closure__ or ()]
        patterns = [c for c in cells if isinstance(c, re.Pattern)]
        assert len(patterns) == 1, cells
        found.append(
            Target(
                f"wafpy.engine.statements.match:_byte_test({word!r})",
                "wafpy.engine.statements.match",
                patterns[0],
            )
        )
    return found


# Every function that compiles a non-literal pattern: a factory that calls it for real, or the
# reason its patterns are already covered.
_RUNTIME: dict[str, Callable[[], list[Target]] | str] = {
    "wafpy.load.schema:_compiled": _schema_patterns,
    "wafpy.load.parse:_parser": _parse_patterns,
    "wafpy.engine.inline:_test": _inline_word_patterns,
    "wafpy.engine.statements.match:_byte_test": _match_word_patterns,
    "wafpy.matching.detectors.sqli:_compiled": "called at import; compiles the module-level _LOW and _HIGH",
    "wafpy.matching.detectors.sqli_reading:Reading._next": "re.escape of a delimiter: a literal, one pass",
}


def runtime_patterns() -> list[Target]:
    targets = []
    for site in runtime_sites():
        if site.literal is not None:
            text, flags = site.literal
            ident = f"{site.key}:{site.line}"
            targets.append(Target(ident, site.module, re.compile(text, flags)))
    for factory in _RUNTIME.values():
        if callable(factory):
            targets.extend(factory())
    return targets


def all_targets() -> list[Target]:
    seen: set[tuple[Any, int, type]] = set()
    out = []
    for target in walk_patterns() + runtime_patterns():
        p = target.pattern
        key = (p.pattern, getattr(p, "flags", 0), type(p))
        if key not in seen:  # the same text and flags compile to the same program
            seen.add(key)
            out.append(target)
    return out


# -- generating inputs from a pattern -------------------------------------------------------------

MAX_SAMPLES = 12
GENERIC_CHARS = "a0 \t\n\x00\"'`\\%&=<>/-;,:#é"
GENERIC_UNITS = ("a=/", "<a ", "a ", '\\"', "\\x", "%2", "&#", "${", "/*", "--", "a=", "0x", "\\u")
_OTHER = "a0 !x-\t\n\"'<>=/\\%&;:é"
_CATEGORY: dict[Any, tuple[str, Callable[[str], bool]]] = {
    sre.CATEGORY_DIGIT: ("0", str.isdigit),
    sre.CATEGORY_NOT_DIGIT: ("a", lambda c: not c.isdigit()),
    sre.CATEGORY_SPACE: (" ", str.isspace),
    sre.CATEGORY_NOT_SPACE: ("a", lambda c: not c.isspace()),
    sre.CATEGORY_WORD: ("a", lambda c: c.isalnum() or c == "_"),
    sre.CATEGORY_NOT_WORD: (" ", lambda c: not (c.isalnum() or c == "_")),
    sre.CATEGORY_LINEBREAK: ("\n", lambda c: c == "\n"),
    sre.CATEGORY_NOT_LINEBREAK: ("a", lambda c: c != "\n"),
}
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


@dataclass
class Shape:
    """What the parse tree tells about worst cases: its characters, loop bodies and sample matches."""

    chars: dict[str, None] = field(default_factory=dict)  # ordered set
    loops: dict[str, None] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)


def _in_class(items: list[tuple[Any, Any]], ch: str) -> bool:
    for op, av in items:
        if (op is sre.LITERAL and chr(av) == ch) or (op is sre.RANGE and av[0] <= ord(ch) <= av[1]):
            return True
        if op is sre.CATEGORY and av in _CATEGORY and _CATEGORY[av][1](ch):
            return True
    return False


def _class_sample(items: list[tuple[Any, Any]], shape: Shape) -> str:
    negate = bool(items) and items[0][0] is sre.NEGATE
    members = items[1:] if negate else items
    for op, av in members:
        if op is sre.LITERAL:
            shape.chars[chr(av)] = None
        elif op is sre.RANGE:
            shape.chars[chr(av[0])] = shape.chars[chr(av[1])] = None
        elif op is sre.CATEGORY and av in _CATEGORY:
            shape.chars[_CATEGORY[av][0]] = None
    if negate:
        return next((c for c in _OTHER if not _in_class(members, c)), "a")
    for op, av in members:
        if op is sre.LITERAL:
            return chr(av)
        if op is sre.RANGE:
            return chr(av[0])
        if op is sre.CATEGORY and av in _CATEGORY:
            return _CATEGORY[av][0]
    return "a"


def _sequence(items: Any, shape: Shape) -> list[str]:
    out = [""]
    for op, av in items:
        options = _item(op, av, shape)
        out = list(dict.fromkeys(a + b for a in out for b in options))[:MAX_SAMPLES]
    return out


def _item(op: Any, av: Any, shape: Shape) -> list[str]:
    if op is sre.LITERAL:
        shape.chars[chr(av)] = None
        return [chr(av)]
    if op is sre.NOT_LITERAL:
        shape.chars[chr(av)] = None
        return [next(c for c in _OTHER if c != chr(av))]
    if op is sre.ANY:
        return ["a"]
    if op is sre.IN:
        return [_class_sample(av, shape)]
    if op is sre.BRANCH:
        return list(dict.fromkeys(s for alt in av[1] for s in _sequence(alt, shape)))[:MAX_SAMPLES]
    if op is sre.SUBPATTERN:
        return _sequence(av[3], shape)
    if op is sre.ATOMIC_GROUP:
        return _sequence(av, shape)
    if op in _REPEATS:
        low, high, body = av
        bodies = _sequence(body, shape)
        shape.loops.update(dict.fromkeys(b for b in bodies if b))
        if high == 0:
            return [""]
        count = min(max(low, 1), high, 64)
        return [b * count for b in bodies] + ([""] if low == 0 else [])
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        _sequence(av[1], shape)  # its characters still belong to the alphabet
        return [""]
    if op is sre.GROUPREF_EXISTS:
        return _sequence(av[1], shape) + (_sequence(av[2], shape) if av[2] else [""])
    return [""]  # AT (anchors), GROUPREF


def shape_of(pattern: Any) -> Shape:
    shape = Shape()
    text = pattern.pattern
    try:
        tree = sre_parse.parse(text, getattr(pattern, "flags", 0))
        shape.samples = _sequence(tree, shape)
    except re.error:  # an RE2 pattern in a syntax sre does not read: its characters still help
        shape.chars.update(dict.fromkeys(text if isinstance(text, str) else text.decode("latin-1")))
    return shape


@dataclass(frozen=True)
class Family:
    """An input shape: `prefix + unit * k + suffix`, for a k that makes the requested size."""

    prefix: str
    unit: str
    suffix: str = ""

    def build(self, size: int) -> str:
        count = max(1, -(-(size - len(self.prefix) - len(self.suffix)) // len(self.unit)))
        return self.prefix + self.unit * count + self.suffix

    def __str__(self) -> str:
        parts = [repr(self.prefix)] if self.prefix else []
        parts.append(f"{self.unit!r}*n")
        if self.suffix:
            parts.append(repr(self.suffix))
        return " + ".join(parts)


def _root(unit: str) -> str:
    """The shortest string whose repetition is `unit` (`abab` -> `ab`)."""
    for n in range(1, len(unit)):
        if len(unit) % n == 0 and unit[:n] * (len(unit) // n) == unit:
            return unit[:n]
    return unit


def families(pattern: Any) -> list[Family]:
    """The input shapes tried on one pattern (a few dozen to a few hundred)."""
    shape = shape_of(pattern)
    binary = isinstance(pattern.pattern, bytes)
    chars = list(shape.chars)
    special = [c for c in chars if not c.isalnum()]
    alphabet = list(dict.fromkeys(special[:16] + chars[:24] + list(GENERIC_CHARS)))
    if not binary:
        alphabet.append("\u3042")  # a character beyond Latin-1
    prefixes = list(dict.fromkeys(s[:k] for s in shape.samples for k in range(1, min(len(s), 12) + 1)))[:32]
    openings = list(dict.fromkeys(s[:k] for s in shape.samples for k in range(1, min(len(s) - 1, 8) + 1)))
    openings = sorted(openings, key=len)[:3]
    loops = [u for u in shape.loops if len(u) <= 16][:10]
    breaker = next((c for c in "\x00!~\x7f#" if c not in shape.chars), "\x00")
    out: dict[Family, None] = {}
    for unit in alphabet + prefixes + loops + list(GENERIC_UNITS):
        out[Family("", _root(unit))] = None
    for unit in loops + list(GENERIC_UNITS):
        out[Family("", _root(unit), breaker)] = None
        for opening in openings:
            out[Family(opening, _root(unit))] = None
    for unit, opening in itertools.product(loops, openings):
        out[Family(opening, _root(unit), breaker)] = None
    if binary:
        return [f for f in out if all(ord(c) < 256 for c in f.prefix + f.unit + f.suffix)]
    return list(out)


# -- timing -----------------------------------------------------------------------------------------


class TooSlow(Exception):
    """A call ran past its CPU budget."""


# The CPU time (of this thread) at which the call being timed is stopped. Thread CPU time, not
# process CPU time: the process clock is unreliable here while a profiling timer is armed.
_deadline_ns = 0


def _on_timer(signum: int, frame: Any) -> None:
    remaining = _deadline_ns - time.thread_time_ns()
    if remaining <= 0:
        raise TooSlow
    signal.setitimer(signal.ITIMER_PROF, max(remaining / 1e9, 1e-3))  # fired early: wait on


@contextmanager
def cpu_guard() -> Iterator[None]:
    """Let `timed` stop a runaway call (sre checks for signals while it backtracks)."""
    if threading.current_thread() is not threading.main_thread():  # signals need the main thread
        yield
        return
    previous = signal.signal(signal.SIGPROF, _on_timer)
    collecting = gc.isenabled()
    gc.disable()  # a full collection inside one timed call would look like super-linear growth
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if collecting:
            gc.enable()


def _runner(pattern: Any, method: str) -> Callable[[Any], object]:
    if method == "finditer":
        finditer = pattern.finditer
        return lambda text: collections.deque(finditer(text), maxlen=0)
    bound: Callable[[Any], object] = getattr(pattern, method)
    return bound


def timed(
    run: Callable[[Any], object], text: Any, cap_ns: int, repeats: int = 1, forgive: bool = False
) -> int:
    """Best CPU time in ns of `repeats` calls; TooSlow as soon as a call passes `cap_ns`.

    With `forgive`, one call over the cap is forgiven if a repeat stays under it: the first call
    on a larger input also pays for page faults of memory it is the first to use.
    """
    global _deadline_ns
    best = None
    stopped = 0
    guarded = signal.getsignal(signal.SIGPROF) is _on_timer
    for _ in range(repeats):
        try:
            start = time.thread_time_ns()
            if guarded:
                _deadline_ns = start + cap_ns
                signal.setitimer(signal.ITIMER_PROF, cap_ns / 1e9)
            run(text)
            elapsed = time.thread_time_ns() - start
        except TooSlow:
            elapsed = cap_ns + 1
        finally:
            if guarded:
                signal.setitimer(signal.ITIMER_PROF, 0)
        if elapsed > cap_ns:
            stopped += 1
            if stopped > forgive or stopped == repeats:
                raise TooSlow
            continue
        best = elapsed if best is None else min(best, elapsed)
    if best is None:
        raise TooSlow
    return max(best, 1)


_BASELINE = re.compile(r"(?:ab|cd)e")  # one cheap attempt per position, nothing to backtrack into


@dataclass(frozen=True)
class Budget:
    """Per size, the CPU time a call may take before it is stopped: CAP_FACTOR x a trivial regex."""

    cap_ns: dict[int, int]

    @classmethod
    def measure(cls) -> Budget:
        run = _runner(_BASELINE, "finditer")
        with cpu_guard():
            base = {n: timed(run, "ab" * (n // 2), 10**12, repeats=5) for n in SIZES}
        per_byte = max(base[n] / n for n in SIZES[1:])  # ignore the 1 KB call overhead
        return cls({n: int(CAP_FACTOR * max(base[n], per_byte * n)) for n in SIZES})


@dataclass
class Row:
    method: str
    family: Family
    times: dict[int, int | None] = field(default_factory=dict)  # None: stopped by the CPU timer
    verdict: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict != "linear"


def _measure(
    row: Row,
    run: Callable[[Any], object],
    inputs: dict[int, Any],
    budget: Budget,
    sizes: tuple[int, ...] = SIZES,
    repeats: int = 3,
    forgive: bool = False,
) -> None:
    """Best of `repeats` at each size, stopping as soon as the growth is already too steep.

    A call is stopped at CAP_FACTOR times the trivial regex, or at the allowed growth over the
    previous size: past that the verdict is known and the rest of the call is wasted time.
    """
    row.times = {}
    previous: tuple[int, int] | None = None  # (size, ns)
    for size in sizes:
        cap = budget.cap_ns[size]
        steep = int(previous[1] * RATIO_LIMIT) if previous else cap
        try:
            row.times[size] = elapsed = timed(run, inputs[size], min(cap, steep), repeats, forgive)
        except TooSlow:
            row.times[size] = None
            if previous and steep < cap:
                row.verdict = f"over x{RATIO_LIMIT:.0f} from {previous[0] // 1000} KB to {size // 1000} KB"
            else:
                row.verdict = f"over {CAP_FACTOR}x the trivial regex at {size // 1000} KB"
            return
        if previous and elapsed / previous[1] > RATIO_LIMIT:
            row.verdict = f"x{elapsed / previous[1]:.0f} from {previous[0] // 1000} KB to {size // 1000} KB"
            return
        previous = (size, elapsed)
    row.verdict = "linear"


def check_pattern(pattern: Any, budget: Budget, methods: tuple[str, ...] = METHODS) -> list[Row]:
    """The measured rows for one pattern (a row that failed has `failed` set).

    Screening times each family once at 1 KB and 10 KB; the families that grew by more than
    SCREEN_RATIO, and the SCREEN_SLOWEST slowest of each method, are then measured at all sizes.
    After MAX_FAILURES failures the pattern's verdict is known and the rest is skipped.
    """
    binary = isinstance(pattern.pattern, bytes)
    built: dict[tuple[Family, int], Any] = {}

    def inputs(family: Family, sizes: tuple[int, ...]) -> dict[int, Any]:
        for n in sizes:
            if (family, n) not in built:
                text = family.build(n)
                built[family, n] = text.encode("latin-1") if binary else text
        return {n: built[family, n] for n in sizes}

    fams = families(pattern)
    rows: list[Row] = []
    failures = 0
    with cpu_guard():
        for method in methods:
            run = _runner(pattern, method)
            screened: list[Row] = []
            for family in fams:
                if failures + sum(r.failed for r in screened) >= MAX_FAILURES:
                    break
                row = Row(method, family)
                _measure(row, run, inputs(family, SIZES[:2]), budget, SIZES[:2], repeats=1)
                screened.append(row)
            by_time = sorted(screened, key=lambda r: r.times.get(SIZES[1]) or float("inf"))
            chosen = {id(r) for r in by_time[-SCREEN_SLOWEST:]}
            for row in screened:
                t1, t10 = row.times.get(SIZES[0]), row.times.get(SIZES[1])
                steep = row.failed or t1 is None or t10 is None or t10 / t1 > SCREEN_RATIO
                if failures >= MAX_FAILURES or not (steep or id(row) in chosen):
                    continue
                # A row that failed the screening is confirmed by this measurement; any other
                # row gets a second chance, as one slow call may be the machine, not the pattern.
                _measure(row, run, inputs(row.family, SIZES), budget, forgive=not row.failed)
                failures += row.failed
                rows.append(row)
    return rows


def _fmt_time(ns: int | None, ran: bool) -> str:
    if not ran:
        return "-"
    if ns is None:
        return "stopped"
    return f"{ns / 1e3:.0f} us" if ns < 10**6 else f"{ns / 1e6:.1f} ms"


def table(target: Target, rows: list[Row]) -> str:
    """The failing rows as a readable table."""
    shown = repr(target.pattern.pattern)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    header = ("method", "input family", *(f"{n // 1000} KB" for n in SIZES), "verdict")
    lines = [
        (r.method, str(r.family)[:60], *(_fmt_time(r.times.get(n), n in r.times) for n in SIZES), r.verdict)
        for r in rows
        if r.failed
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=False)]
    out = [f"{target.ident} (module {target.module}) is super-linear", f"pattern: {shown}"]
    for line in [header, *lines]:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))
    return "\n".join(out)


# -- the tests ------------------------------------------------------------------------------------

TARGETS = all_targets()


def _param(target: Target) -> Any:
    return pytest.param(target, id=target.ident)


@pytest.fixture(scope="module")
def budget() -> Budget:
    return Budget.measure()


@pytest.mark.parametrize("target", [_param(t) for t in TARGETS])
def test_pattern_runs_in_linear_time(target: Target, budget: Budget) -> None:
    rows = check_pattern(target.pattern, budget, target.methods or METHODS)
    assert rows, "every pattern gets at least its slowest families measured at all sizes"
    assert not any(r.failed for r in rows), table(target, rows)


def test_every_pattern_compiled_in_a_function_is_covered() -> None:
    """A pattern compiled at run time from a non-literal is invisible to the walker: list it."""
    needed = {s.key for s in runtime_sites() if s.literal is None}
    assert needed - set(_RUNTIME) == set(), "compiled at run time, not covered by _RUNTIME"
    assert set(_RUNTIME) - needed == set(), "_RUNTIME lists a function that no longer compiles"


def test_the_walker_sees_module_class_and_container_patterns() -> None:
    idents = {t.ident for t in TARGETS}
    assert {
        "wafpy.matching.jsonbody:_WS",
        "wafpy.logs.alblog:_TOKEN",
        "wafpy.matching.decoders:_CSS_ESCAPE",
    } <= idents
    assert any(i.startswith("wafpy.load.schema:_compiled(") for i in idents)
    assert any(i.startswith("wafpy.engine.inline:_test(") for i in idents)
    assert any(i.startswith("wafpy.load.parse:_parser(run_item") for i in idents)
    assert len(TARGETS) > 50


# The harness itself: a known exponential, a known quadratic and a linear pattern.
@pytest.mark.parametrize(
    ("text", "linear"),
    [
        (r"\$\{[^}]*\}", False),  # ${${${... : every start scans to the end
        (r"(?:a|a)*b", False),  # exponential on a*n
        (r"[a-z]++\d", False),  # a*n: possessive does not help, the restarts are the cost
        (r"\d+", True),
    ],
)
def test_the_harness_tells_linear_from_super_linear(text: str, linear: bool, budget: Budget) -> None:
    target = Target(f"sample {text}", __name__, re.compile(text))
    rows = check_pattern(target.pattern, budget)
    assert (not any(r.failed for r in rows)) is linear, table(target, rows)


# -- the linear spellings answer as the old ones did ----------------------------------------------
# A pattern rewritten to run in linear time keeps its answers: the old spelling is kept here as
# the reference and both run on generated text.


def _old_read_string(data: bytes) -> tuple[bytes, int] | None:
    from wafpy.matching import jsonbody

    m = jsonbody._PLAIN_STRING.match(data)
    if m is not None:
        return m.group(1), m.end()
    m = re.compile(rb'"((?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*)"').match(data)
    return None if m is None else (jsonbody._ESCAPE.sub(jsonbody._unescape_one, m.group(1)), m.end())


def _json_string(text: str) -> tuple[object, object]:
    from wafpy.matching import jsonbody

    data = ('"' + text).encode("latin-1")
    return _old_read_string(data), jsonbody._read_string(data, 0)


def _fn_sub(text: str) -> tuple[object, object]:
    from wafpy.load import cloudformation

    def var(m: re.Match[str]) -> str:
        return f"<{m.group(1)}|{m.group(2)}>"

    old = re.compile(r"\$\{(!?)([^}]*)\}").sub(var, text)
    return old, cloudformation._SUB_VAR.sub(lambda m: var(m) if m.group(3) else m.group(), text)


def _match_end(pattern: re.Pattern[bytes], data: bytes, pos: int) -> int:
    found = pattern.match(data, pos)
    return 0 if found is None else found.end()  # both patterns below also match the empty string


def _json_colons(text: str) -> tuple[object, object]:
    from wafpy.matching import jsonbody

    data = text.encode("latin-1")
    ends = [
        _match_end(p, data, i)
        for p in (re.compile(rb"[ \t\r\n]*(?::[ \t\r\n]*)*"), jsonbody._COLONS)
        for i in range(len(data))
    ]
    return ends[: len(data)], ends[len(data) :]


def _whole(old: str | bytes, module: str, name: str) -> Callable[[str], tuple[object, object]]:
    """An old `\\Z`-anchored pattern tried with match, against its new spelling tried with fullmatch."""

    def both(text: str) -> tuple[object, object]:
        new = getattr(importlib.import_module(module), name)
        arg: str | bytes = text.encode("latin-1") if isinstance(old, bytes) else text
        return re.compile(old).match(arg) is not None, new.fullmatch(arg) is not None  # type: ignore[arg-type]

    return both


def _start(old: str | bytes, module: str, name: str) -> Callable[[str], tuple[object, object]]:
    """An old line-start pattern tried with match, against its `\\A`-anchored spelling."""

    def both(text: str) -> tuple[object, object]:
        new = getattr(importlib.import_module(module), name)
        arg: str | bytes = text.encode("latin-1") if isinstance(old, bytes) else text
        old_m, new_m = re.compile(old).match(arg), new.match(arg)  # type: ignore[arg-type]
        return old_m and old_m.group(), new_m and new_m.group()

    return both


def _run_items(text: str) -> tuple[object, object]:
    from wafpy.load import parse

    scalar = parse._parser().get_terminal("SCALAR").pattern.to_regexp()
    old = re.compile(f"[ \\t\\n\\r]*,[ \\t\\n\\r]*({scalar})")
    new = _run_item(parse._parser())
    return [m.span(1) for m in old.finditer(text)], [m.span(1) for m in new.finditer(text)]


# name: (text prefix, pieces the rest is made of, old and new answers)
_REWRITES: dict[str, tuple[str, str | tuple[str, ...], Callable[[str], tuple[object, object]]]] = {
    "jsonbody string": (
        "",
        (
            '"',
            "\\",
            '\\"',
            "\\u",
            "\\u00e9",
            "\\uD83D\\uDE00",
            "\\uDE00",
            "\\n",
            "\\x",
            "a",
            "F",
            "0",
            "\x01",
            "\xe9",
        ),
        _json_string,
    ),
    "jsonbody colons": ("", " :\t\r\na", _json_colons),
    "Fn::Sub": ("", ("${", "${!", "}", "!", "a", "$", "{"), _fn_sub),
    "validate identifier": (
        "",
        "aZ_-0 .\n",
        _whole(r"[A-Za-z_][A-Za-z0-9_\-]*\Z", "wafpy.load.validate", "_IDENT"),
    ),
    "CONTAINS_WORD bytes": (
        "",
        "aZ_0 -\n",
        _whole(rb"[A-Za-z0-9_]+\Z", "wafpy.load.semantics", "_WORD_BYTES"),
    ),
    "base64": ("", "aZ09+/= \n-", _whole(r"[A-Za-z0-9+/]*={0,2}\Z", "wafpy.load.semantics", "_BASE64")),
    "YAML start": (
        "",
        "-%YAMLa_:. \n\t",
        _start(r"(?:---|%YAML|[A-Za-z_][\w:.-]*\s*:(?:\s|$)|-\s)", "wafpy.load.documents", "_YAML_START"),
    ),
    "Classic ELB line": (
        "2024-01-01T",
        "a :0\n",
        _start(rb"\d{4}-\d\d-\d\dT\S+ \S+ \S+:\d+ ", "wafpy.logs.alblog", "_ELB_START"),
    ),
    "MORE_SCALARS items": (
        "",
        (",", " ", "\n", '"', '"a"', '"\\"', "\\", "1", "-0.5e3", "true", "nul"),
        _run_items,
    ),
}


@pytest.mark.parametrize("name", sorted(_REWRITES))
@given(data=st.data())
@settings(max_examples=200, deadline=None)
def test_linear_spellings_answer_as_before(name: str, data: st.DataObject) -> None:
    prefix, pieces, both = _REWRITES[name]
    text = prefix + "".join(data.draw(st.lists(st.sampled_from(pieces), max_size=24)))
    old, new = both(text)
    assert old == new


def _schema_texts() -> list[str]:
    from wafpy.load import schema

    return sorted({s["pattern"] for s in schema._raw()["shapes"].values() if "pattern" in s})


@given(data=st.data())
@settings(max_examples=500, deadline=None)
def test_model_patterns_anchored_answer_as_before(data: st.DataObject) -> None:
    from wafpy.load import schema

    pattern = data.draw(st.sampled_from(_schema_texts()))
    alphabet = "".join(dict.fromkeys(c for c in pattern if c.isprintable())) + " \n\t0a"
    text = data.draw(st.text(alphabet, max_size=30))
    assert _java_matches(pattern, text) == (schema._compiled(pattern).fullmatch(text) is not None)


def _java_matches(pattern: str, text: str) -> bool:
    """Java's `String.matches`, by Python's `re` (ASCII `\\w`, `\\s` with the vertical tab).

    `re` has no `\\p{...}`: the model's one such pattern, a class of them and literal characters,
    is read by Unicode category instead.
    """
    if "\\p{" in pattern:
        literals = re.sub(r"\\p\{[LZN]\}", "", pattern.removeprefix("^([").removesuffix("]*)$"))
        literals = literals.replace("\\", "")
        return all(c in literals or unicodedata.category(c)[0] in "LZN" for c in text)
    return re.fullmatch(pattern, text, re.ASCII | re.DOTALL) is not None
