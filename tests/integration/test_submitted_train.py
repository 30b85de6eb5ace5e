"""``preflight train --run-id R --expect-fingerprint F --expect-suite-hash H`` in one process:
what a Slurm job runs, without the scheduler (``test_slurm.py`` runs it under Slurm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.manifest.runs import RunStatus, get_run
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.pipelines.submit import Expected
from preflight.pipelines.train import train
from preflight.run_config import load_run_config
from tests.integration.test_train import _corpus, write_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus the gate passes (test_train's)."""
    return _corpus(tmp_path_factory.mktemp("submitted") / "corpus")


def _gate(corpus: Path) -> tuple[str, str]:
    report = audit(corpus)
    return report.manifest.fingerprint, str(report.provenance["suite_hash"])


def test_a_script_without_a_row_records_its_run_and_trains(healthy: Path, tmp_path: Path) -> None:
    """`submit --dry-run > job.sh` then `sbatch job.sh`: the job records the run it trains."""
    config = load_run_config(
        write_config(tmp_path, healthy, train={"epochs": 1, "steps_per_epoch": 4})
    )
    fingerprint, suite = _gate(healthy)
    result = train(config, expected=Expected("20260101-000000-dryrun", fingerprint, suite))
    assert result.status is RunStatus.COMPLETED, result.message
    assert result.run_id == "20260101-000000-dryrun"
    with Manifest.open(healthy / ".preflight" / "manifest.duckdb", read_only=True) as m:
        row = get_run(m, result.run_id)
    assert row.status is RunStatus.COMPLETED
    assert row.scheduler == "slurm"


def test_another_fingerprint_is_refused_before_any_model(healthy: Path, tmp_path: Path) -> None:
    config = load_run_config(
        write_config(tmp_path, healthy, train={"epochs": 1, "steps_per_epoch": 4})
    )
    _, suite = _gate(healthy)
    result = train(config, expected=Expected("20260101-000000-stale", "0" * 32, suite))
    assert (result.status, result.exit_code) == (RunStatus.GATE_FAILED, 1)
    assert "corpus (manifest fingerprint) changed since the gate passed" in result.message
    assert result.run_dir is None
    assert not list((tmp_path / "runs").glob("*/*.pt"))
    with Manifest.open(healthy / ".preflight" / "manifest.duckdb", read_only=True) as m:
        assert get_run(m, result.run_id).status is RunStatus.GATE_FAILED
