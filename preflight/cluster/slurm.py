"""Slurm: the batch script ``preflight submit --slurm`` writes, and the commands it calls.

The script asks for ``nodes`` machines with one task each and runs one ``torchrun`` per node
(``srun``); each starts ``procs_per_node`` ranks, and all of them meet at a c10d rendezvous hosted
on the allocation's first node, so the world is ``nodes x procs_per_node`` ranks. Every rank
runs ``preflight train CONFIG --run-id R --expect-fingerprint F --expect-suite-hash H``: rank 0
re-audits (incrementally: unchanged files are not read again) and the run is refused, before any
model is built, unless the manifest fingerprint and the suite hash are the ones the gate passed
at submit time.

``#SBATCH --requeue`` with ``--signal=TERM@grace``: Slurm sends SIGTERM ``grace`` seconds before the
time limit; the training loop stops at the next batch, rank 0 marks the run interrupted and
requeues the job (``requeue``), and the requeued job continues from the run's newest checkpoint.

The commands are Slurm's own (``sbatch --parsable``, ``squeue``, ``sacct``, ``scancel``,
``scontrol requeue``), called with an argument list (no shell) and a timeout; a missing command
or a refusal raises ``SchedulerError`` with what Slurm said. State look-ups never raise: a job no
command knows is ``unknown``.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from preflight.errors import SchedulerError
from preflight.run_config import ClusterConfig

__all__ = [
    "JobSpec",
    "SchedulerState",
    "cancel",
    "fold_state",
    "job_states",
    "log_path",
    "render_script",
    "requeue",
    "sbatch",
]

_TIMEOUT_S = 60  # a controller that does not answer in a minute is down, not slow


class SchedulerState(StrEnum):
    """A job's state as Slurm reports it, folded into the few that matter to a run."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN = "unknown"  # no command answered, or the controller forgot the job


# Slurm's job states (squeue %T, sacct State) that are not already one of ours.
_FOLDED = {
    "CONFIGURING": SchedulerState.RUNNING,
    "COMPLETING": SchedulerState.RUNNING,
    "SIGNALING": SchedulerState.RUNNING,
    "STAGE_OUT": SchedulerState.RUNNING,
    "RESIZING": SchedulerState.RUNNING,
    "SUSPENDED": SchedulerState.RUNNING,
    "REQUEUED": SchedulerState.PENDING,
    "REQUEUE_HOLD": SchedulerState.PENDING,
    "REQUEUE_FED": SchedulerState.PENDING,
    "RESV_DEL_HOLD": SchedulerState.PENDING,
    "PREEMPTED": SchedulerState.FAILED,
    "NODE_FAIL": SchedulerState.FAILED,
    "BOOT_FAIL": SchedulerState.FAILED,
    "DEADLINE": SchedulerState.FAILED,
    "OUT_OF_MEMORY": SchedulerState.FAILED,
}


def fold_state(slurm: str) -> SchedulerState:
    """Ours for a Slurm state string (``CANCELLED by 0`` is CANCELLED)."""
    word = slurm.split()[0].rstrip("+") if slurm.strip() else ""
    if word in SchedulerState.__members__:
        return SchedulerState[word]
    return _FOLDED.get(word, SchedulerState.UNKNOWN)


@dataclass(frozen=True)
class JobSpec:
    """Everything the batch script names.

    Attributes:
        run_id: the run's row in the manifest (the job adopts it).
        config: the run config, absolute (the job reads it again).
        run_dir: the run's folder: the script, the job's log and the checkpoints go there.
        workdir: the job's working directory (where ``preflight submit`` ran).
        fingerprint: the manifest fingerprint the gate passed.
        suite_hash: the hash of the expectation suite the gate ran.
        cluster: the resources.
        torchrun: the ``torchrun`` of the environment preflight is installed in.
    """

    run_id: str
    config: Path
    run_dir: Path
    workdir: Path
    fingerprint: str
    suite_hash: str
    cluster: ClusterConfig
    torchrun: Path


def log_path(run_dir: str | Path, job_id: str) -> Path:
    """Where the job writes its output (``#SBATCH --output``)."""
    return Path(run_dir) / f"slurm-{job_id}.out"


def _directives(spec: JobSpec) -> list[str]:
    c = spec.cluster
    out = [
        f"--job-name=preflight-{spec.run_id}",
        f"--nodes={c.nodes}",
        "--ntasks-per-node=1",  # one torchrun per node; it starts the node's ranks
        f"--cpus-per-task={c.cpus_per_task}",
    ]
    if c.gpus_per_node:
        out.append(f"--gpus-per-node={c.gpus_per_node}")
    for flag, value in (("partition", c.partition), ("account", c.account), ("qos", c.qos)):
        if value:
            out.append(f"--{flag}={value}")
    if c.time:
        out.append(f"--time={c.time}")
    out += [
        f"--chdir={spec.workdir}",
        f"--output={log_path(spec.run_dir, '%j')}",
        "--open-mode=append",  # a requeued job appends to the same log
        "--requeue",
        f"--signal=TERM@{c.signal_grace_s}",
        *c.sbatch_args,
    ]
    return [f"#SBATCH {shlex.quote(d)}" for d in out]


def render_script(spec: JobSpec) -> str:
    """The sbatch script: readable, kept beside the run, shown by ``submit --dry-run``."""
    q = shlex.quote
    c = spec.cluster
    return "\n".join(
        [
            "#!/bin/bash",
            f"# preflight run {spec.run_id}: the gate passed on the submitting host for",
            f"#   manifest fingerprint {spec.fingerprint}",
            f"#   suite hash           {spec.suite_hash}",
            "# Rank 0 re-audits at job start (unchanged files are not read again) and exits 1",
            "# before any model is built if the corpus or the suite changed since.",
            *_directives(spec),
            "set -euo pipefail",
            "",
            "# One torchrun per node; the ranks meet at a c10d rendezvous on the first node.",
            'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
            "port=$((20000 + SLURM_JOB_ID % 20000))",
            'export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"',
            "export PYTHONUNBUFFERED=1  # the log shows each epoch as it ends",
            'echo "preflight: job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, '
            'nodes $SLURM_JOB_NODELIST"',
            f"srun --kill-on-bad-exit=1 {q(str(spec.torchrun))} \\",
            f'  --nnodes "$SLURM_NNODES" --nproc_per_node {c.ranks_per_node} \\',
            '  --rdzv_backend c10d --rdzv_endpoint "$head_node:$port" \\',
            '  --rdzv_id "$SLURM_JOB_ID" \\',
            f"  -m preflight train {q(str(spec.config))} --run-id {q(spec.run_id)} \\",
            f"  --expect-fingerprint {q(spec.fingerprint)} \\",
            f"  --expect-suite-hash {q(spec.suite_hash)}",
            "",
        ]
    )


def _call(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a Slurm command; SchedulerError when it is missing or hangs."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise SchedulerError(
            f"{args[0]} not found: run on a Slurm login node, or put Slurm's commands on PATH"
        ) from None
    except subprocess.TimeoutExpired:
        raise SchedulerError(f"{args[0]} did not answer in {_TIMEOUT_S} s") from None


def _refused(what: str, done: subprocess.CompletedProcess[str]) -> SchedulerError:
    said = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
    return SchedulerError(f"{what} failed: {said}")


def sbatch(script: Path) -> str:
    """Submit a batch script; its job id (``sbatch --parsable``).

    Raises:
        SchedulerError: sbatch is missing or refused the script (its message says why).
    """
    done = _call(["sbatch", "--parsable", str(script)])
    job_id = done.stdout.strip().split(";")[0]  # "<id>" or "<id>;<cluster>"
    if done.returncode != 0 or not job_id.isdigit():
        raise _refused(f"sbatch {script}", done)
    return job_id


def cancel(job_id: str) -> None:
    """``scancel`` a job.

    Raises:
        SchedulerError: scancel is missing or refused.
    """
    done = _call(["scancel", job_id])
    if done.returncode != 0:
        raise _refused(f"scancel {job_id}", done)


def requeue(job_id: str) -> str | None:
    """``scontrol requeue`` a job from inside it; None when done, else what Slurm said.

    Refused for a job being cancelled: a cancel stays a cancel.
    """
    try:
        done = _call(["scontrol", "requeue", job_id])
    except SchedulerError as exc:
        return exc.message
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()


def _parse(lines: str) -> dict[str, SchedulerState]:
    """``<id>|<state>`` lines; job steps (``12.0``, ``12.batch``) are left out."""
    out = {}
    for line in lines.splitlines():
        job, _, state = line.strip().partition("|")
        if job.isdigit():
            out[job] = fold_state(state)
    return out


def _answered(args: list[str]) -> dict[str, SchedulerState]:
    try:
        done = _call(args)
    except SchedulerError:
        return {}
    return _parse(done.stdout) if done.returncode == 0 else {}


def job_states(job_ids: Iterable[str]) -> dict[str, SchedulerState]:
    """The scheduler's state of each job: ``squeue`` (jobs the controller still holds,
    finished ones for ``MinJobAge``), then ``sacct`` (accounting, when the cluster keeps it);
    ``unknown`` for a job neither knows or when no command answers. Never raises."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    found = _answered(["squeue", "-h", "-t", "all", "-o", "%i|%T"])
    missing = [j for j in wanted if j not in found]
    if missing:
        found |= _answered(
            ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(missing)]
        )
    return {j: found.get(j, SchedulerState.UNKNOWN) for j in wanted}
