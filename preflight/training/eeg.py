"""What an EEG run builds once its gate passed: cache, datasets, loaders, model.

Nothing here runs before the gate's verdict (``pipelines.train`` calls ``build_eeg_session``
only after it passed, for a manifest of recordings), so a corpus that fails the gate never costs a
preprocessed cache, a model or device memory. Rank 0 builds the cache while the other ranks wait;
then every rank reads its windows from the manifest, opened read-only. ``training.session``
assembles the rest (optimizer, precision, schedule, resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from preflight.data.cache import WindowCache
from preflight.data.dataset import EEGWindowDataset, Normalization, collate
from preflight.data.window_index import WindowIndex
from preflight.manifest.store import Manifest
from preflight.results import Severity
from preflight.run_config import RunConfig
from preflight.training.distributed import World
from preflight.training.monitors import Monitor, MonitorRecord
from preflight.training.session import (
    Loaders,
    Session,
    Start,
    assemble_session,
    batch_sampler,
    keep_windows,
    seeded_model,
)
from preflight.validators.batch_guard import BatchGuard
from preflight.validators.quarantine import ManifestRecorder

__all__ = ["build_eeg_session", "eeg_model"]


@dataclass(frozen=True)
class _Data:
    train: EEGWindowDataset
    val: EEGWindowDataset | None  # rank 0 only
    held_out: EEGWindowDataset | None  # rank 0 only, when a split is held out
    notes: tuple[MonitorRecord, ...]


def build_eeg_session(config: RunConfig, world: World, start: Start, *, progress: bool) -> Session:
    """Build (or, resuming, restore) everything the loop uses, for EEG windows.

    Args:
        config: the run config.
        world: the processes and the device.
        start: what rank 0 decided.
        progress: show the cache build's progress bar.

    Raises:
        UsageError: ``model.kwargs`` contradicts the data's shape; a checkpoint of another
            config when resuming.
    """
    data = _datasets(config, world, start, progress)
    model, raw = eeg_model(config, world, len(data.train.channels), data.train.rate)
    batches = batch_sampler(config, data.train.index, world)
    generator = torch.Generator()  # reseeded every epoch: loaders never draw from the global RNG
    workers, pin = config.train.workers, world.device.type == "cuda"
    train_loader = DataLoader(
        data.train, batch_sampler=batches, collate_fn=collate, num_workers=workers,
        generator=generator, pin_memory=pin,
    )  # fmt: skip
    val_loader, held_out_loader = (
        _scoring_loader(config, d, workers, pin) for d in (data.val, data.held_out)
    )
    quarantine = ManifestRecorder(start.manifest, start.run_id, buffered=True)
    guard = BatchGuard(
        len(data.train.channels), data.train.n_samples, min_positives=batches.min_positives,
        recorder=quarantine,
    )  # fmt: skip
    loaders = Loaders(train_loader, batches, generator, val_loader, held_out_loader)
    return assemble_session(
        config, world, start, loaders, models=(model, raw), guard=guard, quarantine=quarantine,
        index=data.train.index, notes=data.notes, event_scoring=True,
    )  # fmt: skip


def _scoring_loader(
    config: RunConfig, dataset: EEGWindowDataset | None, workers: int, pin: bool
) -> DataLoader[Any] | None:
    """Batches of every window once, in order: for validation and held-out scoring."""
    if dataset is None:
        return None
    return DataLoader(
        dataset, batch_size=config.validation.batch_size, collate_fn=collate,
        num_workers=workers, generator=torch.Generator().manual_seed(0), pin_memory=pin,
    )  # fmt: skip


def _datasets(config: RunConfig, world: World, start: Start, progress: bool) -> _Data:
    """Rank 0 builds the cache; every rank then reads its windows (read-only manifest)."""
    cache = WindowCache(
        config.data.cache or start.manifest.parent / "cache", config.preprocess.preprocessing()
    )
    splits = [start.train_split, *start.val_splits, *start.held_out_splits]
    rejected = world.on_main(
        lambda: _build_cache(cache, config, start.manifest, splits, start.subset, progress)
    )
    normalization = Normalization(config.preprocess.normalization)
    with Manifest.open(start.manifest, read_only=True) as m:
        index = keep_windows(WindowIndex.load(m, start.train_split), rejected, start.subset)
        train = EEGWindowDataset(index, cache, m, normalization=normalization)
        val = held_out = None
        if world.is_main:
            val_index = keep_windows(WindowIndex.load(m, start.val_splits), rejected, start.subset)
            val = EEGWindowDataset(val_index, cache, m, normalization=normalization)
            if start.held_out_splits:
                held = keep_windows(
                    WindowIndex.load(m, start.held_out_splits), rejected, start.subset
                )
                held_out = EEGWindowDataset(held, cache, m, normalization=normalization)
    world.barrier()  # nobody holds the manifest open from here on: rank 0 may write
    notes: tuple[MonitorRecord, ...] = ()
    if rejected:
        listed = "; ".join(list(rejected.values())[:3])
        notes = (
            MonitorRecord(
                name=Monitor.CACHE_REJECTED, epoch=0, step=0, severity=Severity.WARNING,
                passed=False, observed=len(rejected), expected=0,
                message=f"{len(rejected)} recording(s) left out of training, validation and "
                f"held-out scoring: "
                f"the cache cannot serve them ({listed})",
            ),
        )  # fmt: skip
    return _Data(train, val, held_out, notes)


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


def eeg_model(config: RunConfig, world: World, channels: int, rate: float) -> tuple[nn.Module, ...]:
    """``(what trains, the model)`` for EEG windows of ``channels`` at ``rate`` Hz."""
    said = f"(montage {config.preprocess.montage}, rate {config.preprocess.rate:g} Hz)"
    return seeded_model(
        config, world,
        {"in_channels": (channels, f"the data has {channels:g} {said}"),
         "sampling_rate": (rate, f"the data has {rate:g} {said}")},
    )  # fmt: skip
