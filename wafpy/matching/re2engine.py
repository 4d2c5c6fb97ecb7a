"""The RE2 regex engine (the `google-re2` package), imported in this one place so its absence fails loudly.

AWS WAF's regex dialect is RE2's (https://docs.aws.amazon.com/waf/latest/developerguide/waf-regex-pattern-support.html),
and every regex wafpy runs on a request must take time linear in the text. Without RE2 there is no
faithful and safe way to match, so there is no fallback (Python's `re` backtracks and speaks another
dialect) and no accepting patterns unchecked: importing wafpy raises an ImportError naming the package.
"""

from __future__ import annotations

try:
    import re2
except ImportError as exc:
    raise ImportError(
        "wafpy needs the RE2 regex engine from the package google-re2 (pip install google-re2): "
        "AWS WAF's regex dialect is RE2's, and wafpy matches with no other engine"
    ) from exc

__all__ = ["re2"]
