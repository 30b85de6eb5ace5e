"""The public API is exactly ``preflight.__all__`` (as httpx keeps its own honest)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import preflight


def test_all_exports_exist_and_are_public() -> None:
    exported = {
        name
        for name in dir(preflight)
        if not name.startswith("_") and not inspect.ismodule(getattr(preflight, name))
    }
    lazy = set(preflight._LAZY)
    assert set(preflight.__all__) - {"__version__"} == (exported - {"Any"}) | lazy
    for name in preflight.__all__:
        assert getattr(preflight, name) is not None


def test_importing_preflight_stays_light() -> None:
    """Great Expectations (~3 s) and torch are never imported by the audit path."""
    heavy = "('great_expectations', 'torch', 'mne', 'pandera', 'matplotlib')"
    code = f"import sys, preflight; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
