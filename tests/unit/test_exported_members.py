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
    assert set(preflight.__all__) - {"__version__"} == (exported - {"Any", "TYPE_CHECKING"}) | lazy
    for name in preflight.__all__:
        assert getattr(preflight, name) is not None


HEAVY = (
    "great_expectations", "torch", "mne", "pandera", "matplotlib", "numpy", "duckdb", "pyarrow",
    "pydantic", "pandas",
)  # fmt: skip


def heavy_modules_after(code: str, heavy: tuple[str, ...] = HEAVY) -> str:
    """The ``heavy`` libraries loaded once ``code`` ran in a fresh interpreter."""
    code += f"\nimport sys; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_importing_preflight_stays_light() -> None:
    """No library heavier than the standard library: each API name loads on first use."""
    assert heavy_modules_after("import preflight") == "[]"


def test_cli_entry_point_stays_light() -> None:
    """``preflight --version`` (the console script's ``main``) loads typer and nothing heavy:
    not even rich (~35 ms), which only a command's output or ``--help`` needs."""
    code = (
        "import sys; sys.argv = ['preflight', '--version']\n"
        "from preflight.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert heavy_modules_after(code, (*HEAVY, "rich")) == "[]"
