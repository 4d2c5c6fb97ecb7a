"""What a detector is: the `Detector` protocol and the `Detection` it answers with.

A module of its own so that every detector (wafpy's own, the optional libinjection adapter) can
name them without importing the package that chooses between detectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Detection", "Detector"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One positive answer: ``kind`` is ``"SQL_INJECTION"`` or ``"XSS"`` (the log's
    ``conditionType``); ``matched`` are the tokens / fragments found (the log's ``matchedData``)."""

    kind: str
    matched: tuple[str, ...]


class Detector(Protocol):
    """What ``SqliMatchStatement`` / ``XssMatchStatement`` call on each transformed element."""

    def sqli(self, data: bytes, sensitivity: str) -> Detection | None:
        """``sensitivity`` is ``"LOW"`` or ``"HIGH"`` (AWS ``SensitivityLevel``)."""
        ...

    def xss(self, data: bytes) -> Detection | None: ...
