"""The generated scanner can be read: its text is pinned, kept, and shown in tracebacks.

`data/scanner/webacl.json` is a small web ACL touching the main shapes of generated code (a
transformed single-valued component, a header loop under a NotStatement, a body with its
fallback, an OrStatement, a closure call for GeoMatch); `data/scanner/webacl.scanner.txt` is the
code generated for it. A change to the code generator shows up here as a readable diff.
"""

from __future__ import annotations

import gc
import linecache
import os
import traceback
from pathlib import Path

import pytest

import wafpy
from wafpy.cli.main import main
from wafpy.engine.compile import compile_acl
from wafpy.engine.inline import identifier
from wafpy.matching.detectors import Detection, Detector

DATA = Path(__file__).parent / "data" / "scanner"
ACL = DATA / "webacl.json"
EXPECTED = DATA / "webacl.scanner.txt"
UPDATE = "WAFPY_UPDATE_SNAPSHOTS"


def _load(detector: Detector | None = None) -> wafpy.WebACL:
    return wafpy.load_web_acl(ACL, search_string="text", detector=detector)


def test_generated_source_matches_the_snapshot() -> None:
    source = _load().scanner_source
    if os.environ.get(UPDATE):
        EXPECTED.write_text(source, encoding="utf-8")
    expected = EXPECTED.read_text(encoding="utf-8")
    assert source == expected, (
        f"the scanner generated for {ACL.name} changed; if that is intended, regenerate the snapshot "
        f"with `{UPDATE}=1 python -m pytest tests/test_scanner.py` and review `git diff {EXPECTED.name}`"
    )


def test_rules_are_commented_and_names_are_readable() -> None:
    source = _load().scanner_source
    assert "    # rule 'block-admin', priority 10 (Rules[0])\n" in source
    assert "    # rule '2nd-rule-sqli-body', priority 20 (Rules[1])\n" in source
    assert "block_admin_search_2 in v" in source  # a second value of one role gets a suffix
    assert "rule_2nd_rule_sqli_body_sqli(" in source  # not an identifier as it stands


def test_identifier() -> None:
    assert identifier("block-admin") == "block_admin"
    assert identifier("2nd") == "rule_2nd"
    assert identifier("") == "rule_"
    assert identifier("é-x") == "__x"
    assert identifier("a" * 100) == "a" * 40


def test_source_is_kept_on_the_compiled_acl() -> None:
    acl = _load()
    compiled = compile_acl(acl.model)
    assert compiled.scanner_source == acl.scanner_source
    # Each compilation has a pseudo-file of its own, holding exactly that text.
    filename = compiled.scan.__code__.co_filename
    assert filename.startswith("<wafpy scanner scanner-snapshot #")
    assert filename != compile_acl(acl.model).scan.__code__.co_filename
    assert "".join(linecache.getlines(filename)) == compiled.scanner_source


def test_the_pseudo_file_goes_with_the_scanner() -> None:
    compiled = compile_acl(_load().model)
    filename = compiled.scan.__code__.co_filename
    linecache.checkcache()  # an entry without a modification time survives the check
    assert filename in linecache.cache
    del compiled
    gc.collect()
    assert filename not in linecache.cache


class _Broken(Exception):
    pass


class _FailingDetector:
    """A detector whose SQLi check fails, to raise an exception from inside the scanner."""

    def sqli(self, data: bytes, sensitivity: str) -> Detection | None:
        raise _Broken("detector failed")

    def xss(self, data: bytes) -> Detection | None:
        return None


def test_traceback_shows_the_scanner_line() -> None:
    acl = _load(detector=_FailingDetector())
    with pytest.raises(_Broken) as caught:
        acl.evaluate(wafpy.Request(method="POST", uri="/login", body=b"user=bob"))
    text = "".join(traceback.format_exception(caught.value))
    assert 'File "<wafpy scanner scanner-snapshot #' in text
    assert "if (h := rule_2nd_rule_sqli_body_sqli(v, rule_2nd_rule_sqli_body_level)) is not None:" in text


def test_cli_prints_the_scanner(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(ACL), "--search-string", "text", "--scanner"]) == 0
    captured = capsys.readouterr()
    assert captured.out == EXPECTED.read_text(encoding="utf-8")


def test_cli_needs_a_log_without_scanner(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(ACL)]) == 1
    assert "--scanner" in capsys.readouterr().err
