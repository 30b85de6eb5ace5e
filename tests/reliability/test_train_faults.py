"""Training faults: a real ``preflight train`` SIGKILLed mid-run, its newest checkpoint torn.

``tests/integration/test_train.py`` interrupts runs in-process (an exception after an epoch) and
checks the resumed weights and the fallback from a corrupt checkpoint. Here the run is a separate
``preflight train`` process killed with SIGKILL at whatever it is doing once its second epoch's
checkpoint exists (training, writing a checkpoint, pruning, updating the manifest), its newest
checkpoint is then cut short, and ``preflight train --resume`` must report the torn file, resume
from the one before, and end with weights ``torch.equal`` to an uninterrupted run's.

No timing decides anything: the killed run is let run in short slices (SIGCONT ... SIGSTOP) and
the run folder is looked at only while it is stopped, so it cannot finish between the look and
the kill however loaded the machine is.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from preflight.synth.corpus import SynthSpec, synthesize
from preflight.training.checkpoint import load_checkpoint

EPOCHS = 4
SLICE_S = 0.05  # how long the run to be killed runs between two looks at its folder
DEADLINE_S = 900.0  # a generous bound for a loaded machine; it only stops a hung test
# One intra-op thread in every run: the same float reductions, so the same weights.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "2000"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TUSZ-layout corpus at 128 Hz: two train and two dev patients, two recordings each."""
    spec = SynthSpec(
        train_patients=2, dev_patients=2, eval_patients=0, recordings_per_patient=2,
        min_duration_s=120, max_duration_s=160, sampling_rates=(128,),
        seizures_per_recording=(1, 1), seizure_duration_s=(15.0, 30.0),
    )  # fmt: skip
    return synthesize(tmp_path_factory.mktemp("train-faults") / "corpus", spec).root


def write_config(folder: Path, corpus: Path) -> Path:
    """A run config of 4 short epochs of a ~3k-parameter model; checkpoints in ``folder/runs``."""
    config = {
        "data": {"source": str(corpus)},
        "preprocess": {"rate": 128, "h_freq": 40},
        "model": {"name": "seizure_tcn", "kwargs": {"hidden": 8, "levels": 2}},
        "train": {
            "batch_size": 8, "target_positive_fraction": 0.5, "epochs": EPOCHS,
            "steps_per_epoch": 8, "device": "cpu",
        },
        "optim": {"lr": 0.03, "min_lr": 0.003},
        "monitors": {"warmup_epochs": EPOCHS},  # collapse checks never stop these short runs
        "checkpoint": {"dir": "runs", "keep_last": 2},
    }  # fmt: skip
    folder.mkdir(parents=True)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def preflight(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m preflight ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "preflight", *args], capture_output=True, text=True, env=ENV,
        timeout=DEADLINE_S,
    )  # fmt: skip


@contextlib.contextmanager
def started(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m preflight ARGS`` in its own session; killed (group and all) on the way out."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", *args], env=ENV, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def kill_once_checkpointed(proc: subprocess.Popen[bytes], runs: Path, epoch: int) -> None:
    """SIGKILL ``proc`` once epoch ``epoch``'s checkpoint exists, while the run is mid-way."""
    deadline = time.monotonic() + DEADLINE_S
    name = f"epoch-{epoch:04d}.pt"
    while True:
        os.kill(proc.pid, signal.SIGSTOP)
        if any(runs.glob(f"*/{name}")):
            break  # stopped: it cannot finish before the kill
        assert proc.poll() is None, f"the run exited ({proc.returncode}) before writing {name}"
        assert time.monotonic() < deadline, f"no {name} after {DEADLINE_S:g} s"
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(SLICE_S)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model_state"]  # type: ignore[no-any-return]


def only_run(runs: Path) -> Path:
    [folder] = list(runs.iterdir())
    return folder


def test_sigkill_then_resume_from_a_torn_checkpoint_gives_the_uninterrupted_weights(
    corpus: Path, tmp_path: Path
) -> None:
    straight = write_config(tmp_path / "straight", corpus)
    done = preflight("train", str(straight), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = weights(only_run(tmp_path / "straight" / "runs") / f"epoch-{EPOCHS:04d}.pt")

    config = write_config(tmp_path / "killed", corpus)
    runs = tmp_path / "killed" / "runs"
    with started("train", str(config), "-q") as proc:
        kill_once_checkpointed(proc, runs, epoch=2)
    folder = only_run(runs)
    newest = max(folder.glob("epoch-*.pt"))
    newest.write_bytes(newest.read_bytes()[:1000])  # a write torn by a full disk, or a crash

    resumed = preflight("train", str(config), "--resume", "-q")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    got = weights(folder / f"epoch-{EPOCHS:04d}.pt")
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)

    listed = preflight("runs", "--config", str(config), "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = [r for r in json.loads(listed.stdout) if r["run_dir"] == str(folder)]
    assert run["status"] == "completed"
    fallback: list[dict[str, Any]] = [
        m for m in run["monitors"] if m["name"] == "checkpoint_fallback"
    ]
    assert len(fallback) == 1, run["monitors"]
    assert newest.name in fallback[0]["message"]
    assert "resumed from epoch-" in fallback[0]["message"]
