"""``preflight submit --slurm`` against a real single-node Slurm (``scripts/slurm-local``).

Real parts only: ``sbatch`` queues the rendered script, ``srun`` starts ``torchrun``, torchrun
starts two gloo ranks that train from the real manifest, and the states come from ``squeue``.
One small synthetic corpus is shared by the module (the test that changes a corpus changes its
own copy). Skipped with the reason where no Slurm can run (not root); CI requires it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.cluster.slurm import SchedulerState, job_states, log_path
from preflight.manifest.runs import RunRecord, RunStatus, get_run
from preflight.manifest.store import Manifest
from preflight.pipelines.submit import SCRIPT_NAME, submit
from preflight.synth.corpus import Defect
from tests.integration.test_train import _corpus, write_config

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

RANKS = 2  # torchrun processes per node: the world of every job here
STEPS = 6  # batches per epoch and rank
ENDED = {SchedulerState.COMPLETED, SchedulerState.FAILED, SchedulerState.CANCELLED}
CPU = {"procs_per_node": RANKS, "cpus_per_task": 1, "gpus_per_node": 0, "nodes": 1}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The healthy corpus every passing submission trains on (about 18 % positive windows)."""
    return _corpus(tmp_path_factory.mktemp("slurm") / "corpus")


@pytest.fixture(scope="module")
def config(corpus: Path) -> Path:
    """One epoch of a few steps per rank: the smallest run that checkpoints and validates."""
    return write_config(
        corpus.parent / "one-epoch", corpus, train={"epochs": 1, "steps_per_epoch": STEPS,
                                                    "device": "cpu"},
    )  # fmt: skip


def _row(config: Path, run_id: str) -> RunRecord:
    from preflight.run_config import load_run_config

    data = load_run_config(config).data
    manifest = data.manifest or data.source / ".preflight" / "manifest.duckdb"
    with Manifest.open(manifest, read_only=True) as m:
        return get_run(m, run_id)


def _wait(job: str, until: set[SchedulerState], timeout_s: float = 300) -> SchedulerState:
    """Poll squeue until the job reaches one of ``until`` (a test must be able to fail)."""
    deadline = time.monotonic() + timeout_s
    state = SchedulerState.UNKNOWN
    while time.monotonic() < deadline:
        state = job_states([job])[job]
        if state in until:
            return state
        time.sleep(0.5)
    pytest.fail(f"Slurm job {job} is still {state} after {timeout_s:.0f} s")


def _jobs() -> set[tuple[str, str]]:
    """(job id, job name) of every job squeue still shows, ended ones included.

    Ended jobs leave this set after MinJobAge, so two calls compare as "nothing new",
    never as equal sets.
    """
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i %j"], capture_output=True, text=True, check=True
    )
    return {(job, name) for job, name in (line.split() for line in out.stdout.splitlines())}


def _runs_json(config: Path) -> dict[str, dict[str, object]]:
    shown = CliRunner().invoke(app, ["runs", "--config", str(config), "--json"])
    assert shown.exit_code == 0, shown.output
    return {r["run_id"]: r for r in json.loads(shown.stdout)}


def test_a_gate_failing_config_never_reaches_the_queue(tmp_path: Path) -> None:
    broken = _corpus(tmp_path / "broken", defects={Defect.NO_DEV_POSITIVES})
    config = write_config(tmp_path, broken)
    before = _jobs()
    result = CliRunner().invoke(app, ["submit", str(config), "--slurm", "--procs-per-node", "2"])
    assert result.exit_code == 1, result.output
    assert "NOT SUBMITTED" in result.output
    (run,) = _runs_json(config).values()
    assert run["status"] == RunStatus.GATE_FAILED
    assert run["job_id"] is None
    assert run["scheduler"] == "slurm"
    assert _jobs() - before == set()  # sbatch was never called


def test_a_passing_config_runs_to_completed_on_two_gloo_ranks(config: Path) -> None:
    started = time.monotonic()
    result = submit(config, cluster=CPU)
    assert result.status is RunStatus.QUEUED
    assert result.job_id is not None
    assert result.run_id is not None
    assert result.script_path is not None
    assert result.script_path.name == SCRIPT_NAME
    assert _wait(result.job_id, ENDED) is SchedulerState.COMPLETED
    seconds = time.monotonic() - started
    run = _row(config, result.run_id)
    assert run.status is RunStatus.COMPLETED, run.message
    assert (run.job_id, run.scheduler, run.script) == (
        result.job_id, "slurm", str(result.script_path)
    )  # fmt: skip
    assert run.cluster is not None
    assert run.cluster["procs_per_node"] == RANKS
    assert run.metrics[0]["batches"] == RANKS * STEPS  # summed over both ranks
    assert Path(run.checkpoints["kept"][0]).is_file()
    log = log_path(run.run_dir or "", result.job_id).read_text()
    assert log.count("epoch 1/1") == 1  # only global rank 0 reports
    listed = _runs_json(config)[result.run_id]
    assert (listed["job_id"], listed["scheduler_state"]) == (result.job_id, "COMPLETED")
    shown = CliRunner().invoke(app, ["runs", "show", result.run_id, "--config", str(config)])
    assert shown.exit_code == 0
    assert f"slurm job {result.job_id}: COMPLETED" in shown.output
    assert "torchrun" in shown.output
    assert "--expect-fingerprint" in shown.output
    print(f"submit to COMPLETED: {seconds:.1f} s")


def test_a_corpus_changed_after_submit_is_refused_by_the_job(corpus: Path, tmp_path: Path) -> None:
    own = tmp_path / "corpus"
    shutil.copytree(corpus, own, ignore=shutil.ignore_patterns(".preflight"))
    config = write_config(tmp_path, own, train={"epochs": 1, "steps_per_epoch": STEPS})
    held = submit(config, cluster={**CPU, "sbatch_args": ["--hold"]})
    assert held.job_id is not None
    assert held.run_id is not None
    removed = sorted((own / "edf" / "train").rglob("*.edf"))[0]
    for path in removed.parent.glob(f"{removed.stem}.*"):
        path.unlink()  # one recording less: another manifest fingerprint
    subprocess.run(["scontrol", "release", held.job_id], check=True)
    assert _wait(held.job_id, ENDED) is SchedulerState.FAILED
    run = _row(config, held.run_id)
    assert run.status is RunStatus.GATE_FAILED
    assert "corpus (manifest fingerprint) changed since the gate passed" in (run.message or "")
    assert run.metrics == []
    assert not list(Path(run.run_dir or "").glob("*.pt"))


def test_cancel_ends_a_pending_job(config: Path) -> None:
    held = submit(config, cluster={**CPU, "sbatch_args": ["--hold"]})
    assert held.job_id is not None
    assert held.run_id is not None
    assert job_states([held.job_id])[held.job_id] is SchedulerState.PENDING
    done = CliRunner().invoke(app, ["runs", "cancel", held.run_id, "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert _wait(held.job_id, ENDED, timeout_s=30) is SchedulerState.CANCELLED
    assert _row(config, held.run_id).status is RunStatus.CANCELLED


def test_a_sigtermed_job_is_requeued_and_resumes(corpus: Path) -> None:
    steps = 24
    config = write_config(
        corpus.parent / "three-epochs", corpus,
        train={"epochs": 3, "steps_per_epoch": steps, "device": "cpu"},
        monitors={"warmup_epochs": 3},
    )  # fmt: skip
    result = submit(config, cluster=CPU)
    assert result.job_id is not None
    assert result.script_path is not None
    first = result.script_path.parent / "epoch-0001.pt"
    deadline = time.monotonic() + 240
    while not first.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first.exists(), "the job wrote no first checkpoint in 240 s"
    subprocess.run(["scancel", "--signal=TERM", result.job_id], check=True)  # as a time limit
    assert _wait(result.job_id, ENDED) is SchedulerState.COMPLETED
    run = _row(config, result.run_id or "")
    assert run.status is RunStatus.COMPLETED, run.message
    assert [m["step"] for m in run.metrics] == [steps, 2 * steps, 3 * steps]
    log = log_path(run.run_dir or "", result.job_id).read_text()
    assert "INTERRUPTED  interrupted by SIGTERM" in log
    assert "restart 1" in log  # the same job, requeued by rank 0
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", result.job_id], capture_output=True, text=True
    )
    assert "Restarts=1" in shown.stdout


def test_a_job_sigtermed_before_its_first_batch_is_requeued_and_completes(corpus: Path) -> None:
    """SIGTERM while the job-start re-audit waits: rank 0 requeues, the job starts over.

    The job is held until this test holds the manifest's lock, so its re-audit waits (and says
    so in the log); SIGTERM lands in that wait, before any model exists. Without the requeue the
    job ended there, exit 143, and the run stayed unfinished.
    """
    config = write_config(
        corpus.parent / "early-sigterm", corpus,
        train={"epochs": 1, "steps_per_epoch": STEPS, "device": "cpu"},
    )  # fmt: skip
    result = submit(config, cluster={**CPU, "sbatch_args": ["--hold"]})
    assert result.job_id is not None
    assert result.run_id is not None
    assert result.script_path is not None
    log = log_path(result.script_path.parent, result.job_id)
    with Manifest.open(corpus / ".preflight" / "manifest.duckdb"):  # holds the lock
        subprocess.run(["scontrol", "release", result.job_id], check=True)
        # Start-up (srun, torchrun, torch imported by every rank) before the re-audit: slow
        # on a busy machine. The re-audit's own 30 s wait for the lock starts only once it says
        # so, and the signal follows at once.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (
            log.exists() and "waiting for another audit" in log.read_text()
        ):
            time.sleep(0.1)
        assert log.exists(), "the job wrote no log in 180 s"
        assert "waiting for another audit" in log.read_text(), log.read_text()
        subprocess.run(["scancel", "--signal=TERM", result.job_id], check=True)
        time.sleep(1)  # the ranks take the signal inside the wait; then the lock is let go
    assert _wait(result.job_id, ENDED) is SchedulerState.COMPLETED, log.read_text()
    run = _row(config, result.run_id)
    assert run.status is RunStatus.COMPLETED, run.message
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", result.job_id], capture_output=True, text=True
    )
    assert "Restarts=1" in shown.stdout, log.read_text()
