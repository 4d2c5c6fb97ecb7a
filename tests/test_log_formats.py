"""The registry of log formats: every reader, the CLI and the type hints agree with it."""

from __future__ import annotations

import argparse
from typing import get_args

import orjson
import pytest

from tests.replay_fixtures import alb_line, waf_record
from wafpy.cli.main import build_parser
from wafpy.logs import FORMATS, LogFormat
from wafpy.logs.formats import AUTO, CHOICES, REGISTRY, detect, format_named
from wafpy.logs.records import LogKind


def _format_choices(command: str) -> tuple[str, ...]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if a.dest == "format")
    assert action.default == AUTO and action.choices is not None
    return tuple(action.choices)


@pytest.mark.parametrize("command", ["eval", "explain"])
def test_cli_format_choices_are_the_registry(command: str) -> None:
    assert _format_choices(command) == CHOICES == (AUTO, *(f.name for f in REGISTRY if f.choice))


def test_type_hints_and_public_names_follow_the_registry() -> None:
    assert get_args(LogFormat) == CHOICES == FORMATS
    assert set(get_args(LogKind)) == {f.name for f in REGISTRY if f.choice}


def test_names_are_unique_and_looked_up() -> None:
    names = [f.name for f in REGISTRY]
    assert len(names) == len(set(names)) and AUTO not in names
    assert all(format_named(name) is f for name, f in zip(names, REGISTRY, strict=True))
    assert format_named(AUTO) is None and format_named("csv") is None


def test_formats_that_join_wrapped_lines_can_tell_where_an_entry_starts() -> None:
    assert all(f.detect is not None for f in REGISTRY if f.join is not None)


@pytest.mark.parametrize(
    ("line", "name"),
    [
        (orjson.dumps(waf_record(1)), "json"),
        (b'  {"httpMethod": "GET", "uri": "/"}', "json"),
        (b"[{", "json"),
        (alb_line(1).encode(), "alb"),
        (b"2024-03-20T10:30:00.1Z my-elb 192.0.2.1:4242 10.0.0.1:80 ", "alb"),
        (b"hello world", None),
        (b"", None),
    ],
)
def test_detection_picks_one_format(line: bytes, name: str | None) -> None:
    found = detect(line)
    assert (found.name if found is not None else None) == name
    assert sum(f.detect(line) for f in REGISTRY if f.detect is not None) == (name is not None)
