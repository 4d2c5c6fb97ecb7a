"""Reading a document: a path, JSON or YAML text, bytes, or an already-parsed object, to positioned
JSON (`wafpy.load.jsontree`); and what a folder given as resources stands for.

JSON goes through `wafpy.load.jsonscan` (the lark parser of `wafpy.load.parse` on an error),
YAML (a `.yaml` / `.yml` file, or text whose first line reads as YAML) through
`wafpy.load.yamldoc`. Every failure is a `RulesetErrors` naming the source, with line and column
when the text says where.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.jsontree import JValue, from_python

__all__ = ["RESOURCE_SUFFIXES", "Source", "expand_resource_paths", "read_source"]

Source = str | bytes | os.PathLike[str] | Mapping[str, Any]


def _parse(text: str, source: str) -> JValue:
    from wafpy.load.documents import looks_like_yaml

    if source.lower().endswith((".yaml", ".yml")) or looks_like_yaml(text):
        from wafpy.load.yamldoc import parse_yaml

        try:
            return parse_yaml(text, source=source)
        except RulesetError as exc:
            raise RulesetErrors([exc], source=source) from None
    from wafpy.load.jsonscan import (
        parse_json,  # lark only on an error; its absence is an ImportError naming it
    )

    try:
        return parse_json(text, source=source)
    except RulesetError as exc:
        raise RulesetErrors([exc], source=source) from None


def read_source(source: Source) -> tuple[JValue, str]:
    """(positioned JSON, display name) of a path, JSON or YAML text, bytes, or an already-parsed object."""
    if isinstance(source, Mapping):
        return from_python(dict(source)), "<object>"
    if isinstance(source, bytes):
        return _parse(source.decode("utf-8-sig"), "<bytes>"), "<bytes>"
    if isinstance(source, str) and (source.lstrip()[:1] in ("{", "[") or "\n" in source):
        return _parse(source, "<text>"), "<text>"  # JSON, or YAML text (a path holds no newline)
    path = Path(source)
    name = str(source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RulesetErrors(
            [RulesetError(f"cannot read the file: {exc.strerror or exc}", source=name)], source=name
        ) from None
    except UnicodeDecodeError as exc:
        raise RulesetErrors(
            [RulesetError(f"the file is not UTF-8 text ({exc.reason})", source=name)], source=name
        ) from None
    return _parse(text, name), name


# What a resources folder contributes: the document files, not READMEs or editor backups.
RESOURCE_SUFFIXES = (".json", ".yaml", ".yml", ".template")


def expand_resource_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given; a folder stands for its document files (`RESOURCE_SUFFIXES`), recursively,
    in sorted order, hidden files and folders skipped. A path that does not exist is kept, so that
    reading it reports it."""
    out: list[str] = []
    for p in paths:
        path = os.fspath(p)
        if not os.path.isdir(path):
            out.append(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out.extend(
                os.path.join(root, f)
                for f in sorted(files)
                if not f.startswith(".") and f.lower().endswith(RESOURCE_SUFFIXES)
            )
    return out
