"""The terminal output: a one-screen `wafpy eval` summary by default, tables readable at 80 columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from tests.replay_fixtures import run_cli, waf_record, write_acl, write_jsonl
from wafpy.logs.records import LoggedOutcome
from wafpy.replay.compare import Comparison, render_comparison
from wafpy.replay.outcome import Outcome

VERBOSE_ONLY = ("Top labels", "Top blocked client IPs", "Top blocked URIs", "Non-terminating matches")


def _logs(tmp_path: Path) -> Path:
    records = [
        waf_record(i, uri, ua=ua, ip=f"198.51.100.{i % 50}")
        for i, (uri, ua) in enumerate(
            [("/admin/x", "curl"), ("/", "a-bot"), ("/login", "Mozilla/5.0"), ("/shop", "Mozilla/5.0")] * 30
        )
    ]
    return write_jsonl(tmp_path / "waf.jsonl", records)


@pytest.mark.parametrize(("verbose", "shown"), [(False, False), (True, True)])
def test_eval_summary_is_one_screen_unless_verbose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verbose: bool, shown: bool
) -> None:
    acl = write_acl(tmp_path / "acl.json")
    args = ["eval", str(acl), str(_logs(tmp_path)), "--search-string", "text"]
    code, out, err = run_cli(args + (["--verbose"] if verbose else []), capsys)
    assert code == 0, err
    assert "Requests by action" in out and "Requests by terminating rule" in out
    for title in VERBOSE_ONLY:
        assert (title in out) is shown, title
    if not verbose:
        assert len(out.splitlines()) <= 40
        assert "Count rules matched" in out and "more with --verbose" in out


def test_change_examples_keep_request_and_rule_at_80_columns() -> None:
    comparison = Comparison()
    source = "logs/2024/03/20/very-long-folder-name/waf-eu-west-1-2024-03-20T10-30-00Z.jsonl.gz"
    comparison.add(
        Outcome(
            source,
            12345,
            None,
            "waf",
            "GET",
            "/api/v1/products/search",
            "192.0.2.1",
            "BLOCK",
            "block-product-search",
            "REGULAR",
            (),
            (),
            (),
            LoggedOutcome("ALLOW", "Default_Action"),
            None,
        )
    )
    console = Console(width=80, record=True, color_system=None)
    render_comparison(console, comparison)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    examples = text[text.index("first examples") :].splitlines()
    rows = [line.split("│")[1:-1] for line in examples if line.startswith("│")]
    columns = ["".join(row[i].strip() for row in rows) for i in range(4)]
    assert columns[0].endswith(":12345")
    assert columns[1] == "GET/api/v1/products/search"
    assert columns[2] == "ALLOW → BLOCK"
    assert columns[3].replace(" ", "") == "Default_Action→block-product-search"
