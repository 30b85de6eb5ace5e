"""The training run's parts on their own: run config, LR schedule, loss, monitors, checkpoints,
the runs table and the single-process world (the integration tests run them together)."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from preflight.errors import ConfigError, UsageError
from preflight.manifest.runs import (
    RunStatus,
    get_run,
    list_runs,
    resumable_runs,
    set_status,
    start_run,
    update_run,
)
from preflight.manifest.store import Manifest
from preflight.models.seizure import SeizureOutput
from preflight.results import Severity
from preflight.run_config import (
    DataConfig,
    MonitorConfig,
    RunConfig,
    Sampling,
    TrainConfig,
    load_run_config,
)
from preflight.training import checkpoint as ckpt
from preflight.training.distributed import World
from preflight.training.loop import compute_loss, is_better, learning_rate
from preflight.training.monitors import (
    Monitor,
    MonitorRecord,
    StepWatch,
    ValidationMetrics,
    diagnose,
    stopping,
    validation_records,
)
from preflight.training.validation import model_logits

EXAMPLE = """\
data:
  source: corpus
preprocess: {rate: 128, h_freq: 40, montage: tcp}
model:
  name: seizure_tcn
  kwargs: {hidden: 16, levels: 3}
train: {epochs: 3, batch_size: 16, sampling: natural, pos_weight: true, seed: 7}
optim: {lr: 0.001, min_lr: 0.0001, warmup_fraction: 0.1, grad_clip: null}
validation: {splits: [dev]}
monitors: {warmup_epochs: 2, threshold: 0.4}
checkpoint: {dir: out, keep_last: 3, best_by: loss}
"""


def write(tmp_path: Path, text: str) -> Path:
    """A run config file holding ``text``."""
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    """The message of the ConfigError that loading ``text`` raises, on one line."""
    with pytest.raises(ConfigError) as info:
        load_run_config(write(tmp_path, text))
    return " ".join(str(info.value).split())


def test_example_config_loads_with_paths_beside_the_file(tmp_path: Path) -> None:
    config = load_run_config(write(tmp_path, EXAMPLE))
    assert config.data.source == tmp_path / "corpus"
    assert config.checkpoint.dir == tmp_path / "out"
    assert config.train.sampling is Sampling.NATURAL
    assert config.gate.batch_size == 16  # the gate checks the batch size that trains
    assert config.preprocess.preprocessing().montage.name == "tcp"
    assert config.optim.grad_clip is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("data: {source: c}\noptim: {lr: -1}\n", "optim.lr (line 2): Input should be greater"),
        ("data: {source: c}\ntrain: {batch_size: 0}\n", "train.batch_size (line 2)"),
        ("data: {source: c}\nmodel: {name: nope}\n", "model.name (line 2): unknown model 'nope'"),
        ("data: {source: c}\nmodel: {kwargs: {width: 3}}\n",
         "model.kwargs (line 2): model 'seizure_tcn': got an unexpected keyword argument 'width'"),
        ("data: {source: c}\ntrain: {epoch: 3}\n",
         "train.epoch (line 2): unknown key 'epoch' in train: did you mean 'epochs'?"),
        ("train: {epochs: 3}\n", "data: Field required"),
        ("data: {source: c}\ntrain: {pos_weight: true}\n", "corrects the class imbalance twice"),
        ("data: {source: c}\ntrain: {batch_size: 4, min_positives: 5}\n", "min_positives 5 >"),
        ("data: {source: c}\noptim: {lr: 0.001, min_lr: 0.01}\n", "min_lr 0.01 > lr 0.001"),
        ("data: {source: c}\npreprocess: {rate: 128}\n", "h_freq 70.0 Hz must be in (0, 64)"),
        ("data: {source: c}\ntrain: {batch_size: 8}\ngate: {batch_size: 16}\n",
         "train.batch_size 8 differs from gate.batch_size 16"),
    ],
)  # fmt: skip
def test_errors_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    assert needle in config_error(tmp_path, text)


def test_a_gate_setting_reaches_train() -> None:
    config = RunConfig.model_validate({"data": {"source": "c"}, "gate": {"batch_size": 64}})
    assert (config.train.batch_size, config.gate.batch_size) == (64, 64)


def test_shared_settings_reach_the_gate_from_python_models() -> None:
    """Built in Python (as ``preflight demo`` does), not only read from YAML."""
    train = TrainConfig(batch_size=16, target_positive_fraction=0.5)
    config = RunConfig(data=DataConfig(source=Path("c")), train=train)
    assert (config.gate.batch_size, config.gate.target_positive_fraction) == (16, 0.5)
    assert RunConfig.model_validate_json(config.model_dump_json()) == config


def test_learning_rate_warms_up_then_decays_to_the_floor() -> None:
    def lr(step: int) -> float:
        return learning_rate(step, lr=1.0, min_lr=0.1, warmup=4, total=20)

    assert [lr(s) for s in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert lr(4) == pytest.approx(1.0)
    decay = [lr(s) for s in range(4, 21)]
    assert all(a >= b for a, b in itertools.pairwise(decay))
    assert lr(12) == pytest.approx(0.55)  # half way down the cosine
    assert lr(20) == lr(1000) == pytest.approx(0.1)


def test_loss_adds_the_per_sample_term_when_the_model_has_one() -> None:
    window, sample = torch.tensor([0.5, -1.0]), torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    y, mask = torch.tensor([1.0, 0.0]), torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    window_only = F.binary_cross_entropy_with_logits(window, y)
    both = window_only + 0.5 * F.binary_cross_entropy_with_logits(sample, mask)
    output = SeizureOutput(window, sample)
    assert compute_loss(output, y, mask, pos_weight=None, sample_weight=0.5) == both
    assert compute_loss(output, y, mask, pos_weight=None, sample_weight=0) == window_only
    assert compute_loss(window[:, None], y, mask, pos_weight=None, sample_weight=0.5) == (
        window_only
    )
    with pytest.raises(TypeError, match=r"got \(2, 3\)"):
        model_logits(torch.zeros(2, 3))


def _metrics(**changes: object) -> ValidationMetrics:
    values: dict[str, object] = dict(
        windows=100, positives=10, loss=0.3, auroc=0.9, auprc=0.6, recall=0.5, specificity=0.9,
        positive_rate=0.08, logit_std=1.2, finite=True, threshold=0.5,
    )  # fmt: skip
    return ValidationMetrics(**{**values, **changes})  # type: ignore[arg-type]


def test_collapse_checks_warn_during_warm_up_then_stop() -> None:
    collapsed = _metrics(positive_rate=0.0, recall=0.0, logit_std=1e-5)
    rules = MonitorConfig(warmup_epochs=1)
    warm = validation_records(collapsed, rules, epoch=0, step=10)
    assert stopping(warm) is None
    assert {r.name for r in warm if not r.passed} == {
        Monitor.POSITIVE_RATE, Monitor.POSITIVE_RECALL, Monitor.LOGIT_SPREAD
    }  # fmt: skip
    after = validation_records(collapsed, rules, epoch=1, step=20)
    stop = stopping(after)
    assert stop is not None
    assert stop.name == Monitor.POSITIVE_RATE
    assert (stop.observed, stop.expected) == (0.0, ">= 0.01")
    assert all(r.passed for r in validation_records(_metrics(), rules, epoch=1, step=20))


def test_non_finite_scores_stop_even_during_warm_up() -> None:
    records = validation_records(_metrics(finite=False), MonitorConfig(), epoch=0, step=1)
    stop = stopping(records)
    assert stop is not None
    assert stop.name == Monitor.FINITE_SCORES


def test_step_watch_records_the_failing_step() -> None:
    watch = StepWatch(epoch=2)
    assert watch.observe(5, 0.7, 1.0) is None
    failure = watch.observe(6, 0.7, math.inf)
    assert failure is not None
    assert (failure.name, failure.step, failure.passed) == (Monitor.FINITE_GRADIENTS, 6, False)
    scaled = StepWatch(epoch=0, scaled=True)  # fp16 loss scaling skips such steps by design
    assert scaled.observe(0, 0.7, math.nan) is None
    assert "skipped by the loss scaler" in scaled.records(1)[0].message
    failure = scaled.observe(1, math.nan, 1.0)
    assert failure is not None
    assert failure.name == Monitor.FINITE_LOSS


def test_diagnosis_names_the_setting_to_change() -> None:
    record = MonitorRecord(
        name=Monitor.POSITIVE_RATE, epoch=1, step=9, severity=Severity.ERROR, passed=False,
        observed=0.0, expected=">= 0.01", message="epoch 2: 0.00% predicted positive",
    )  # fmt: skip
    natural = RunConfig.model_validate({"data": {"source": "c"}, "train": {"sampling": "natural"}})
    assert "train.sampling: balanced" in diagnose(record, natural, 0.01)
    balanced = RunConfig.model_validate({"data": {"source": "c"}})
    assert "under-trained" in diagnose(record, balanced, 0.2, auroc=0.97)
    assert "check the labels" in diagnose(record, balanced, 0.2, auroc=0.5)


def test_checkpoint_round_trip_with_weights_only(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = ckpt.rng_state(seed=5, next_epoch=4)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    path = ckpt.checkpoint_path(tmp_path, 4)
    payload = {key: 0 for key in ckpt._REQUIRED} | {
        "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(), "rng": state,
    }  # fmt: skip
    ckpt.save_checkpoint(path, payload)
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-0004.pt"]  # no temporary left over
    loaded = ckpt.load_checkpoint(path)
    assert loaded["format"] == ckpt.FORMAT
    assert torch.equal(loaded["model_state"]["weight"], model.weight)
    ckpt.restore_rng(loaded["rng"])
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])
    assert loaded["rng"]["sampler"] == {"seed": 5, "epoch": 4}


def test_unreadable_checkpoints_are_skipped_and_named(tmp_path: Path) -> None:
    for epoch in (1, 2, 3):
        ckpt.save_checkpoint(
            ckpt.checkpoint_path(tmp_path, epoch), {key: epoch for key in ckpt._REQUIRED}
        )
    ckpt.checkpoint_path(tmp_path, 3).write_bytes(b"PK\x03\x04 torn")
    torch.save({"something": "else"}, ckpt.checkpoint_path(tmp_path, 2))
    payload, path, problems = ckpt.latest_readable(tmp_path)
    assert path == ckpt.checkpoint_path(tmp_path, 1)
    assert payload is not None
    assert payload["epoch"] == 1
    assert "epoch-0003.pt: unreadable checkpoint" in problems[0]
    assert "epoch-0002.pt: not a preflight checkpoint" in problems[1]
    with pytest.raises(UsageError, match="checkpoint not found"):
        ckpt.load_checkpoint(tmp_path / "absent.pt")


def test_prune_keeps_the_newest_and_best_survives(tmp_path: Path) -> None:
    for epoch in (1, 2, 3, 4):
        ckpt.checkpoint_path(tmp_path, epoch).write_bytes(str(epoch).encode())
    best = ckpt.mark_best(ckpt.checkpoint_path(tmp_path, 1))
    kept = ckpt.prune(tmp_path, keep_last=2)
    assert [p.name for p in kept] == ["epoch-0004.pt", "epoch-0003.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ckpt.BEST, "epoch-0003.pt", "epoch-0004.pt"
    ]  # fmt: skip
    assert best.read_bytes() == b"1"


def test_runs_table(tmp_path: Path) -> None:
    manifest = tmp_path / "m.duckdb"
    with Manifest.open(manifest) as m:
        assert list_runs(m) == []  # no table yet
    start_run(manifest, "20250101-000000-aaaaaa", config={"a": 1}, audit_id=3, run_dir=tmp_path)
    start_run(manifest, "20250101-000001-bbbbbb", config={"a": 2}, audit_id=3, run_dir=None)
    update_run(
        manifest, "20250101-000000-aaaaaa", metrics=[{"epoch": 1}], checkpoints={"kept": []},
        monitors=[], status=RunStatus.COMPLETED, message="done",
    )  # fmt: skip
    set_status(manifest, "20250101-000001-bbbbbb", RunStatus.FAILED, "KeyboardInterrupt")
    with Manifest.open(manifest, read_only=True) as m:
        runs = list_runs(m)
        assert [(r.status, r.config) for r in runs] == [
            (RunStatus.COMPLETED, {"a": 1}), (RunStatus.FAILED, {"a": 2})
        ]  # fmt: skip
        assert runs[0].finished is not None
        assert runs[0].metrics == [{"epoch": 1}]
        assert get_run(m, "20250101-000000").run_id == "20250101-000000-aaaaaa"
        assert [r.run_id for r in resumable_runs(m)] == ["20250101-000001-bbbbbb"]
        with pytest.raises(UsageError, match="2 runs start with '2025'"):
            get_run(m, "2025")
        with pytest.raises(UsageError, match="no run 'x'"):
            get_run(m, "x")


# The runs table as released before the evaluation after training existed.
OLD_RUNS_DDL = """CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, started TIMESTAMP NOT NULL,
    finished TIMESTAMP, status VARCHAR NOT NULL, message VARCHAR, config VARCHAR NOT NULL,
    audit_id INTEGER, run_dir VARCHAR, metrics VARCHAR, checkpoints VARCHAR, monitors VARCHAR
)"""


def test_a_runs_table_from_before_the_evaluation_column_is_read_and_migrated(
    tmp_path: Path,
) -> None:
    """A manifest whose runs table lacks ``evaluation`` reads read-only (as NULL); the next
    write adds the column."""
    manifest = tmp_path / "m.duckdb"
    with Manifest.open(manifest) as m:
        m.con.execute(OLD_RUNS_DDL)
        m.con.execute(
            "INSERT INTO runs VALUES ('20240101-000000-old000', 'train', now(), NULL, "
            "'completed', 'done', '{}', 1, NULL, '[{\"epoch\": 1}]', '{}', '[]')"
        )
    with Manifest.open(manifest, read_only=True) as m:
        (old,) = list_runs(m)
    assert (old.metrics, old.evaluation) == ([{"epoch": 1}], None)
    update_run(
        manifest, old.run_id, metrics=old.metrics, checkpoints={}, monitors=[],
        status=RunStatus.COMPLETED, message="done", evaluation={"held_out": None},
    )  # fmt: skip
    with Manifest.open(manifest, read_only=True) as m:
        assert get_run(m, old.run_id).evaluation == {"held_out": None}


def _validation(auroc: float | None, loss: float) -> ValidationMetrics:
    return ValidationMetrics(
        windows=10, positives=5, loss=loss, auroc=auroc, auprc=None, recall=None,
        specificity=None, positive_rate=0.5, logit_std=1.0, finite=True, threshold=0.5,
    )  # fmt: skip


def test_best_checkpoint_ties_go_to_the_lower_loss_then_the_later_epoch() -> None:
    """AUROC saturated at 1.000 on three epochs: the lower validation loss wins, and on equal
    loss too, the later epoch."""
    best = {"by": "auroc", "score": 1.0, "validation_loss": 0.20, "epoch": 2}
    assert is_better(_validation(1.0, 0.10), best, "auroc")  # same AUROC, lower loss
    assert not is_better(_validation(1.0, 0.30), best, "auroc")  # same AUROC, higher loss
    assert is_better(_validation(1.0, 0.20), best, "auroc")  # both equal: the later epoch
    assert not is_better(_validation(0.99, 0.01), best, "auroc")
    assert not is_better(_validation(None, 0.01), best, "auroc")  # undefined never wins
    assert is_better(_validation(0.5, 0.9), {}, "auroc")  # the first defined epoch
    by_loss = {"by": "loss", "score": -0.2, "validation_loss": 0.2, "epoch": 1}
    assert is_better(_validation(0.7, 0.2), by_loss, "loss")  # equal loss: the later epoch
    old = {"by": "auroc", "score": 1.0, "epoch": 1}  # a checkpoint from before tie-breaking
    assert is_better(_validation(1.0, 0.5), old, "auroc")


def test_a_single_process_world_needs_no_process_group() -> None:
    world = World.from_env("cpu")
    assert (world.rank, world.size, world.is_main, world.distributed) == (0, 1, True, False)
    assert world.any_rank(True, False) == (True, False)
    assert world.sum(1.0, 2.0) == (1.0, 2.0)
    assert world.broadcast("x") == "x"
    assert world.gather(3) == [3]
    assert world.on_main(lambda: 4) == 4
    world.barrier()
    world.close()


@pytest.mark.parametrize(
    ("name", "build", "said"),
    [
        ("seizure_tcn", "eeg", "but the data has 19 (montage"),
        ("stamp_resnet", "stamps", "but a stamp has 3 bands (g, r, z)"),
    ],
)
def test_model_kwargs_that_contradict_the_data_are_refused(
    name: str, build: str, said: str
) -> None:
    """Both data paths fill the model's shape from the data and refuse a contradicting kwarg."""
    from preflight.run_config import DataConfig, ModelConfig, RunConfig
    from preflight.training.eeg import eeg_model
    from preflight.training.session import seeded_model

    world = World.from_env("cpu")
    config = RunConfig(
        data=DataConfig(source=Path("corpus")),
        model=ModelConfig(name=name, kwargs={"in_channels": 4}),
    )

    def make() -> object:
        if build == "eeg":
            return eeg_model(config, world, 19, 128.0)
        return seeded_model(config, world, {"in_channels": (3, "a stamp has 3 bands (g, r, z)")})

    with pytest.raises(UsageError) as info:
        make()
    assert f"model.kwargs.in_channels is 4 {said}" in str(info.value)
    assert str(info.value).endswith("leave it out to take the data's")
    trains, raw = seeded_model(
        config.model_copy(update={"model": ModelConfig(name=name)}), world,
        {"in_channels": (3 if build == "stamps" else 19, "")},
    )  # fmt: skip
    assert trains is raw  # no torchrun: not wrapped
