"""The Slurm batch script, state parsing, a scheduler that does not answer, and the run rows.

No cluster here: ``tests/integration/test_slurm.py`` runs the same code against a real one.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.cluster.slurm import (
    JobSpec,
    SchedulerState,
    fold_state,
    job_states,
    render_script,
    sbatch,
)
from preflight.errors import SchedulerError
from preflight.manifest.runs import RunStatus, list_runs, resumable_runs, set_job, start_run
from preflight.manifest.store import Manifest
from preflight.run_config import ClusterConfig


def _spec(**cluster: object) -> JobSpec:
    return JobSpec(
        run_id="20260101-120000-abcdef", config=Path("/data/my runs/run.yaml"),
        run_dir=Path("/data/runs/20260101-120000-abcdef"), workdir=Path("/data"),
        fingerprint="f" * 32, suite_hash="s" * 64,
        cluster=ClusterConfig.model_validate(cluster), torchrun=Path("/venv/bin/torchrun"),
    )  # fmt: skip


def test_the_script_runs_torchrun_under_srun_with_a_c10d_rendezvous() -> None:
    script = render_script(_spec(nodes=2, gpus_per_node=4, time="12:00:00", partition="gpu"))
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --nodes=2" in directives
    assert "#SBATCH --ntasks-per-node=1" in directives
    assert "#SBATCH --gpus-per-node=4" in directives
    assert "#SBATCH --time=12:00:00" in directives
    assert "#SBATCH --partition=gpu" in directives
    assert "#SBATCH --requeue" in directives
    assert "#SBATCH --signal=TERM@120" in directives
    assert "#SBATCH --output=/data/runs/20260101-120000-abcdef/slurm-%j.out" in directives
    assert '--nnodes "$SLURM_NNODES" --nproc_per_node 4' in script  # one rank per GPU
    assert '--rdzv_backend c10d --rdzv_endpoint "$head_node:$port"' in script
    assert "-m preflight train '/data/my runs/run.yaml'" in script  # quoted for the shell
    assert f"--expect-fingerprint {'f' * 32}" in script
    assert f"--expect-suite-hash {'s' * 64}" in script


def test_a_cpu_script_asks_for_no_gpu_and_takes_the_ranks_given() -> None:
    script = render_script(_spec(procs_per_node=2, sbatch_args=["--mem=4G", "--hold"]))
    assert "--gpus-per-node" not in script
    assert "--nproc_per_node 2" in script
    assert "#SBATCH --mem=4G" in script
    assert "#SBATCH --hold" in script
    assert "--partition" not in script
    assert ClusterConfig().ranks_per_node == 1


@pytest.mark.parametrize(
    ("slurm", "ours"),
    [
        ("PENDING", SchedulerState.PENDING),
        ("RUNNING", SchedulerState.RUNNING),
        ("COMPLETING", SchedulerState.RUNNING),
        ("COMPLETED", SchedulerState.COMPLETED),
        ("CANCELLED by 0", SchedulerState.CANCELLED),
        ("REQUEUED", SchedulerState.PENDING),
        ("NODE_FAIL", SchedulerState.FAILED),
        ("TIMEOUT", SchedulerState.TIMEOUT),
        ("", SchedulerState.UNKNOWN),
        ("SOMETHING_NEW", SchedulerState.UNKNOWN),
    ],
)
def test_slurm_states_fold_into_ours(slurm: str, ours: SchedulerState) -> None:
    assert fold_state(slurm) is ours


def _fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_states_come_from_squeue_then_sacct_else_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake(tmp_path, "squeue", "printf '12|RUNNING\\n13|PENDING\\n'")
    _fake(tmp_path, "sacct", "printf '14|COMPLETED\\n14.batch|COMPLETED\\n'")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert job_states(["12", "13", "14", "15"]) == {
        "12": SchedulerState.RUNNING, "13": SchedulerState.PENDING,
        "14": SchedulerState.COMPLETED, "15": SchedulerState.UNKNOWN,
    }  # fmt: skip


def test_no_scheduler_command_means_unknown_and_runs_still_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "m.duckdb"
    start_run(manifest, "r1", config={}, audit_id=None, run_dir=tmp_path, status=RunStatus.QUEUED)
    set_job(manifest, "r1", scheduler="slurm", job_id="7", script=None, cluster={"nodes": 1})
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue, no sacct
    assert job_states(["7"]) == {"7": SchedulerState.UNKNOWN}
    listed = CliRunner().invoke(app, ["runs", "--manifest", str(manifest), "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["job_id"], row["scheduler_state"], row["status"]) == ("7", "unknown", "queued")


def test_a_refused_sbatch_says_what_slurm_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake(tmp_path, "sbatch", "echo 'sbatch: error: invalid partition specified: gpu' >&2; exit 1")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SchedulerError, match="invalid partition specified: gpu"):
        sbatch(tmp_path / "job.sh")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(SchedulerError, match="sbatch not found"):
        sbatch(tmp_path / "job.sh")


def test_a_version_3_runs_table_gains_the_job_columns(tmp_path: Path) -> None:
    manifest = tmp_path / "m.duckdb"
    with Manifest.open(manifest):
        pass
    con = duckdb.connect(str(manifest))
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.execute(
        "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, kind VARCHAR, started TIMESTAMP, "
        "finished TIMESTAMP, status VARCHAR, message VARCHAR, config VARCHAR, audit_id INTEGER, "
        "run_dir VARCHAR, metrics VARCHAR, checkpoints VARCHAR, monitors VARCHAR)"
    )
    con.execute("INSERT INTO runs VALUES ('old', 'train', now(), NULL, 'interrupted', NULL, "
                "'{}', NULL, NULL, '[]', '{}', '[]')")  # fmt: skip
    con.close()
    with Manifest.open(manifest, read_only=True) as m:  # read-only: not migrated, still read
        (old,) = list_runs(m)
    assert old.job_id is None
    with Manifest.open(manifest) as m:  # migrated
        (old,) = list_runs(m)
        assert [r.run_id for r in resumable_runs(m)] == ["old"]
    set_job(manifest, "old", scheduler="slurm", job_id="3", script=None, cluster={})
    with Manifest.open(manifest, read_only=True) as m:
        assert list_runs(m)[0].job_id == "3"


def test_train_takes_the_three_expectations_together(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("data: {source: corpus}\n")
    done = CliRunner().invoke(app, ["train", str(config), "--run-id", "r1"])
    assert done.exit_code == 2
    assert "go together" in done.output


def test_submit_needs_a_scheduler(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["submit", str(tmp_path / "run.yaml")])
    assert done.exit_code == 2
    assert "--slurm" in done.output
