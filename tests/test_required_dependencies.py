"""Without RE2 (package google-re2) or the lark parser wafpy fails loudly, naming the package to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs with `re2` blocked: importing it raises ImportError, as when google-re2 is not installed.
SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["re2"] = None
    try:
        import wafpy
        wafpy.load_web_acl({
            "Name": "acl", "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                 "MetricName": "acl"},
            "Rules": [{
                "Name": "r", "Priority": 0, "Action": {"Block": {}},
                "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                     "MetricName": "r"},
                "Statement": {"RegexMatchStatement": {
                    "RegexString": "(?i)nikto", "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
            }],
        })
    except ImportError as exc:
        print("ImportError:", exc)
        sys.exit(3)
    print("loaded")
    """
)


def test_missing_re2_is_an_import_error_naming_google_re2() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "google-re2" in result.stdout
    assert "pip install google-re2" in result.stdout


def test_the_same_acl_loads_with_re2() -> None:
    script = SCRIPT.replace('sys.modules["re2"] = None', "")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "loaded"


# Runs with lark blocked, and loads a document given as JSON text (which lark parses).
LARK_SCRIPT = textwrap.dedent(
    """
    import sys
    for name in ("lark", "lark.lexer", "lark.exceptions"):
        sys.modules[name] = None
    try:
        import wafpy
        wafpy.load_web_acl('{"Name": "acl"}')
    except ImportError as exc:
        print("ImportError:", exc)
        sys.exit(3)
    except wafpy.RulesetErrors:
        print("parsed without lark")
    """
)


def test_missing_lark_is_an_import_error_naming_lark_not_a_parse_without_positions() -> None:
    """Without lark, documents would be read by plain `json` and lose every line:column."""
    result = subprocess.run(
        [sys.executable, "-c", LARK_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "pip install lark" in result.stdout
