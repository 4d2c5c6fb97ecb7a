"""The package is laid out by stage, and data flows one way through the stages.

Every module belongs to one stage. A module imports only from its own stage or from an earlier
one, never from a later stage, and two stages of the same rank (load and engine; middleware and
replay) never import each other. No import cycle exists, counting the imports made inside
functions and under `TYPE_CHECKING`, which hide cycles from the interpreter. Each module also
imports on its own, with no other wafpy module loaded before it, and none is over 500 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wafpy"

# (stage, module prefixes, rank): a module may import from a stage of lower rank, or from its own.
STAGES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    (
        "vocabulary",
        (
            "wafpy._version",
            "wafpy.errors",
            "wafpy.model",
            "wafpy._requestparts",
            "wafpy.request",
            "wafpy.decision",
            "wafpy.loggedgroups",
        ),
        0,
    ),
    ("matching", ("wafpy.matching",), 1),
    ("load", ("wafpy.load",), 2),
    ("engine", ("wafpy.engine",), 2),
    ("facade", ("wafpy.webacl",), 3),
    ("logs", ("wafpy.logs",), 4),
    ("middleware", ("wafpy.middleware",), 5),
    ("replay", ("wafpy.replay",), 5),
    # Web ACL unit tests: the case files and the pytest plugin that collects them.
    ("testing", ("wafpy.testing",), 5),
    # Replays on Apache Spark: the replay's evaluation, in Spark tasks.
    ("spark", ("wafpy.spark",), 6),
    ("cli", ("wafpy.cli",), 7),
    ("package", ("wafpy",), 8),  # the package root re-exports; nothing inside imports it
)


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules one import statement loads (`from a import b` loads a.b if it is one)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    submodules = {f"{source}.{alias.name}" for alias in node.names} & known
    names_only = len(submodules) < len(node.names)
    return submodules | ({source} if names_only and source in known else set())


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its text (functions included)."""
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found |= _targets(node, module, path.name == "__init__.py", known)
        graph[module] = found - {module}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def stage_of(module: str) -> tuple[str, int]:
    """(stage, rank) of a module: the stage with the longest matching prefix."""
    best: tuple[str, int, int] | None = None
    for name, prefixes, rank in STAGES:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[2]
            ):
                best = (name, rank, len(prefix))
    assert best is not None, f"{module} belongs to no stage"
    return best[0], best[1]


FILES = module_files()
GRAPH = import_graph(FILES)


def test_the_graph_sees_imports_inside_functions() -> None:
    # cli.main reads the version inside a function; a walker that missed it would miss cycles too.
    assert "wafpy._version" in GRAPH["wafpy.cli.main"]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_the_cycle_finder_finds_every_cycle(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(cycles(graph)) == expected


def test_there_is_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("module", sorted(FILES))
def test_a_module_imports_only_from_its_own_or_an_earlier_stage(module: str) -> None:
    stage, rank = stage_of(module)
    wrong = []
    for target in sorted(GRAPH[module]):
        target_stage, target_rank = stage_of(target)
        if target_rank > rank or (target_rank == rank and target_stage != stage):
            wrong.append(f"{target} ({target_stage})")
    assert not wrong, f"{module} ({stage}) imports from a later or parallel stage: {', '.join(wrong)}"


def test_load_and_engine_do_not_import_each_other() -> None:
    crossing = [
        (a, b)
        for a, targets in GRAPH.items()
        for b in targets
        if {stage_of(a)[0], stage_of(b)[0]} == {"load", "engine"}
    ]
    assert crossing == []


@pytest.mark.slow  # about 0.3 s a module: the package root loads most of the package
def test_every_module_imports_on_its_own() -> None:
    """Each module, imported with no wafpy module loaded before it, in one fresh interpreter."""
    script = textwrap.dedent(
        """
        import importlib, sys, traceback
        failed = []
        for name in sys.argv[1:]:
            for loaded in [m for m in sys.modules if m == "wafpy" or m.startswith("wafpy.")]:
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except Exception:
                failed.append(name + ": " + traceback.format_exc(limit=-1).strip().splitlines()[-1])
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *sorted(FILES)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PACKAGE.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


MAX_MODULE_LINES = 500


@pytest.mark.parametrize("module", sorted(FILES))
def test_no_module_is_over_500_lines(module: str) -> None:
    """A module holds one concept; past 500 lines it holds several, and is split by them."""
    lines = FILES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{FILES[module].relative_to(PACKAGE.parent)} has {lines} lines"
