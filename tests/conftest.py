"""Shared fixtures: where the real third-party files live, and skipping when they are absent;
a real single-node Slurm cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
SLURM_LOCAL = Path(__file__).resolve().parents[1] / "scripts" / "slurm-local"


@pytest.fixture
def realdata() -> Path:
    """The ``../shared/realdata`` folder of real third-party files; skips when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (only present beside the project)")
    return REALDATA


def _slurm_local(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SLURM_LOCAL), command], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A real single-node Slurm (``scripts/slurm-local``): the one running, or one started here
    (as root) and stopped after the session. Skips with the reason when none can run, unless
    ``PREFLIGHT_REQUIRE_SLURM=1`` (CI), where that is a failure."""
    required = os.environ.get("PREFLIGHT_REQUIRE_SLURM") == "1"

    def unavailable(why: str) -> None:
        if required:
            pytest.fail(f"PREFLIGHT_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)

    if _slurm_local("status").returncode == 0:
        yield
        return
    if os.geteuid() != 0:
        unavailable("no Slurm is running and starting one (scripts/slurm-local up) needs root")
    if shutil.which("sbatch") is None and not required:
        unavailable("Slurm is not installed: run `scripts/slurm-local install` as root")
    started = _slurm_local("up")
    if started.returncode != 0:
        unavailable(f"scripts/slurm-local up failed: {started.stderr.strip() or started.stdout}")
    yield
    _slurm_local("down")  # stops only the daemons `up` started
