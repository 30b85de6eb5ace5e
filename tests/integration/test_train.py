"""Gated training runs end to end on tiny synthetic corpora (128 Hz, a model of ~3k parameters).

Every run audits its corpus first (incremental: the gate's records are reused while the corpus
and the gate settings stay the same, so every config here keeps batch_size 8 and a positive
target of 0.5), then trains 1-3 epochs of a few steps on the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
import typer
import yaml
from typer.testing import CliRunner

from preflight.cli.runs import runs_app
from preflight.cli.train import train as train_command
from preflight.data.dataset import EEGWindowDataset
from preflight.errors import UsageError
from preflight.manifest.runs import RunStatus
from preflight.manifest.store import Manifest
from preflight.models.seizure import SeizureTCN
from preflight.pipelines.train import RunResult, train
from preflight.results import Severity
from preflight.run_config import RunConfig, load_run_config
from preflight.synth.corpus import Defect, SynthSpec, synthesize
from preflight.training.checkpoint import BEST, load_checkpoint, load_model
from preflight.training.monitors import Monitor

ROOT = Path(__file__).resolve().parents[2]


def _corpus(root: Path, **changes: Any) -> Path:
    """A TUSZ-layout corpus at 128 Hz: two train and two dev patients, two recordings each."""
    spec = dict(
        train_patients=2, dev_patients=2, eval_patients=0, recordings_per_patient=2,
        min_duration_s=120, max_duration_s=160, sampling_rates=(128,),
        seizures_per_recording=(1, 1), seizure_duration_s=(15.0, 30.0),
    )  # fmt: skip
    synthesize(root, SynthSpec(**{**spec, **changes}))  # type: ignore[arg-type]
    return root


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 18 % positive windows in each split: a corpus the gate passes."""
    return _corpus(tmp_path_factory.mktemp("healthy") / "corpus")


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """The two commands, registered as ``preflight.cli`` registers them."""
    app = typer.Typer()
    app.command("train")(train_command)
    app.add_typer(runs_app, name="runs")
    return app


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def write_config(folder: Path, corpus: Path, **sections: Any) -> Path:
    """A run config for ``corpus`` with runs under ``folder``; ``sections`` change the defaults.

    The defaults learn the synthetic seizures in 2 x 24 steps (validation AUROC near 1 and some
    windows predicted positive at epoch 2), so the collapse monitors pass when they count.
    """
    config = _merge(
        {
            "data": {"source": str(corpus)},
            "preprocess": {"rate": 128, "h_freq": 40},
            "model": {"name": "seizure_tcn", "kwargs": {"hidden": 8, "levels": 2}},
            "train": {
                "batch_size": 8,
                "target_positive_fraction": 0.5,
                "epochs": 2,
                "steps_per_epoch": 24,
                "sample_loss_weight": 0,
            },
            "optim": {"lr": 0.03, "min_lr": 0.003},
            "checkpoint": {"dir": str(folder / "runs")},
        },
        sections,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model_state"]  # type: ignore[no-any-return]


class _Interrupt(KeyboardInterrupt):
    """What a Ctrl-C (or a kill) after an epoch looks like to the run."""


def _interrupt_after(epoch: int) -> Any:
    def on_epoch(summary: dict[str, Any]) -> None:
        if summary["epoch"] == epoch:
            raise _Interrupt

    return on_epoch


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("optim: {lr: -0.1}", "optim.lr (line"),
        ("train: {batch_size: 0}", "train.batch_size (line"),
        ("model: {name: seizure_tnc}", "unknown model 'seizure_tnc': did you mean 'seizure_tcn'"),
        ("train: {epochs: 2, learning_rate: 0.1}", "train.learning_rate (line"),
    ],
)
def test_invalid_config_exits_2_naming_the_key(
    cli: typer.Typer, tmp_path: Path, line: str, key: str
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"data: {{source: {tmp_path}}}\n{line}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["train", str(path)])
    assert result.exit_code == 2, result.output
    assert key in " ".join(result.output.split())


def test_runs_without_a_manifest_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", "--manifest", str(tmp_path / "absent.duckdb")])
    assert result.exit_code == 2
    assert "absent.duckdb: no such file or folder" in " ".join(result.output.split())


@pytest.mark.slow
def test_gate_failure_exits_1_before_any_model(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No model is instantiated, no cache built, no checkpoint written; the row says why."""
    corpus = _corpus(tmp_path / "broken", defects={Defect.NO_DEV_POSITIVES})
    built: list[object] = []
    original = SeizureTCN.__init__

    def spy(self: SeizureTCN, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(SeizureTCN, "__init__", spy)
    config = write_config(tmp_path, corpus)
    result = CliRunner().invoke(cli, ["train", str(config)])
    assert result.exit_code == 1, result.output
    assert "the gate failed" in result.output
    assert built == []
    assert not (tmp_path / "runs").exists()
    assert not (corpus / ".preflight" / "cache").exists()
    listed = CliRunner().invoke(cli, ["runs", "--config", str(config), "--json"])
    runs = json.loads(listed.output)
    assert [r["status"] for r in runs] == [RunStatus.GATE_FAILED]
    assert "min_positive" in runs[0]["message"] or "positive" in runs[0]["message"]


@pytest.mark.slow
def test_healthy_run_completes_with_self_describing_checkpoints(
    cli: typer.Typer, healthy: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path, healthy)
    result = CliRunner().invoke(cli, ["train", str(config)])
    assert result.exit_code == 0, result.output
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--config", str(config), "--json"]).output)
    run = next(r for r in listed if r["config"]["checkpoint"]["dir"] == str(tmp_path / "runs"))
    assert run["status"] == RunStatus.COMPLETED
    errors = [m for m in run["monitors"] if m["severity"] == Severity.ERROR]
    assert errors
    assert all(m["passed"] for m in errors)
    assert [m["with_positives"] for m in run["metrics"]] == [24, 24]
    folder = Path(run["run_dir"])
    assert sorted(p.name for p in folder.iterdir()) == [BEST, "epoch-0001.pt", "epoch-0002.pt"]
    payload = load_checkpoint(folder / "epoch-0002.pt")  # torch.load(weights_only=True)
    assert payload["model"] == {
        "name": "seizure_tcn",
        "kwargs": {
            "in_channels": 19, "sampling_rate": 128.0, "hidden": 8, "levels": 2,
            "kernel_size": 7, "dropout": 0.1,
        },
    }  # fmt: skip
    assert (payload["step"], payload["epoch"], payload["rng"]["sampler"]["epoch"]) == (48, 2, 2)
    assert json.loads(payload["config"])["train"]["epochs"] == 2
    assert len(payload["manifest_fingerprint"]) > 8
    assert len(payload["suite_hash"]) == 64
    model = load_model(folder / BEST)
    assert model(torch.zeros(1, 19, 1280)).window.shape == (1,)
    shown = CliRunner().invoke(cli, ["runs", "show", run["run_id"][:17], "--config", str(config)])
    assert shown.exit_code == 0
    assert "COMPLETED" in shown.output


@pytest.mark.slow
def test_resume_ends_with_the_uninterrupted_weights(healthy: Path, tmp_path: Path) -> None:
    """2 epochs straight == 1 epoch, interrupted, then resumed (dropout and per-sample loss on)."""
    changes = {"train": {"sample_loss_weight": 0.5}, "monitors": {"warmup_epochs": 2}}
    straight = train(load_run_config(write_config(tmp_path / "a", healthy, **changes)))
    assert straight.status is RunStatus.COMPLETED, straight.message
    config = load_run_config(write_config(tmp_path / "b", healthy, **changes))
    with pytest.raises(_Interrupt):
        train(config, on_epoch=_interrupt_after(1))
    notices: list[Any] = []
    resumed = train(config, resume=True, on_gate=notices.append)
    assert resumed.status is RunStatus.COMPLETED, resumed.message
    (notice,) = notices  # told before anything was built: which run, which checkpoint
    assert notice.resumed is not None
    run_id, checkpoint, epoch, step = notice.resumed
    assert (run_id, checkpoint.name, epoch, step) == (resumed.run_id, "epoch-0001.pt", 1, 24)
    assert resumed.run_dir is not None
    assert straight.run_dir is not None
    assert resumed.run_id == resumed.run_dir.name  # the interrupted run, continued
    expected = _weights(straight.run_dir / "epoch-0002.pt")
    got = _weights(resumed.run_dir / "epoch-0002.pt")
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert [m["step"] for m in resumed.metrics] == [24, 48]


@pytest.mark.slow
def test_corrupted_latest_checkpoint_falls_back_to_the_previous(
    healthy: Path, tmp_path: Path
) -> None:
    config = load_run_config(
        write_config(
            tmp_path,
            healthy,
            train={"epochs": 3, "steps_per_epoch": 4},
            monitors={"warmup_epochs": 3},
        )
    )
    with pytest.raises(_Interrupt):
        train(config, on_epoch=_interrupt_after(2))
    folder = next((tmp_path / "runs").iterdir())
    latest = folder / "epoch-0002.pt"
    original = _weights(latest)
    latest.write_bytes(latest.read_bytes()[:1000])  # a torn write on a full disk
    notices: list[Any] = []
    resumed = train(config, resume=True, on_gate=notices.append)
    assert resumed.status is RunStatus.COMPLETED, resumed.message
    (notice,) = notices  # the torn epoch-0002.pt skipped
    assert notice.resumed is not None
    run_id, checkpoint, epoch, step = notice.resumed
    assert (run_id, checkpoint.name, epoch, step) == (resumed.run_id, "epoch-0001.pt", 1, 4)
    fallback = [m for m in resumed.monitors if m.name == Monitor.CHECKPOINT_FALLBACK]
    assert len(fallback) == 1
    assert "resumed from epoch-0001.pt" in fallback[0].message
    assert "epoch-0002.pt" in fallback[0].message
    redone = _weights(folder / "epoch-0002.pt")  # epoch 2 trained again from epoch 1
    assert all(torch.equal(original[k], redone[k]) for k in original)
    assert [m["epoch"] for m in resumed.metrics] == [1, 2, 3]


def test_resume_without_an_interrupted_run_is_a_usage_error(healthy: Path, tmp_path: Path) -> None:
    config = load_run_config(write_config(tmp_path, healthy))
    with pytest.raises(UsageError, match="nothing to resume"):
        train(config, resume=True)


@pytest.mark.slow
def test_collapse_on_a_rare_positive_corpus_is_stopped_with_a_diagnosis(
    cli: typer.Typer, tmp_path: Path
) -> None:
    """Natural sampling of ~1.5 % positives and an unweighted loss: 'negative' everywhere."""
    corpus = _corpus(
        tmp_path / "rare", min_duration_s=300, max_duration_s=300, seizure_rate=0.25,
        seizure_duration_s=(4.0, 4.0),
    )  # fmt: skip
    config = write_config(
        tmp_path, corpus, train={"sampling": "natural", "target_positive_fraction": 0.1},
        monitors={"warmup_epochs": 0},
    )  # fmt: skip
    result = CliRunner().invoke(cli, ["train", str(config)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "STOPPED_BY_MONITOR" in text
    assert "collapse" in text
    assert "train.sampling: balanced" in text
    run = json.loads(CliRunner().invoke(cli, ["runs", "--config", str(config), "--json"]).output)
    stopped = [r for r in run if r["status"] == RunStatus.STOPPED_BY_MONITOR]
    assert len(stopped) == 1
    assert len(stopped[0]["metrics"]) == 1
    failed = {m["name"] for m in stopped[0]["monitors"] if not m["passed"]}
    assert Monitor.POSITIVE_RATE in failed


@pytest.mark.slow
def test_nan_loss_stops_the_run(healthy: Path, tmp_path: Path) -> None:
    """lr 1e6 with weight decay multiplies the weights by -9999 a step: inf, then NaN."""
    config = load_run_config(
        write_config(
            tmp_path,
            healthy,
            optim={"lr": 1e6, "min_lr": 0, "grad_clip": None},
            train={"epochs": 1},
        )
    )
    result: RunResult = train(config)
    assert result.status is RunStatus.STOPPED_BY_MONITOR
    failed = [m for m in result.monitors if not m.passed]
    assert failed[-1].name in (Monitor.FINITE_LOSS, Monitor.FINITE_GRADIENTS, Monitor.FINITE_SCORES)
    assert "non-finite" in result.message
    assert "optim.lr" in result.message
    assert result.checkpoints == []


@pytest.mark.slow
def test_a_poisoned_batch_is_quarantined_and_recorded(
    healthy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN sample never reaches the model: its batch is skipped and written to the manifest."""
    original = EEGWindowDataset.__getitems__
    calls: list[int] = []

    def poisoned(self: EEGWindowDataset, indices: Sequence[int]) -> Any:
        batch = original(self, indices)
        if not calls and len(indices) == 8:  # the first training batch
            batch.batch.x[3, 0, 100] = float("nan")
        calls.append(len(indices))
        return batch

    monkeypatch.setattr(EEGWindowDataset, "__getitems__", poisoned)
    config = write_config(tmp_path, healthy, train={"epochs": 1, "steps_per_epoch": 4})
    result = train(load_run_config(config))
    assert result.status is RunStatus.COMPLETED, result.message
    assert (result.metrics[0]["quarantined"], result.metrics[0]["batches"]) == (1, 3)
    with Manifest.open(healthy / ".preflight" / "manifest.duckdb", read_only=True) as m:
        rows = m.query(
            "SELECT reason, count(*) FROM quarantine WHERE run_id = ? GROUP BY reason ORDER BY 1",
            [result.run_id],
        )
    assert rows == [("batch_quarantined", 7), ("non_finite", 1)]


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(healthy: Path, tmp_path: Path) -> None:
    """`torchrun --nproc_per_node 2 -m preflight train CONFIG`: gloo, rank 0 writes alone."""
    config_path = write_config(
        tmp_path, healthy, train={"steps_per_epoch": 4}, monitors={"warmup_epochs": 2}
    )
    config: RunConfig = load_run_config(config_path)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "preflight", "train", str(config_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": COMPLETED") == 1  # rank 1 prints nothing
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1
    assert sorted(p.name for p in folders[0].iterdir()) == [BEST, "epoch-0001.pt", "epoch-0002.pt"]
    payload = load_checkpoint(folders[0] / "epoch-0002.pt")
    history = json.loads(payload["history"])
    assert [h["batches"] for h in history] == [8, 8]  # 4 steps on each of 2 ranks
    assert json.loads(payload["config"]) == json.loads(config.model_dump_json())


@pytest.fixture(scope="module")
def with_eval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train, dev and eval splits of two patients each (a TUSZ layout): dev validates, eval is
    held out."""
    return _corpus(tmp_path_factory.mktemp("with_eval") / "corpus", eval_patients=2)


def _windows(corpus: Path, split: str) -> int:
    with Manifest.open(corpus / ".preflight" / "manifest.duckdb", read_only=True) as m:
        return int(m.query("SELECT count(*) FROM window_labels WHERE split = ?", [split])[0][0])


@pytest.mark.slow
def test_validation_chooses_and_the_held_out_split_is_scored_once(
    cli: typer.Typer, with_eval: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoint, monitors and the false-alarm threshold come from dev alone; eval is scored
    once at the end with best.pt and dev's threshold, and reported apart as held out."""
    from preflight.training import final as train_final

    passes: list[str] = []
    real_validate = train_final.validate

    def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append(kwargs["split"])
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(train_final, "validate", counted)
    config = write_config(tmp_path, with_eval)
    html = tmp_path / "run.html"
    result = CliRunner().invoke(cli, ["train", str(config), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert passes.count("eval") == 1  # held out: scored once, never per epoch
    assert set(passes) == {"dev", "eval"}
    text = " ".join(result.output.split())
    assert "Validation (dev): chooses the checkpoint" in text
    assert (
        "Held out (eval): scored once, with these weights and the thresholds chosen on dev" in text
    )
    listed = json.loads(CliRunner().invoke(cli, ["runs", "--config", str(config), "--json"]).output)
    run = next(r for r in listed if r["config"]["checkpoint"]["dir"] == str(tmp_path / "runs"))
    dev, held_windows = _windows(with_eval, "dev"), _windows(with_eval, "eval")
    assert all(m["validation"]["windows"] == dev for m in run["metrics"])  # eval never peeked at
    assert all("events" not in m for m in run["metrics"])
    final = run["evaluation"]
    assert final["checkpoint"]["name"] == BEST
    assert final["checkpoint"]["epoch"] == run["checkpoints"]["best"]["epoch"]
    assert final["validation"]["splits"] == ["dev"]
    held = final["held_out"]
    assert (held["splits"], held["window"]["windows"]) == (["eval"], held_windows)
    chosen = final["validation"]["events"]["at_target"]["threshold"]
    assert held["events"]["threshold_chosen_on"] == "dev"
    assert held["events"]["at_target"]["threshold"] == chosen  # not chosen again on eval
    assert held["events"]["role"] == "held out"
    assert final["warnings"] == []
    shown = CliRunner().invoke(cli, ["runs", "show", run["run_id"], "--config", str(config)])
    assert "Held out (eval)" in " ".join(shown.output.split())
    page = html.read_text()
    assert "held out (eval)" in page
    assert "Event-level evaluation, held out" in page


@pytest.mark.slow
def test_a_held_out_split_in_validation_is_a_warning_recorded_in_the_run(
    with_eval: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, with_eval, validation={"splits": ["dev", "eval"]},
        train={"epochs": 1, "steps_per_epoch": 4}, monitors={"warmup_epochs": 1},
    )  # fmt: skip
    result = train(load_run_config(config))
    assert result.status is RunStatus.COMPLETED, result.message
    (warned,) = [m for m in result.monitors if m.name == Monitor.HELD_OUT_IN_VALIDATION]
    assert warned.severity is Severity.WARNING
    assert warned.observed == ["eval"]
    assert "validation uses held-out split(s) eval" in warned.message
    assert result.evaluation is not None
    assert result.evaluation["held_out"] is None
    assert result.evaluation["warnings"] == [warned.message]
    windows = _windows(with_eval, "dev") + _windows(with_eval, "eval")
    assert result.metrics[0]["validation"]["windows"] == windows


@pytest.mark.slow
def test_a_run_whose_every_batch_is_quarantined_stops(
    healthy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four batches, all of them poisoned: under min_batches, the run still stops at the end of
    the epoch, naming the check, and never validates or writes a checkpoint."""
    original = EEGWindowDataset.__getitems__

    def poisoned(self: EEGWindowDataset, indices: Sequence[int]) -> Any:
        batch = original(self, indices)
        if len(indices) == 8:  # training batches (validation batches hold 64)
            batch.batch.x[0, 0, 0] = float("nan")
        return batch

    monkeypatch.setattr(EEGWindowDataset, "__getitems__", poisoned)
    config = write_config(tmp_path, healthy, train={"epochs": 2, "steps_per_epoch": 4})
    result = train(load_run_config(config))
    assert result.status is RunStatus.STOPPED_BY_MONITOR
    assert "all 4 batches of the epoch were quarantined" in result.message
    assert "first failing check: non_finite" in result.message
    stop = result.monitors[-1]
    assert (stop.name, stop.observed["rule"], stop.observed["check"]) == (
        Monitor.BATCH_GUARD, "no_batch_passed", "non_finite",
    )  # fmt: skip
    assert result.checkpoints == []
    assert "validation" not in result.metrics[0]
