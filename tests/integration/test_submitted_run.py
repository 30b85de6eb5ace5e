"""What a Slurm job runs, in one process, without the scheduler (``test_slurm.py`` runs it there).

``preflight train --run-id R --expect-fingerprint F --expect-suite-hash H`` re-checks the corpus
before it builds anything. SIGTERM (a time limit) is sent from the epoch callback, as Slurm would
send it mid-run: the loop stops at the next batch, marks the run interrupted at its last epoch
checkpoint and exits 143; ``--resume`` then ends with the weights of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from preflight.manifest.runs import RunStatus, get_run
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.pipelines.submit import Expected
from preflight.pipelines.train import train
from preflight.run_config import load_run_config
from preflight.training.checkpoint import load_checkpoint
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


def _sigterm_after_first_epoch(summary: dict[str, Any]) -> None:
    if summary["epoch"] == 1:
        os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_stops_at_a_batch_and_resume_ends_with_the_uninterrupted_weights(
    healthy: Path, tmp_path: Path
) -> None:
    changes = {"train": {"steps_per_epoch": 12}, "monitors": {"warmup_epochs": 2}}
    straight = train(load_run_config(write_config(tmp_path / "a", healthy, **changes)))
    assert straight.status is RunStatus.COMPLETED, straight.message
    config = load_run_config(write_config(tmp_path / "b", healthy, **changes))
    before = signal.getsignal(signal.SIGTERM)
    stopped = train(config, on_epoch=_sigterm_after_first_epoch)
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the run's only
    assert (stopped.status, stopped.exit_code) == (RunStatus.INTERRUPTED, 143)
    assert "in epoch 2 after 12 steps" in stopped.message  # at the first batch after it
    manifest = config.data.manifest or healthy / ".preflight" / "manifest.duckdb"
    with Manifest.open(manifest, read_only=True) as m:
        row = get_run(m, stopped.run_id)
    assert row.status is RunStatus.INTERRUPTED
    assert len(row.metrics) == 1
    resumed = train(config, resume=True)
    assert resumed.status is RunStatus.COMPLETED
    assert resumed.run_id == stopped.run_id
    assert straight.run_dir is not None
    assert resumed.run_dir is not None
    want = load_checkpoint(straight.run_dir / "epoch-0002.pt")["model_state"]
    got = load_checkpoint(resumed.run_dir / "epoch-0002.pt")["model_state"]
    assert all(torch.equal(want[k], got[k]) for k in want)
