"""Benchmark inputs, generated deterministically by make_docs.py (same text on every run)."""

from __future__ import annotations

import pytest

try:  # bench/ imported as a package (it has an __init__.py) or as a plain test directory
    from bench.make_docs import texts
except ImportError:
    from make_docs import texts  # type: ignore[no-redef]


@pytest.fixture(scope="session")
def bench_texts() -> dict[str, str]:
    """Document name -> JSON text: "webacl-1500wcu" (get-web-acl shape), "ipset-10000" (get-ip-set)."""
    return texts()
