"""SQL injection and XSS detectors behind one protocol.

AWS does not publish how ``SqliMatchStatement`` and ``XssMatchStatement`` decide
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-sqli-match.html and
waf-rule-statement-type-xss-match say what they look for, not how), so a detector is pluggable:
:func:`default_detector` is wafpy's own (Apache-2.0, pure Python); :func:`libinjection_detector`
wraps the optional ``libinjection-python`` package, which is GPL-3.0 licensed and therefore only an
extra (``pip install "wafpy-engine[libinjection]"``), imported only when asked for.

A :class:`Detection` carries the fragments that decided, for the log's ``matchedData``::

    >>> default_detector().sqli(b"1' OR '1'='1", "LOW")
    Detection(kind='SQL_INJECTION', matched=("'1'", 'OR', "'1'", '=', "'1"))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from wafpy.matching.detectors.protocol import Detection, Detector
from wafpy.matching.detectors.sqli import detect_sqli
from wafpy.matching.detectors.xss import detect_xss

__all__ = ["UNSPECIFIED_CHOICES", "Detection", "Detector", "default_detector", "libinjection_detector"]

# What the detectors do where AWS publishes nothing (each key is a row of docs/unspecified.md).
UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "SQLi and XSS detection algorithms; what `HIGH` adds": "wafpy's own detectors (a SQL tokenizer "
    "with fingerprint rules read as is, after a ' and after a \"; an HTML/JS-aware XSS scan); HIGH "
    "adds SQL fingerprints. libinjection is an optional GPL extra.",
    "SQLi and XSS on long values": "read whole, wherever the attack starts: no prefix of the value "
    "is cut off; only AWS's inspection limits shorten what a detector sees. Time linear in the length.",
    "SQLi in values over 64 bytes": "windows of 16 tokens from every place an injection could start "
    "(wafpy.matching.detectors.sqli_windows); an injection needing more tokens from such a place, or with "
    "none, is not seen.",
}


class _OwnDetector:
    __slots__ = ()

    # Optional fast path a detector may offer: functions giving the matched tokens or None, with
    # no Detection object. The compiled scanner calls them directly when present (`wafpy.engine.inline`).
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
    """wafpy's own detectors (see ``wafpy.matching.detectors.sqli`` and ``wafpy.matching.detectors.xss``)."""
    return _DEFAULT


def libinjection_detector() -> Detector:
    """libinjection through the optional ``libinjection-python`` package (GPL-3.0).

    Raises ``NotAvailableError`` telling how to install it when the package is absent.
    """
    from wafpy.matching.detectors.libinjection_adapter import LibinjectionDetector

    return LibinjectionDetector()
