"""Every statement class of the model has its entry in every table keyed by statement class.

A statement type reaches the user through several independent tables: the AWS member name, the
load builders (JSON -> model), the placement rules (where a statement may stand), the capacity
table (WCU), the compiler's builders (model -> matcher) and replay coverage (which request parts it
reads). Each is a dict or a set, so a new statement class with a forgotten entry would only fail
when a document first uses it. The statement classes are found by walking `wafpy.model` for
subclasses of `StatementNode`, not from any of these tables, and
`test_a_new_statement_class_fails_every_seam` shows every check fails for a class added without
its entries. docs/architecture.md ("Adding a statement") lists the same seams, in order.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import get_args

import pytest

from wafpy import model
from wafpy.engine import compile as engine_compile
from wafpy.load import build_statements, capacity, schema, semantics
from wafpy.replay import coverage


def statement_classes(module: ModuleType = model) -> tuple[type[model.StatementNode], ...]:
    """Every statement class defined in `module`, found by walking its classes."""
    return tuple(
        cls
        for _, cls in sorted(inspect.getmembers(module, inspect.isclass))
        if issubclass(cls, model.StatementNode) and cls is not model.StatementNode
    )


def _member(cls: type) -> str | None:
    return model.STATEMENT_NAMES.get(cls)


def _placed(cls: type) -> bool:
    """Exactly one placement: top-level only (rate-based, group statements) or nestable anywhere."""
    name = _member(cls)
    return name is not None and (
        (name in semantics.TOP_ONLY_STATEMENTS) != (name in semantics.NESTABLE_STATEMENTS)
    )


# Seam name -> whether the class has its entry there, in the order a new statement is added.
SEAMS: dict[str, Callable[[type], bool]] = {
    "model.Statement union": lambda cls: cls in get_args(model.Statement),
    "model.STATEMENT_NAMES": lambda cls: _member(cls) is not None,
    "API shape Statement (wafpy/data/wafv2-shapes.json)": lambda cls: (
        _member(cls) in schema.shape("Statement").members
    ),
    "load.build_statements.STATEMENT_BUILDERS": lambda cls: cls in build_statements.STATEMENT_BUILDERS,
    "load.semantics placement (TOP_ONLY_STATEMENTS / NESTABLE_STATEMENTS)": _placed,
    "load.capacity.STATEMENT_WCU": lambda cls: cls in capacity.STATEMENT_WCU,
    "engine.compile.BUILDERS / GROUP_RULE_KINDS": lambda cls: (
        (cls in engine_compile.BUILDERS) != (cls in engine_compile.GROUP_RULE_KINDS)
    ),
    "replay.coverage.STATEMENT_PARTS": lambda cls: cls in coverage.STATEMENT_PARTS,
}


def test_the_model_has_statement_classes() -> None:
    assert len(statement_classes()) >= 16


@pytest.mark.parametrize("seam", list(SEAMS))
@pytest.mark.parametrize("cls", statement_classes(), ids=lambda cls: cls.__name__)
def test_every_statement_class_has_an_entry_in_every_seam(seam: str, cls: type) -> None:
    assert SEAMS[seam](cls), f"{cls.__name__} has no entry in {seam}"


# The tables keyed by class, to check they hold nothing but statement classes.
CLASS_TABLES: dict[str, Callable[[], set[type]]] = {
    "model.Statement union": lambda: set(get_args(model.Statement)),
    "model.STATEMENT_NAMES": lambda: set(model.STATEMENT_NAMES),
    "load.build_statements.STATEMENT_BUILDERS": lambda: set(build_statements.STATEMENT_BUILDERS),
    "load.capacity.STATEMENT_WCU": lambda: set(capacity.STATEMENT_WCU),
    "engine.compile.BUILDERS": lambda: set(engine_compile.BUILDERS),
    "engine.compile.GROUP_RULE_KINDS": lambda: set(engine_compile.GROUP_RULE_KINDS),
    "replay.coverage.STATEMENT_PARTS": lambda: set(coverage.STATEMENT_PARTS),
}


@pytest.mark.parametrize("table", list(CLASS_TABLES))
def test_tables_hold_only_statement_classes(table: str) -> None:
    assert CLASS_TABLES[table]() <= set(statement_classes())


def test_placement_names_are_statement_names() -> None:
    names = set(model.STATEMENT_NAMES.values())
    assert names == semantics.TOP_ONLY_STATEMENTS | semantics.NESTABLE_STATEMENTS
    # The statements a rule group may not hold are the ones the compiler turns into groups.
    groups = {model.STATEMENT_NAMES[cls] for cls in engine_compile.GROUP_RULE_KINDS}
    assert groups == semantics.GROUP_STATEMENTS
    assert semantics.GROUP_STATEMENTS <= semantics.TOP_ONLY_STATEMENTS


def test_a_new_statement_class_fails_every_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class DummyMatch(model.StatementNode):
        pass

    monkeypatch.setattr(model, "DummyMatch", DummyMatch, raising=False)
    assert DummyMatch in statement_classes()
    passing = [seam for seam, has_entry in SEAMS.items() if has_entry(DummyMatch)]
    assert not passing, f"these seams do not notice a new statement class: {passing}"
