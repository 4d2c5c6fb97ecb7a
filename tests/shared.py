"""Where the shared test material lives, and what to do when a clone does not have it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_dir(*parts: str) -> Path:
    """A folder of the shared material next to the project; skip (or fail under CI=true) when absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"shared test material not found at ../shared/{'/'.join(parts)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return path
