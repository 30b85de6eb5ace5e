"""The README's Python examples run as written (on a fresh synthetic corpus)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preflight.synth.corpus import synthesize
from preflight.synth.spec import SynthSpec

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """Every ```python block of the README."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs(index: int, tmp_path: Path) -> None:
    corpus = synthesize(tmp_path / "nodev", SynthSpec(defects=frozenset({"no_dev_positives"})))
    code = python_blocks()[index]
    code = re.sub(r'"/tmp/tour/(\w+)"', lambda _: repr(str(corpus.root)), code)
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})
