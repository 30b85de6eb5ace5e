"""Shared fixtures: where the real third-party files live, and skipping when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


@pytest.fixture
def realdata() -> Path:
    """The ``../shared/realdata`` folder of real third-party files; skips when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (only present beside the project)")
    return REALDATA
