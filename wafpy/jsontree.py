"""JSON values that remember where they were written.

The parser (`wafpy.parse`) produces these so validation can report line and column; documents
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


def from_python(obj: Any) -> JValue:
    """Wrap an already-parsed document (no positions). Non-JSON Python types raise TypeError."""
    if isinstance(obj, dict):
        return JObject(tuple(JMember(str(k), None, None, from_python(v)) for k, v in obj.items()))
    if isinstance(obj, (list, tuple)):
        return JArray(tuple(from_python(v) for v in obj))
    if isinstance(obj, str):
        return JString(obj)
    if isinstance(obj, bool):
        return JBool(obj)
    if isinstance(obj, (int, float)):
        return JNumber(obj, repr(obj))
    if obj is None:
        return JNull()
    raise TypeError(f"not a JSON value: {type(obj).__name__}")
