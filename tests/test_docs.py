"""The documentation keeps up with the code it describes."""

from __future__ import annotations

from pathlib import Path

from wafpy.engine.statements.labels import UNSPECIFIED_CHOICES as LABEL_CHOICES
from wafpy.matching.detectors import UNSPECIFIED_CHOICES as DETECTOR_CHOICES
from wafpy.matching.fields import UNSPECIFIED_CHOICES as FIELD_CHOICES
from wafpy.matching.transforms import UNSPECIFIED_CHOICES as TRANSFORM_CHOICES
from wafpy.middleware.asgi import UNSPECIFIED_CHOICES as MIDDLEWARE_CHOICES
from wafpy.middleware.redact import UNSPECIFIED_CHOICES as REDACTION_CHOICES

ROOT = Path(__file__).resolve().parents[1]


def test_every_unspecified_choice_is_documented() -> None:
    page = (ROOT / "docs" / "unspecified.md").read_text(encoding="utf-8")
    choices = (
        *TRANSFORM_CHOICES,
        *FIELD_CHOICES,
        *LABEL_CHOICES,
        *DETECTOR_CHOICES,
        *REDACTION_CHOICES,
        *MIDDLEWARE_CHOICES,
    )
    missing = [key for key in choices if key not in page]
    assert not missing, f"docs/unspecified.md does not mention {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    assert "wafpy eval rulesets/demo-webacl.json samples/waf-logs.jsonl.gz" in first_block
    assert "python -m pytest" in first_block
    for path in ("rulesets/demo-webacl.json", "samples/waf-logs.jsonl.gz", "rulesets/demo-resources"):
        assert (ROOT / path).exists(), path
