"""Every runtime dependency in pyproject.toml is imported by some module of wafpy."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Distributions whose import name is not their name with '-' read as '_'.
IMPORT_NAMES = {"google-re2": "re2"}


def runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # "name[extra]>=1.0; marker" -> "name"
    return [re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]]


def imported_top_level_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "wafpy").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
                names.add(node.module.split(".")[0])
    return names


def test_every_runtime_dependency_is_imported() -> None:
    dependencies = runtime_dependencies()
    assert dependencies, "no runtime dependencies found in pyproject.toml"
    imported = imported_top_level_names()
    unused = [d for d in dependencies if IMPORT_NAMES.get(d, d.replace("-", "_")) not in imported]
    assert not unused, f"runtime dependencies no module of wafpy imports: {unused}"


def test_readme_lists_the_runtime_dependencies() -> None:
    # The README says why each dependency is there; a row per runtime dependency, no stale row.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("Dependencies, and why each one:", 1)[1].split("\n\n", 2)[1]
    # Rows of extras read "| `maxminddb` (extra `geo`) |": the name is not followed by " |".
    listed = {m.group(1).lower() for m in re.finditer(r"^\| `([^`]+)` \|", table, re.MULTILINE)}
    assert listed == set(runtime_dependencies())
