"""What a run on image stamps (an audited Parquet source) builds once its gate passed.

The counterpart of ``training.eeg.build_eeg_session`` for tables: no preprocessed cache (a stamp is
decoded, normalized and augmented as it is read), the training rows read from their Parquet row
groups (``stamp_source.StampTable``: a few row groups cached, so memory stays bounded whatever
the tier's size), drawn by the same balanced sampler with a floor of positives per batch, and
checked by the batch guard against the stamp shape. ``pipelines.train`` calls
``build_stamp_session`` when the manifest is of a Parquet source (``ManifestKind.TABLES``).

Batches have the loop's form ``(x (B, 3, 64, 64), y (B,), mask (B, 0), ids (B, 2))``: a stamp
has no per-sample mask, and the stamp classifier returns window logits only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from preflight.data.dataset import EEGItem
from preflight.data.stamp_codec import STAMP_SHAPE
from preflight.data.stamp_source import StampItem, StampSource, StampTable
from preflight.data.window_index import WindowIndex
from preflight.manifest.store import Manifest
from preflight.run_config import RunConfig
from preflight.training.distributed import World
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

__all__ = ["build_stamp_session", "collate_stamps"]

DEFAULT_SAMPLE_COLUMN = "stamp_npz"


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
        start: what rank 0 decided (``training.session.Start``).
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
        val = held_out = None
        if world.is_main:
            val = _scored_rows(m, start.val_splits, column, start.subset)
            if start.held_out_splits:
                held_out = _scored_rows(m, start.held_out_splits, column, start.subset)
    world.barrier()  # nobody holds the manifest open from here on: rank 0 may write
    bands = STAMP_SHAPE[0]
    model, raw = seeded_model(
        config, world, {"in_channels": (bands, f"a stamp has {bands} bands (g, r, z)")}
    )
    batches = batch_sampler(config, index, world)
    generator = torch.Generator()  # reseeded every epoch by the loop
    workers, pin = config.train.workers, world.device.type == "cuda"
    train_loader = DataLoader(
        train, batch_sampler=batches, collate_fn=collate_stamps, num_workers=workers,
        generator=generator, pin_memory=pin,
    )  # fmt: skip
    val_loader, held_out_loader = (
        None if rows is None else DataLoader(
            rows, batch_size=config.validation.batch_size, collate_fn=collate_stamps,
            num_workers=workers, pin_memory=pin,
        )
        for rows in (val, held_out)
    )  # fmt: skip
    quarantine = ManifestRecorder(start.manifest, start.run_id, buffered=True)
    guard = BatchGuard(
        sample_shape=STAMP_SHAPE, min_positives=batches.min_positives, recorder=quarantine
    )
    return assemble_session(
        config, world, start,
        Loaders(train_loader, batches, generator, val_loader, held_out_loader),
        models=(model, raw), guard=guard, quarantine=quarantine, index=index,
    )  # fmt: skip


def _scored_rows(
    m: Manifest, splits: tuple[str, ...], column: str, subset: tuple[int, ...] | None
) -> Dataset[StampItem]:
    """The rows of validation or held-out splits, unaugmented (a smoke run's files only)."""
    index = WindowIndex.load(m, splits)
    table = StampTable(StampSource.load(m, splits, column=column), augment=False)
    return _only(index, table, subset)[1]


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
    return keep_windows(index, {}, subset), Subset(rows, keep.tolist())
