"""Benchmark inputs, generated deterministically by make_docs.py (same text on every run)."""

from __future__ import annotations

import pytest

from bench.make_docs import texts


@pytest.fixture(scope="session")
def bench_texts() -> dict[str, str]:
    """Document name -> JSON text: "webacl-1500wcu" (get-web-acl shape), "ipset-10000" (get-ip-set)."""
    return texts()
