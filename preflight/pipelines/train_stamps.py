"""What a run on image stamps (an audited Parquet source) builds once its gate passed.

The counterpart of ``train_setup.build_session`` for tables: no preprocessed cache (a stamp is
decoded, normalized and augmented as it is read), the training rows read from their Parquet row
groups (``stamp_source.StampTable``: a few row groups cached, so memory stays bounded whatever
the tier's size), drawn by the same balanced sampler with a floor of positives per batch, and
checked by the batch guard against the stamp shape. ``train_setup.build_session`` calls
``build_stamp_session`` when the manifest is of a Parquet source.

Batches have the loop's form ``(x (B, 3, 64, 64), y (B,), mask (B, 0), ids (B, 2))``: a stamp
has no per-sample mask, and the stamp classifier returns window logits only.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from preflight.errors import UsageError
from preflight.manifest.store import Manifest
from preflight.models.registry import build_model, resolve_model
from preflight.pipelines.dataset import EEGItem
from preflight.pipelines.distributed import World
from preflight.pipelines.sample import pos_weight
from preflight.pipelines.stamp_codec import STAMP_SHAPE
from preflight.pipelines.stamp_source import StampItem, StampSource, StampTable
from preflight.pipelines.train_loop import Progress, QuarantineLog, Session
from preflight.pipelines.train_setup import (
    Start,
    _batch_sampler,
    _keep,
    _optimizer,
    _precision,
    _restore,
)
from preflight.pipelines.window_index import WindowIndex
from preflight.run_config import RunConfig
from preflight.validators.batch_guard import BatchGuard

__all__ = ["build_stamp_session", "collate_stamps", "is_table_manifest"]

DEFAULT_SAMPLE_COLUMN = "stamp_npz"


def is_table_manifest(path: Path) -> bool:
    """True when the manifest at ``path`` holds an audited Parquet source."""
    with Manifest.open(path, read_only=True) as m:
        return m.meta("format") == "parquet"


def collate_stamps(batch: Sequence[StampItem]) -> EEGItem:
    """Stack stamps into the loop's ``(x (B, 3, 64, 64), y (B,), mask (B, 0), ids (B, 2))``."""
    x, y, ids = default_collate(list(batch))
    return EEGItem(x, y, torch.zeros(len(y), 0), ids)


def build_stamp_session(
    config: RunConfig, world: World, start: Start, *, progress: bool
) -> Session:
    """Datasets, sampler, guard, model and optimizer of a stamp run (see the module docstring).

    Args:
        config: the run config; ``parquet.sample_column`` names the stamp column.
        world: the processes and the device.
        start: the ``train_setup.Start`` rank 0 decided.
        progress: unused (there is no cache to build): the same call as the EEG path's.

    Raises:
        UsageError: a model that does not take 3-band stamps.
    """
    column = config.parquet.sample_column or DEFAULT_SAMPLE_COLUMN
    with Manifest.open(start.manifest, read_only=True) as m:
        index = WindowIndex.load(m, start.train_split)
        train: Dataset[StampItem] = StampTable(
            StampSource.load(m, start.train_split, column=column)
        )
        index, train = _only(index, train, start.subset)
        val: Dataset[StampItem] | None = None
        if world.is_main:
            val_index = WindowIndex.load(m, start.val_splits)
            table = StampTable(StampSource.load(m, start.val_splits, column=column), augment=False)
            _, val = _only(val_index, table, start.subset)
    world.barrier()  # nobody holds the manifest open from here on: rank 0 may write
    model, raw = _stamp_model(config, world)
    batches = _batch_sampler(config, index, world)
    generator = torch.Generator()  # reseeded every epoch by the loop
    workers, pin = config.train.workers, world.device.type == "cuda"
    train_loader = DataLoader(
        train, batch_sampler=batches, collate_fn=collate_stamps, num_workers=workers,
        generator=generator, pin_memory=pin,
    )  # fmt: skip
    val_loader = None
    if val is not None:
        val_loader = DataLoader(
            val, batch_size=config.validation.batch_size, collate_fn=collate_stamps,
            num_workers=workers, pin_memory=pin,
        )  # fmt: skip
    quarantine = QuarantineLog()
    guard = BatchGuard(
        sample_shape=STAMP_SHAPE, min_positives=batches.min_positives, recorder=quarantine
    )
    weight = pos_weight(index).to(world.device) if config.train.pos_weight else None
    autocast, scaler = _precision(config, world)
    steps = config.train.epochs * len(batches)
    session = Session(
        config=config, config_json=config.model_dump_json(), world=world, run_id=start.run_id,
        run_dir=start.run_dir, manifest=start.manifest, fingerprint=start.fingerprint,
        suite_hash=start.suite_hash, train_fraction=start.train_fraction,
        val_name="+".join(start.val_splits), model=model, raw=raw,
        optimizer=_optimizer(config, raw), scaler=scaler, autocast=autocast,
        train_loader=train_loader, batches=batches, loader_generator=generator,
        val_loader=val_loader, guard=guard, quarantine=quarantine, pos_weight=weight,
        total_steps=steps, warmup_steps=int(config.optim.warmup_fraction * steps),
        progress=Progress(monitors=list(start.notes)),
    )  # fmt: skip
    if start.resume_from is not None:
        _restore(session, start.resume_from, start.notes)
    return session


def _only(
    index: WindowIndex, rows: Dataset[StampItem], subset: tuple[int, ...] | None
) -> tuple[WindowIndex, Dataset[StampItem]]:
    """The index and the rows of a smoke run's files only (``start.subset``), else both as is.

    The index and the table list the same rows in the same (file, row) order, so the rows kept
    are the index positions kept.
    """
    if subset is None:
        return index, rows
    keep = np.flatnonzero(np.isin(index.rec_idx, subset))  # (K,)
    return _keep(index, {}, subset), Subset(rows, keep.tolist())


def _stamp_model(config: RunConfig, world: World) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(what trains, the model)`` for 3-band stamps, seeded, on the device."""
    from torch.nn.parallel import DistributedDataParallel

    kwargs = dict(config.model.kwargs)
    bands = STAMP_SHAPE[0]
    takes = "in_channels" in inspect.signature(resolve_model(config.model.name)).parameters
    if takes and kwargs.setdefault("in_channels", bands) != bands:
        raise UsageError(
            f"model.kwargs.in_channels is {kwargs['in_channels']} but a stamp has {bands} bands "
            "(g, r, z); leave it out to take the data's"
        )
    torch.manual_seed(config.train.seed)  # the same initial weights on every rank, every run
    raw = build_model(config.model.name, **kwargs).to(world.device)
    if not world.distributed:
        return raw, raw
    ids = [world.device.index] if world.device.type == "cuda" else None
    return DistributedDataParallel(raw, device_ids=ids), raw
