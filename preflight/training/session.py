"""The training session: what a run builds once its gate passed, shared by EEG and stamp runs.

A ``Session`` is four parts and a signal flag, each one concern (as a Lightning trainer's
connectors):

- ``run`` (``RunInfo``, fixed): who and what the run is: config, processes, manifest, splits;
- ``data`` (``SessionData``, fixed): the training batches, the scoring loaders, the batch guard
  and its quarantine recorder;
- ``engine`` (``Engine``): the model, the optimizer, precision and the learning-rate schedule;
- ``book`` (``Bookkeeping``, mutable): steps, epochs, history, monitor records and the best
  checkpoint, which a checkpoint restores, plus the scores kept for the evaluation after training;
- ``preemption``: whether SIGTERM arrived, and whether every rank agreed to stop at this batch.

The EEG path (``training.eeg``) and the stamp path (``training.stamps``) build their data and
model, then call ``assemble_session`` for the rest; ``pipelines.train`` chooses between them by
the manifest's kind. Nothing here runs before the gate's verdict.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from preflight.data.sample import BalancedSampler, PositiveBatchSampler, pos_weight
from preflight.data.window_index import WindowIndex
from preflight.errors import ConfigError, UsageError
from preflight.models.registry import build_model, resolve_model
from preflight.run_config import RunConfig, Sampling
from preflight.training import checkpoint as ckpt
from preflight.training.distributed import World
from preflight.training.monitors import MonitorRecord
from preflight.training.preemption import Preemption
from preflight.validators.batch_guard import BatchGuard
from preflight.validators.quarantine import ManifestRecorder

__all__ = [
    "Bookkeeping",
    "Engine",
    "Loaders",
    "RunInfo",
    "Scores",
    "Session",
    "SessionData",
    "Start",
    "assemble_session",
    "batch_sampler",
    "keep_windows",
    "seeded_model",
]

Scores = tuple[np.ndarray, np.ndarray]  # ids int (N, 2), probabilities float (N,)


@dataclass(frozen=True)
class Start:
    """What rank 0 decided before anything was built, broadcast to every rank.

    Attributes:
        run_id: the run (new, or the one resumed).
        manifest: the manifest file.
        run_dir: the run's checkpoint folder.
        fingerprint: the audited manifest's fingerprint.
        suite_hash: the hash of the expectation suite the gate ran.
        train_split: the split trained on.
        val_splits: the splits validated on, pooled: they choose the checkpoint and thresholds.
        held_out_splits: the splits scored once after training, pooled (``heldout``).
        train_fraction: positive windows / windows of the training split.
        resume_from: the checkpoint to continue from, or None for a new run.
        resume_at: (epoch, step) written in ``resume_from``, or None for a new run.
        notes: monitor records made while preparing (a checkpoint skipped on resume).
        subset: a smoke run's recordings (``rec_idx``); None trains on the whole splits.
    """

    run_id: str
    manifest: Path
    run_dir: Path
    fingerprint: str
    suite_hash: str
    train_split: str
    val_splits: tuple[str, ...]
    train_fraction: float
    held_out_splits: tuple[str, ...] = ()
    resume_from: Path | None = None
    resume_at: tuple[int, int] | None = None
    notes: tuple[MonitorRecord, ...] = ()
    subset: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Loaders:
    """The training batches (sampler, loader, the loader's generator), the validation ones and
    the held-out ones."""

    train: DataLoader[Any]
    batches: PositiveBatchSampler
    generator: torch.Generator  # reseeded every epoch: loaders never draw from the global RNG
    val: DataLoader[Any] | None  # rank 0 only
    held_out: DataLoader[Any] | None = None  # rank 0 only; None when nothing is held out


@dataclass(frozen=True)
class RunInfo:
    """Who and what the run is; fixed for its whole life."""

    config: RunConfig
    config_json: str  # the config as checkpoints record it (a resume must match it)
    world: World
    run_id: str
    run_dir: Path
    manifest: Path
    fingerprint: str
    suite_hash: str
    train_fraction: float  # positive windows / windows of the training split
    val_name: str  # the validation split(s), "dev" or "dev+eval"
    held_out_name: str = ""  # the held-out split(s), "eval"; "" when none is
    event_scoring: bool = False  # seizure corpora: SzCORE event scores after training


@dataclass(frozen=True)
class SessionData:
    """The batches a run trains and scores on, and the guard every training batch passes."""

    loaders: Loaders
    guard: BatchGuard
    quarantine: ManifestRecorder  # buffered: rank 0 writes every rank's rows after each epoch


@dataclass(frozen=True)
class Engine:
    """The model and what updates it; the tensors change in place, the parts do not."""

    model: nn.Module  # what trains (DDP-wrapped under torchrun)
    raw: nn.Module  # the model itself: validated, checkpointed
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    autocast: dict[str, Any]  # torch.autocast arguments
    pos_weight: torch.Tensor | None
    total_steps: int
    warmup_steps: int


@dataclass
class Bookkeeping:
    """Where the run is. A checkpoint restores the first six fields; the rest is rank 0's
    memory of scores, for the evaluation after training (``training.final``)."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # epochs finished
    history: list[dict[str, Any]] = field(default_factory=list)  # one summary per epoch
    monitors: list[MonitorRecord] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)  # {"by", "score", "epoch", "path"}
    kept: list[str] = field(default_factory=list)  # epoch checkpoints on disk
    last_scores: Scores | None = None  # the last validation pass's window scores
    best_scores: tuple[int, dict[str, Any], Scores | None] | None = None  # (epoch, metrics, ...)
    evaluation: dict[str, Any] | None = None  # the evaluation after training, once completed


@dataclass(frozen=True)
class Session:
    """Everything the loop uses, built once after the gate passed (see the module docstring)."""

    run: RunInfo
    data: SessionData
    engine: Engine
    book: Bookkeeping
    # SIGTERM (a Slurm time limit, a preemption): every rank stops at the same batch.
    preemption: Preemption = field(default_factory=Preemption)


def assemble_session(
    config: RunConfig,
    world: World,
    start: Start,
    loaders: Loaders,
    *,
    models: tuple[nn.Module, nn.Module],
    guard: BatchGuard,
    quarantine: ManifestRecorder,
    index: WindowIndex,
    notes: tuple[MonitorRecord, ...] = (),
    event_scoring: bool = False,
) -> Session:
    """The session of a run whose data and model are built (EEG windows or image stamps):
    optimizer, precision, schedule and ``pos_weight`` added; restored when resuming.

    Args:
        config: the run config.
        world: the processes and the device.
        start: what rank 0 decided.
        loaders: the training, validation and held-out batches.
        models: ``(what trains, the model)`` from ``seeded_model``.
        guard: the batch guard, recording into ``quarantine``.
        quarantine: the buffered recorder of quarantined batches.
        index: the training windows (rows), for ``pos_weight``.
        notes: monitor records made while building the data.
        event_scoring: SzCORE event scores in the evaluation after training (seizure corpora).

    Raises:
        UsageError: resuming from a checkpoint written under another config.
    """
    model, raw = models
    autocast, scaler = _precision(config, world)
    steps = config.train.epochs * len(loaders.batches)
    run = RunInfo(
        config=config, config_json=config.model_dump_json(), world=world, run_id=start.run_id,
        run_dir=start.run_dir, manifest=start.manifest, fingerprint=start.fingerprint,
        suite_hash=start.suite_hash, train_fraction=start.train_fraction,
        val_name="+".join(start.val_splits), held_out_name="+".join(start.held_out_splits),
        event_scoring=event_scoring,
    )  # fmt: skip
    engine = Engine(
        model=model, raw=raw, optimizer=_optimizer(config, raw), scaler=scaler,
        autocast=autocast,
        pos_weight=pos_weight(index).to(world.device) if config.train.pos_weight else None,
        total_steps=steps, warmup_steps=int(config.optim.warmup_fraction * steps),
    )  # fmt: skip
    session = Session(
        run, SessionData(loaders, guard, quarantine), engine,
        Bookkeeping(monitors=[*notes, *start.notes]),
    )  # fmt: skip
    if start.resume_from is not None:
        _restore(session, start.resume_from, start.notes)
    return session


def seeded_model(
    config: RunConfig, world: World, data: dict[str, tuple[Any, str]]
) -> tuple[nn.Module, nn.Module]:
    """``(what trains, the model)``: seeded, on the device, DDP-wrapped under torchrun.

    Args:
        config: the run config (``model.name``, ``model.kwargs``, ``train.seed``).
        world: the processes and the device.
        data: constructor argument -> (the value the data gives, how to say so in an error);
            each one the model accepts is filled in, unless ``model.kwargs`` sets it.

    Raises:
        UsageError: ``model.kwargs`` sets one of them to another value than the data's.
    """
    accepted = inspect.signature(resolve_model(config.model.name)).parameters
    kwargs = dict(config.model.kwargs)
    for key, (value, said) in data.items():
        if key not in accepted:
            continue
        if key in kwargs and kwargs[key] != value:
            raise UsageError(
                f"model.kwargs.{key} is {kwargs[key]} but {said}; leave it out to take the data's"
            )
        kwargs.setdefault(key, value)
    torch.manual_seed(config.train.seed)  # the same initial weights on every rank, every run
    raw = build_model(config.model.name, **kwargs).to(world.device)
    if not any(p.requires_grad for p in raw.parameters()):
        raise ConfigError(
            f"model {config.model.name!r} has no trainable parameters: nothing to train "
            "(register its layers as attributes or nn.ModuleList, not plain lists)"
        )
    if not world.distributed:
        return raw, raw
    ids = [world.device.index] if world.device.type == "cuda" else None
    return DistributedDataParallel(raw, device_ids=ids), raw


def batch_sampler(config: RunConfig, index: WindowIndex, world: World) -> PositiveBatchSampler:
    """Balanced batches with a floor of positives, or uniform draws of the natural mix."""
    t = config.train
    balanced = t.sampling is Sampling.BALANCED
    steps = t.steps_per_epoch
    sampler = BalancedSampler(
        index,
        target_positive_fraction=t.target_positive_fraction if balanced
        else index.n_positive / max(len(index), 1),
        spread=t.spread if balanced else "window",
        num_samples=None if steps is None else steps * t.batch_size * world.size,
        seed=t.seed, rank=world.rank, world_size=world.size,
    )  # fmt: skip
    return PositiveBatchSampler(sampler, t.batch_size, t.min_positives if balanced else 0)


def keep_windows(
    index: WindowIndex, rejected: dict[int, str], subset: tuple[int, ...] | None
) -> WindowIndex:
    """``index`` without the windows of ``rejected`` recordings, and only ``subset``'s if given."""
    if not rejected and subset is None:
        return index
    keep = ~np.isin(index.rec_idx, list(rejected))  # (N,)
    if subset is not None:
        keep &= np.isin(index.rec_idx, subset)
    return dataclasses.replace(
        index, rec_idx=index.rec_idx[keep], window_idx=index.window_idx[keep],
        positive=index.positive[keep], seizure=index.seizure[keep], patient=index.patient[keep],
    )  # fmt: skip


def _precision(config: RunConfig, world: World) -> tuple[dict[str, Any], torch.amp.GradScaler]:
    """Autocast arguments and the loss scaler: bfloat16 (or float16, scaled) on CUDA only."""
    amp = config.train.amp and world.device.type == "cuda"
    dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(world.device.type, enabled=amp and dtype == torch.float16)
    return {"device_type": world.device.type, "dtype": dtype, "enabled": amp}, scaler


def _optimizer(config: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW; weight matrices and kernels decay, biases and norm gains do not (as nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.optim.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.optim.lr, betas=config.optim.betas)


def _restore(s: Session, path: Path, notes: tuple[MonitorRecord, ...]) -> None:
    """Load a checkpoint into the session; the generators last, after everything that seeds."""
    payload = ckpt.load_checkpoint(path)
    if payload["config"] != s.run.config_json:
        raise UsageError("the checkpoint was written under another config", path=path)
    s.engine.raw.load_state_dict(payload["model_state"])
    s.engine.optimizer.load_state_dict(payload["optimizer_state"])
    if payload.get("scaler_state") is not None:
        s.engine.scaler.load_state_dict(payload["scaler_state"])
    monitors = [MonitorRecord.model_validate(r) for r in json.loads(payload["monitors"])]
    s.book.step, s.book.epoch = int(payload["step"]), int(payload["epoch"])
    s.book.history = json.loads(payload["history"])
    s.book.monitors = [*monitors, *notes]
    s.book.best = json.loads(payload["best"])
    s.book.kept = [str(p) for p in ckpt.epoch_checkpoints(s.run.run_dir)]
    stats = s.data.guard.stats
    stats.batches = int(payload["guard"]["batches"])
    stats.quarantined = int(payload["guard"]["quarantined"])
    stats.consecutive = int(payload["guard"].get("consecutive", 0))
    ckpt.restore_rng(payload["rng"])
