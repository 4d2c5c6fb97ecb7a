"""Errors raised by wafpy.

Hierarchy::

    WafpyError                      every error wafpy raises on purpose
    ├── RulesetError                one problem in a web ACL / rule group / IP set / regex set
    │                               document: message, JSON path, line, column, value, expected
    ├── RulesetErrors               a document with one or more RulesetError (all of them, at once);
    │                               nothing of such a document is loaded
    ├── ResourceError               a reference (ARN, managed group) that cannot be resolved
    ├── NotAvailableError           a feature AWS has that wafpy does not evaluate yet
    └── LogFormatError              a log line that cannot be read (file, line number, reason)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "LogFormatError",
    "NotAvailableError",
    "ResourceError",
    "RulesetError",
    "RulesetErrors",
    "WafpyError",
]


class WafpyError(Exception):
    """Base class of every error wafpy raises on purpose."""


# What `__reduce__` of an error returns: (rebuild_error, its arguments, its state).
Reduced = tuple[Callable[..., BaseException], tuple[Any, ...], dict[str, Any] | None]


def rebuild_error(
    cls: type[BaseException], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> BaseException:
    """Unpickle an error: call its constructor again (`reduce_error`)."""
    return cls(*args, **kwargs)


def reduce_error(
    exc: BaseException, args: tuple[Any, ...], kwargs: Mapping[str, Any] | None = None
) -> Reduced:
    """`__reduce__` of an error whose constructor does not take its message: pickle the constructor's
    own arguments, so the copy has the same message and attributes.

    The default (`type(exc)(*exc.args)`) passes the formatted message where the constructor wants
    its parts (keyword-only arguments, a record), so a worker's or a cluster executor's error would
    fail to unpickle or come back with another message. The instance's other attributes (`__notes__`,
    attributes set after construction) travel as its state.
    """
    state = dict(vars(exc)) if hasattr(exc, "__dict__") else None
    return rebuild_error, (type(exc), args, dict(kwargs or {})), state or None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class RulesetError(WafpyError):
    """One problem in a document, located by JSON path and, when the document was text, line:column.

    ``json_path`` reads like ``Rules[3].Statement.ByteMatchStatement.PositionalConstraint``;
    ``line``/``column`` are 1-based and ``None`` for documents given as Python objects.
    """

    def __init__(
        self,
        message: str,
        *,
        json_path: str = "",
        line: int | None = None,
        column: int | None = None,
        value: Any = None,
        expected: str | None = None,
        source: str | None = None,
        context: str | None = None,
    ) -> None:
        self.message = message
        self.json_path = json_path
        self.line = line
        self.column = column
        self.value = value
        self.expected = expected
        self.source = source
        self.context = context
        super().__init__(self.describe())

    def __reduce__(self) -> Reduced:
        return reduce_error(
            self,
            (self.message,),
            {
                "json_path": self.json_path,
                "line": self.line,
                "column": self.column,
                "value": self.value,
                "expected": self.expected,
                "source": self.source,
                "context": self.context,
            },
        )

    def at(self, json_path: str) -> RulesetError:
        """The same problem, located at another JSON path (a document read in another shape)."""
        return RulesetError(
            self.message,
            json_path=json_path,
            line=self.line,
            column=self.column,
            value=self.value,
            expected=self.expected,
            source=self.source,
            context=self.context,
        )

    @property
    def location(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.line is not None:
            parts.append(f"{self.line}:{self.column}")
        return ":".join(parts)

    def describe(self) -> str:
        head = self.location
        where = f" at {self.json_path}" if self.json_path else ""
        text = f"{head + ': ' if head else ''}{self.message}{where}"
        if self.value is not None:
            text += f" (got {_show(self.value)}"
            text += f"; expected {self.expected})" if self.expected else ")"
        elif self.expected:
            text += f" (expected {self.expected})"
        return text


class _Positioned(Protocol):
    @property
    def line(self) -> int | None: ...

    @property
    def column(self) -> int | None: ...


class ErrorList:
    """Mixin for whatever checks a document: `error` records a RulesetError at a node's position.

    The class using it declares `source: str | None` and `errors: list[RulesetError]`.
    """

    source: str | None
    errors: list[RulesetError]

    def error(
        self,
        message: str,
        path: str,
        at: _Positioned | None = None,
        *,
        value: object = None,
        expected: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        if at is not None and line is None:
            line, column = at.line, at.column
        self.errors.append(
            RulesetError(
                message,
                json_path=path,
                line=line,
                column=column,
                value=value,
                expected=expected,
                source=self.source,
            )
        )


class RulesetErrors(WafpyError):
    """Every problem found in one document; the document is not loaded."""

    def __init__(self, errors: Iterable[RulesetError], *, source: str | None = None) -> None:
        self.errors: Sequence[RulesetError] = tuple(errors)
        self.source = source
        count = len(self.errors)
        lines = [f"{count} error{'s' if count != 1 else ''} in {source or 'document'}:"]
        lines += [f"  {e.describe()}" for e in self.errors]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> Reduced:
        return reduce_error(self, (self.errors,), {"source": self.source})


class ResourceError(WafpyError):
    """A referenced resource (IP set, regex pattern set, rule group, managed rule group) is missing or bad."""


class NotAvailableError(WafpyError):
    """A feature AWS WAF has that wafpy cannot evaluate yet; raised at load, never silently ignored."""


class LogFormatError(WafpyError):
    """A log line that cannot be read; carries the file name and the 1-based line number."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        where = f"{file or '<input>'}:{line}" if line is not None else (file or "<input>")
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> Reduced:
        return reduce_error(self, (self.message,), {"file": self.file, "line": self.line})
