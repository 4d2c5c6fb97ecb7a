"""JSON values that remember where they were written.

The parser (`wafpy.load.parse`) produces these so validation can report line and column; documents
given as Python objects are converted with `from_python` and carry no position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class JString:
    value: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class JNumber:
    value: int | float
    raw: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class JBool:
    value: bool
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class JNull:
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class JMember:
    key: str
    key_line: int | None
    key_column: int | None
    value: JValue


@dataclass(frozen=True, slots=True)
class JObject:
    members: tuple[JMember, ...]
    line: int | None = None
    column: int | None = None

    def get(self, key: str) -> JValue | None:
        for member in self.members:
            if member.key == key:
                return member.value
        return None

    def keys(self) -> list[str]:
        return [m.key for m in self.members]


@dataclass(frozen=True, slots=True)
class JArray:
    items: tuple[JValue, ...]
    line: int | None = None
    column: int | None = None


JValue: TypeAlias = JObject | JArray | JString | JNumber | JBool | JNull

JSON_TYPE_NAMES: dict[type, str] = {
    JObject: "object",
    JArray: "array",
    JString: "string",
    JNumber: "number",
    JBool: "boolean",
    JNull: "null",
}


def to_python(value: JValue) -> Any:
    """Plain Python value (dict, list, str, int/float, bool, None); a repeated key keeps the last."""
    if isinstance(value, JObject):
        return {m.key: to_python(m.value) for m in value.members}
    if isinstance(value, JArray):
        return [to_python(v) for v in value.items]
    if isinstance(value, JNull):
        return None
    return value.value


class _Close:
    """A container of `from_python` whose children are all converted: build its node."""

    __slots__ = ("children", "keys", "sink", "source")

    def __init__(self, sink: list[JValue], keys: list[str] | None, source: object) -> None:
        self.sink, self.keys, self.source = sink, keys, source
        self.children: list[JValue] = []

    def finish(self) -> None:
        if self.keys is None:
            self.sink.append(JArray(tuple(self.children)))
        else:
            members = (JMember(k, None, None, v) for k, v in zip(self.keys, self.children, strict=True))
            self.sink.append(JObject(tuple(members)))


def from_python(obj: Any) -> JValue:
    """Wrap an already-parsed document (no positions). Non-JSON Python types raise TypeError.

    Iterative, so any depth converts without exhausting Python's stack (the loader then refuses a
    document nested too deeply, with its JSON path); a container that contains itself is refused.
    """
    result: list[JValue] = []
    stack: list[tuple[Any, list[JValue]] | _Close] = [(obj, result)]
    open_ids: set[int] = set()  # containers being converted: meeting one again is a cycle
    while stack:
        entry = stack.pop()
        if isinstance(entry, _Close):
            entry.finish()
            open_ids.discard(id(entry.source))
            continue
        value, sink = entry
        if isinstance(value, (dict, list, tuple)):
            if id(value) in open_ids:
                raise TypeError("not a JSON value: a container that contains itself")
            open_ids.add(id(value))
            close = _Close(sink, [str(k) for k in value] if isinstance(value, dict) else None, value)
            stack.append(close)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, close.children) for child in reversed(list(children)))
        else:
            sink.append(_scalar(value))
    return result[0]


def _scalar(obj: Any) -> JValue:
    if isinstance(obj, str):
        return JString(obj)
    if isinstance(obj, bool):
        return JBool(obj)
    if isinstance(obj, (int, float)):
        return JNumber(obj, repr(obj))
    if obj is None:
        return JNull()
    raise TypeError(f"not a JSON value: {type(obj).__name__}")
