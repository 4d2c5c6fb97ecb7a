"""The documentation keeps up with the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

from wafpy.engine.statements.labels import UNSPECIFIED_CHOICES as LABEL_CHOICES
from wafpy.load.managed import UNSPECIFIED_CHOICES as MANAGED_CHOICES
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
        *MANAGED_CHOICES,
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


# A citation of a numbered section ("§3.9", "spec 2.11") points into a document nobody can read;
# wafpy cites AWS's public documentation (Developer Guide / API reference URLs or page names).
_SECTION_CITATION = re.compile(r"§|\bspec(?:ification)?(?:'s)?\s+(?:section\s+)?\d", re.IGNORECASE)


def _cited_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    text = (".py", ".md", ".txt")
    files += sorted(p for p in (ROOT / "wafpy").rglob("*") if p.is_file() and p.suffix in text)
    return files


def test_no_section_number_citations() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _cited_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _SECTION_CITATION.search(line)
    ]
    assert not found, "cite AWS's documentation, not section numbers:\n" + "\n".join(found)
