"""SQL injection and XSS detectors behind one protocol.

AWS does not publish how ``SqliMatchStatement`` and ``XssMatchStatement`` decide (spec §2.4, §2.5),
so a detector is pluggable: :func:`default_detector` is wafpy's own (Apache-2.0, pure Python);
:func:`libinjection_detector` wraps the optional ``libinjection-python`` package, which is
GPL-3.0 licensed and therefore only an extra (``pip install "wafpy-engine[libinjection]"``),
imported only when asked for.

A :class:`Detection` carries the fragments that decided, for the log's ``matchedData``::

    >>> default_detector().sqli(b"1' OR '1'='1", "LOW")
    Detection(kind='SQL_INJECTION', matched=("'1'", 'OR', "'1'", '=', "'1"))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Detection", "Detector", "default_detector", "libinjection_detector"]


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


class _OwnDetector:
    __slots__ = ()

    # Optional fast path a detector may offer: functions giving the matched tokens or None, with
    # no Detection object. The compiled scanner calls them directly when present (`wafpy.inline`).
    @property
    def sqli_tokens(self) -> Callable[[bytes, str], tuple[str, ...] | None]:
        return detect_sqli

    @property
    def xss_tokens(self) -> Callable[[bytes], tuple[str, ...] | None]:
        return detect_xss

    def sqli(self, data: bytes, sensitivity: str) -> Detection | None:
        found = detect_sqli(data, sensitivity)
        return None if found is None else Detection("SQL_INJECTION", found)

    def xss(self, data: bytes) -> Detection | None:
        found = detect_xss(data)
        return None if found is None else Detection("XSS", found)


_DEFAULT = _OwnDetector()


def default_detector() -> Detector:
    """wafpy's own detectors (see ``wafpy.detectors.sqli`` and ``wafpy.detectors.xss``)."""
    return _DEFAULT


def libinjection_detector() -> Detector:
    """libinjection through the optional ``libinjection-python`` package (GPL-3.0).

    Raises ``NotAvailableError`` telling how to install it when the package is absent.
    """
    from wafpy.detectors.libinjection_adapter import LibinjectionDetector

    return LibinjectionDetector()


from wafpy.detectors.sqli import detect_sqli  # noqa: E402  (after Detection: no cycle, clear order)
from wafpy.detectors.xss import detect_xss  # noqa: E402
