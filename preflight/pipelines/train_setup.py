"""What a run builds once its gate passed: cache, datasets, loaders, model, optimizer.

Nothing here runs before the gate's verdict (``train.train`` calls ``build_session`` only after
it passed), so a corpus that fails the gate never costs a preprocessed cache, a model or device
memory. Rank 0 builds the cache while the other ranks wait; then every rank reads its windows
from the manifest, opened read-only.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from preflight.errors import ConfigError, UsageError
from preflight.manifest.store import Manifest
from preflight.models.registry import build_model, resolve_model
from preflight.pipelines import checkpoint as ckpt
from preflight.pipelines.cache import WindowCache
from preflight.pipelines.dataset import EEGWindowDataset, Normalization, collate
from preflight.pipelines.distributed import World
from preflight.pipelines.monitors import Monitor, MonitorRecord
from preflight.pipelines.sample import BalancedSampler, PositiveBatchSampler, pos_weight
from preflight.pipelines.train_loop import Progress, QuarantineLog, Session
from preflight.pipelines.window_index import WindowIndex
from preflight.run_config import RunConfig, Sampling
from preflight.validators.batch_guard import BatchGuard
from preflight.validators.results import Severity

__all__ = ["Loaders", "Start", "assemble_session", "build_session", "seeded_model"]


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
        val_splits: the splits validated on, pooled.
        train_fraction: positive windows / windows of the training split.
        resume_from: the checkpoint to continue from, or None for a new run.
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
    resume_from: Path | None = None
    notes: tuple[MonitorRecord, ...] = ()
    subset: tuple[int, ...] | None = None


@dataclass(frozen=True)
class _Data:
    train: EEGWindowDataset
    val: EEGWindowDataset | None  # rank 0 only
    notes: tuple[MonitorRecord, ...]


def build_session(config: RunConfig, world: World, start: Start, *, progress: bool) -> Session:
    """Build (or, resuming, restore) everything the loop uses."""
    from preflight.pipelines import train_stamps  # image stamps: an audited Parquet source

    if train_stamps.is_table_manifest(start.manifest):
        return train_stamps.build_stamp_session(config, world, start, progress=progress)
    data = _datasets(config, world, start, progress)
    model, raw = _model(config, world, len(data.train.channels), data.train.rate)
    batches = _batch_sampler(config, data.train.index, world)
    generator = torch.Generator()  # reseeded every epoch: loaders never draw from the global RNG
    workers, pin = config.train.workers, world.device.type == "cuda"
    train_loader = DataLoader(
        data.train, batch_sampler=batches, collate_fn=collate, num_workers=workers,
        generator=generator, pin_memory=pin,
    )  # fmt: skip
    val_loader = None
    if data.val is not None:
        val_loader = DataLoader(
            data.val, batch_size=config.validation.batch_size, collate_fn=collate,
            num_workers=workers, generator=torch.Generator().manual_seed(0), pin_memory=pin,
        )  # fmt: skip
    quarantine = QuarantineLog()
    guard = BatchGuard(
        len(data.train.channels), data.train.n_samples, min_positives=batches.min_positives,
        recorder=quarantine,
    )  # fmt: skip
    return assemble_session(
        config, world, start, Loaders(train_loader, batches, generator, val_loader),
        models=(model, raw), guard=guard, quarantine=quarantine, index=data.train.index,
        notes=data.notes, event_scoring=True,
    )  # fmt: skip


@dataclass(frozen=True)
class Loaders:
    """The training batches (sampler, loader, the loader's generator) and the validation ones."""

    train: DataLoader[Any]
    batches: PositiveBatchSampler
    generator: torch.Generator  # reseeded every epoch: loaders never draw from the global RNG
    val: DataLoader[Any] | None  # rank 0 only


def assemble_session(
    config: RunConfig,
    world: World,
    start: Start,
    loaders: Loaders,
    *,
    models: tuple[nn.Module, nn.Module],
    guard: BatchGuard,
    quarantine: QuarantineLog,
    index: WindowIndex,
    notes: tuple[MonitorRecord, ...] = (),
    event_scoring: bool = False,
) -> Session:
    """The session of a run whose data and model are built (EEG windows or image stamps):
    optimizer, precision, schedule and ``pos_weight`` added; restored when resuming.

    Args:
        models: ``(what trains, the model)`` from ``seeded_model``.
        index: the training windows (rows), for ``pos_weight``.
        notes: monitor records made while building the data.
        event_scoring: SzCORE scores of the last validation pass (seizure corpora).
    """
    model, raw = models
    weight = pos_weight(index).to(world.device) if config.train.pos_weight else None
    autocast, scaler = _precision(config, world)
    steps = config.train.epochs * len(loaders.batches)
    session = Session(
        config=config, config_json=config.model_dump_json(), world=world, run_id=start.run_id,
        run_dir=start.run_dir, manifest=start.manifest, fingerprint=start.fingerprint,
        suite_hash=start.suite_hash, train_fraction=start.train_fraction,
        val_name="+".join(start.val_splits), model=model, raw=raw,
        optimizer=_optimizer(config, raw), scaler=scaler, autocast=autocast,
        train_loader=loaders.train, batches=loaders.batches, loader_generator=loaders.generator,
        val_loader=loaders.val, guard=guard, quarantine=quarantine, pos_weight=weight,
        total_steps=steps, warmup_steps=int(config.optim.warmup_fraction * steps),
        progress=Progress(monitors=[*notes, *start.notes]), event_scoring=event_scoring,
    )  # fmt: skip
    if start.resume_from is not None:
        _restore(session, start.resume_from, start.notes)
    return session


def _precision(config: RunConfig, world: World) -> tuple[dict[str, Any], torch.amp.GradScaler]:
    """Autocast arguments and the loss scaler: bfloat16 (or float16, scaled) on CUDA only."""
    amp = config.train.amp and world.device.type == "cuda"
    dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(world.device.type, enabled=amp and dtype == torch.float16)
    return {"device_type": world.device.type, "dtype": dtype, "enabled": amp}, scaler


def _datasets(config: RunConfig, world: World, start: Start, progress: bool) -> _Data:
    """Rank 0 builds the cache; every rank then reads its windows (read-only manifest)."""
    cache = WindowCache(
        config.data.cache or start.manifest.parent / "cache", config.preprocess.preprocessing()
    )
    splits = [start.train_split, *start.val_splits]
    rejected = world.on_main(
        lambda: _build_cache(cache, config, start.manifest, splits, start.subset, progress)
    )
    normalization = Normalization(config.preprocess.normalization)
    with Manifest.open(start.manifest, read_only=True) as m:
        index = _keep(WindowIndex.load(m, start.train_split), rejected, start.subset)
        train = EEGWindowDataset(index, cache, m, normalization=normalization)
        val = None
        if world.is_main:
            val_index = _keep(WindowIndex.load(m, start.val_splits), rejected, start.subset)
            val = EEGWindowDataset(val_index, cache, m, normalization=normalization)
    world.barrier()  # nobody holds the manifest open from here on: rank 0 may write
    notes: tuple[MonitorRecord, ...] = ()
    if rejected:
        listed = "; ".join(list(rejected.values())[:3])
        notes = (
            MonitorRecord(
                name=Monitor.CACHE_REJECTED, epoch=0, step=0, severity=Severity.WARNING,
                passed=False, observed=len(rejected), expected=0,
                message=f"{len(rejected)} recording(s) left out of training and validation: "
                f"the cache cannot serve them ({listed})",
            ),
        )  # fmt: skip
    return _Data(train, val, notes)


def _build_cache(
    cache: WindowCache,
    config: RunConfig,
    manifest: Path,
    splits: list[str],
    subset: tuple[int, ...] | None,
    progress: bool,
) -> dict[int, str]:
    """Preprocess the splits' recordings (or the subset's); the ones rejected, by rec_idx."""
    with Manifest.open(manifest, read_only=True) as m:
        report = cache.build(
            m, root=config.data.source, splits=splits, only=subset, progress=progress
        )
    return {r.rec_idx: f"{r.path}: {r.message}" for r in report.rejected}


def _keep(
    index: WindowIndex, rejected: dict[int, str], subset: tuple[int, ...] | None
) -> WindowIndex:
    """``index`` without the windows of rejected recordings, and only the subset's if given."""
    if not rejected and subset is None:
        return index
    keep = ~np.isin(index.rec_idx, list(rejected))  # (N,)
    if subset is not None:
        keep &= np.isin(index.rec_idx, subset)
    return dataclasses.replace(
        index, rec_idx=index.rec_idx[keep], window_idx=index.window_idx[keep],
        positive=index.positive[keep], seizure=index.seizure[keep], patient=index.patient[keep],
    )  # fmt: skip


def _model(config: RunConfig, world: World, channels: int, rate: float) -> tuple[nn.Module, ...]:
    """``(what trains, the model)`` for EEG windows of ``channels`` at ``rate`` Hz."""
    said = f"(montage {config.preprocess.montage}, rate {config.preprocess.rate:g} Hz)"
    return seeded_model(
        config, world,
        {"in_channels": (channels, f"the data has {channels:g} {said}"),
         "sampling_rate": (rate, f"the data has {rate:g} {said}")},
    )  # fmt: skip


def seeded_model(
    config: RunConfig, world: World, data: dict[str, tuple[Any, str]]
) -> tuple[nn.Module, nn.Module]:
    """``(what trains, the model)``: seeded, on the device, DDP-wrapped under torchrun.

    Args:
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


def _optimizer(config: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW; weight matrices and kernels decay, biases and norm gains do not (as nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.optim.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.optim.lr, betas=config.optim.betas)


def _batch_sampler(config: RunConfig, index: WindowIndex, world: World) -> PositiveBatchSampler:
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


def _restore(s: Session, path: Path, notes: tuple[MonitorRecord, ...]) -> None:
    """Load a checkpoint into the session; the generators last, after everything that seeds."""
    payload = ckpt.load_checkpoint(path)
    if payload["config"] != s.config_json:
        raise UsageError("the checkpoint was written under another config", path=path)
    s.raw.load_state_dict(payload["model_state"])
    s.optimizer.load_state_dict(payload["optimizer_state"])
    if payload.get("scaler_state") is not None:
        s.scaler.load_state_dict(payload["scaler_state"])
    monitors = [MonitorRecord.model_validate(r) for r in json.loads(payload["monitors"])]
    s.progress = Progress(
        step=int(payload["step"]), epoch=int(payload["epoch"]),
        history=json.loads(payload["history"]), monitors=[*monitors, *notes],
        best=json.loads(payload["best"]),
        kept=[str(p) for p in ckpt.epoch_checkpoints(s.run_dir)],
    )  # fmt: skip
    s.guard.stats.batches = int(payload["guard"]["batches"])
    s.guard.stats.quarantined = int(payload["guard"]["quarantined"])
    ckpt.restore_rng(payload["rng"])
