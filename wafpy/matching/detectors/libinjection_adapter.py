"""Adapter to ``libinjection-python`` (GPL-3.0): optional, imported only by ``libinjection_detector()``.

Install with ``pip install "wafpy-engine[libinjection]"``. The wrapper takes ``str`` and encodes
it as UTF-8, so the bytes are handed over as Latin-1 text: ASCII, which carries every SQL and
HTML token, arrives unchanged; bytes >= 0x80 become two bytes, which libinjection reads as
word characters either way.

``HIGH`` sensitivity (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-sqli-match.html;
the behaviour is wafpy's choice): libinjection's verdict, plus wafpy's own
``HIGH`` rules, so HIGH flags at least what LOW flags with either detector.
"""

from __future__ import annotations

from typing import Any

from wafpy.errors import NotAvailableError
from wafpy.matching.detectors.protocol import Detection
from wafpy.matching.detectors.sqli import detect_sqli

__all__ = ["LibinjectionDetector"]

try:
    import libinjection as _libinjection
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    _IMPORT_ERROR: ImportError | None = exc
    _lib: Any = None
else:
    _IMPORT_ERROR = None
    _lib = _libinjection


class LibinjectionDetector:
    """The ``Detector`` protocol over libinjection's SQLi fingerprints and XSS parser."""

    __slots__ = ("_is_sqli", "_is_xss")

    def __init__(self) -> None:
        if _lib is None:
            raise NotAvailableError(
                "libinjection is not installed; it is an optional GPL-3.0 extra: "
                'pip install "wafpy-engine[libinjection]"'
            ) from _IMPORT_ERROR
        self._is_sqli = _lib.is_sql_injection
        self._is_xss = _lib.is_xss

    def __reduce__(self) -> tuple[type[LibinjectionDetector], tuple[()]]:
        """Pickled by name: the copy binds libinjection's functions in its own process."""
        return LibinjectionDetector, ()

    def sqli(self, data: bytes, sensitivity: str) -> Detection | None:
        result = self._is_sqli(data.decode("latin-1"))
        if result["is_sqli"]:
            fingerprint = str(result["fingerprint"])
            tokens = [t for t in result["token_vector"][: len(fingerprint)] if t["type"]]
            return Detection("SQL_INJECTION", tuple(t["val"].decode("latin-1") for t in tokens))
        if sensitivity == "HIGH":
            found = detect_sqli(data, "HIGH")
            if found is not None:
                return Detection("SQL_INJECTION", found)
        return None

    def xss(self, data: bytes) -> Detection | None:
        if self._is_xss(data.decode("latin-1"))["is_xss"]:
            return Detection("XSS", (data[:64].decode("latin-1"),))
        return None
