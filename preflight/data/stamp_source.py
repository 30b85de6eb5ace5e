"""Where the stamps of some splits are, and their labels: the index both stamp datasets read.

``StampSource.load(manifest, splits)`` reads from the manifest of an audited Parquet source the
files of the splits (in ``rec_idx`` order); it checks that no file changed since the audit, reads
every row's label from the files' label column (``parquet_rows``: the manifest holds counts per
file, checked against what is read) and each file's footer for its row-group sizes (the unit both
datasets read). Position ``i`` of a
source is position ``i`` of ``WindowIndex.load(manifest, splits)``: both list the rows in
(``rec_idx``, row) order, so a ``BalancedSampler`` built on that index draws source positions.
The index costs one byte per row (10 MB for 10 million rows); the stamps stay on disk.

``StampTable`` is the map-style dataset over a source (random access by position, for
``BalancedSampler`` and ``PositiveBatchSampler``): an item reads its row group's stamp column, and
a small cache of row groups keeps memory bounded. ``stamps.StampStream`` streams instead.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import Dataset

from preflight.data.parquet_rows import read_row_labels
from preflight.data.stamp_codec import (
    STAMP_SHAPE,
    augment_stamp,
    decode_stamp,
    normalize_stamp,
)
from preflight.errors import InputError, Reason, UsageError
from preflight.manifest import recordings
from preflight.manifest.store import Manifest, ManifestKind

__all__ = ["StampFile", "StampItem", "StampSource", "StampTable", "open_table", "to_item"]

log = logging.getLogger(__name__)
READ_BUFFER = 1 << 20  # pyarrow reads column chunks through a buffer this size, not whole


class StampItem(NamedTuple):
    """One stamp, or a batch (``default_collate`` adds the leading B)."""

    x: torch.Tensor  # float32 (3, 64, 64) | (B, 3, 64, 64), normalized, augmented
    y: torch.Tensor  # float32 () | (B,): 1 for a positive (lens)
    ids: torch.Tensor  # int64 (2,) | (B, 2): rec_idx, row


@dataclass(frozen=True, slots=True)
class StampFile:
    """One Parquet file of a source, as the manifest knows it."""

    path: str  # absolute
    rec_idx: int
    n_rows: int
    row_groups: tuple[int, ...]  # rows per row group
    size: int
    mtime_ns: int


@dataclass(frozen=True, eq=False)
class StampSource:
    """The rows of some splits of an audited Parquet source (picklable, a byte per row).

    Attributes:
        splits: the splits included.
        files: the files, in ``rec_idx`` order.
        offsets: int64 [F + 1], the position of each file's row 0 (and the total).
        positive: bool [N], each row's label.
        column: the column holding the encoded stamps.
    """

    splits: tuple[str, ...]
    files: tuple[StampFile, ...]
    offsets: np.ndarray
    positive: np.ndarray
    column: str = "stamp_npz"

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @classmethod
    def load(
        cls,
        manifest: Manifest,
        splits: str | tuple[str, ...],
        *,
        column: str = "stamp_npz",
        root: str | os.PathLike[str] | None = None,
    ) -> StampSource:
        """The rows of ``splits`` from an audited Parquet source's manifest.

        Args:
            manifest: the manifest (read-only is enough).
            splits: split names.
            column: the column holding the encoded stamps.
            root: the data root (default: where the last audit found it).

        Raises:
            UsageError: the manifest is not of a Parquet source, a split is unknown, or a file
                changed (size or mtime) since the audit: its labels could be stale. Reads each
            file's footer for its row groups (the unit the datasets read).
        """
        names = (splits,) if isinstance(splits, str) else tuple(splits)
        _check_manifest(manifest, names)
        base = str(root if root is not None else manifest.meta("parquet_root") or ".")
        rows = recordings.stamp_files(manifest, names)
        listed = [
            StampFile(os.path.join(base, path), rec, n, (), size, mtime)
            for rec, path, n, size, mtime in rows
        ]
        _check_unchanged(listed)
        files = tuple(dataclasses.replace(f, row_groups=_row_groups(f)) for f in listed)
        labels = read_row_labels(manifest, names, root=base)  # WindowIndex's order
        if labels.files.tolist() != [f.rec_idx for f in files]:
            raise UsageError(
                "the manifest's files and their counts disagree; run `preflight audit` again",
                path=manifest.path,
            )
        return cls(names, files, labels.offsets, labels.positive, column)

    def locate(self, position: int) -> tuple[int, int]:
        """(file index, row in the file) of a source position."""
        i = int(np.searchsorted(self.offsets, position, side="right")) - 1
        return i, int(position - self.offsets[i])


def _check_unchanged(files: list[StampFile]) -> None:
    """Raise ``UsageError`` naming the files whose size or mtime differ from the audit's."""
    changed = []
    for f in files:
        try:
            st = os.stat(f.path)
        except OSError as exc:
            changed.append(f"{f.path} ({exc.strerror})")
            continue
        if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns):
            changed.append(f.path)
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise UsageError(
            f"{len(changed)} file(s) changed since the audit: {', '.join(changed[:3])}{more};"
            " run `preflight audit` again so labels and stamps agree"
        )


def _row_groups(f: StampFile) -> tuple[int, ...]:
    """Rows per row group, from the file's footer (a few kilobytes)."""
    try:
        meta = pq.read_metadata(f.path)
    except (OSError, pa.ArrowException) as exc:
        raise UsageError(f"cannot read its footer ({exc})", path=f.path) from None
    groups = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    if sum(groups) != f.n_rows:
        raise UsageError(
            f"holds {sum(groups)} rows, the audit counted {f.n_rows}; run `preflight audit` again",
            path=f.path,
        )
    return groups


def _check_manifest(manifest: Manifest, names: tuple[str, ...]) -> None:
    """Raise ``UsageError`` unless ``manifest`` is an audited Parquet source with ``names``."""
    if manifest.kind is not ManifestKind.TABLES or not manifest.has_derived():
        raise UsageError(
            "not the manifest of an audited Parquet source; run "
            "`preflight audit SOURCE --format parquet` first",
            path=manifest.path,
        )
    known = recordings.split_names(manifest)
    if unknown := sorted(set(names) - known):
        raise UsageError(
            f"unknown split(s) {', '.join(unknown)}; the manifest has {', '.join(sorted(known))}",
            path=manifest.path,
        )


def open_table(path: str) -> pq.ParquetFile:
    """A Parquet file opened for streaming reads (buffered: a column chunk is not read whole)."""
    return pq.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False)


def to_item(
    data: bytes | None,
    label: bool,
    ids: tuple[int, int],
    *,
    rotations: int,
    flip: bool,
    where: str,
) -> StampItem:
    """Decode, normalize and augment one stamp. An undecodable stamp becomes NaN (logged with
    its place) so that the batch guard quarantines its batch with the ids, never silently."""
    try:
        if data is None:
            raise InputError("stamp: null", reason=Reason.BAD_FORMAT)
        x = augment_stamp(normalize_stamp(decode_stamp(data)), rotations, flip)
    except InputError as exc:
        log.warning("%s row %d: %s; yielding NaN for the batch guard", where, ids[1], exc.message)
        x = np.full(STAMP_SHAPE, np.nan, dtype=np.float32)
    return StampItem(
        torch.from_numpy(x),
        torch.tensor(1.0 if label else 0.0, dtype=torch.float32),
        torch.tensor(ids, dtype=torch.int64),
    )


class StampTable(Dataset[StampItem]):
    """Map-style stamps: item ``i`` is source position ``i`` (a ``WindowIndex`` position).

    Each read loads its row group's stamp column; ``cache_row_groups`` of them are kept, so a
    sampler's batch touching the same row groups reads each once. Random draws over a large tier
    read a row group per item: use ``StampStream`` (which can follow a ``BalancedSampler``)
    for large tiers, this for small ones and for exact per-batch guarantees
    (``PositiveBatchSampler``).

    Args:
        source: the rows.
        augment: apply a random symmetry of the square to each stamp.
        cache_row_groups: row groups kept in memory (per worker).

    Augmentations draw from a generator seeded by ``torch.initial_seed()`` in each process, so
    they are reproducible under ``torch.manual_seed`` and differ between DataLoader workers and
    epochs.
    """

    def __init__(
        self, source: StampSource, *, augment: bool = True, cache_row_groups: int = 4
    ) -> None:
        if cache_row_groups < 1:
            raise UsageError(f"cache_row_groups {cache_row_groups} must be at least 1")
        self.source = source
        self.augment = augment
        self.cache_row_groups = cache_row_groups
        self._starts = [np.concatenate([[0], np.cumsum(f.row_groups)]) for f in source.files]
        self._pid = -1
        self._cache: OrderedDict[tuple[int, int], pa.Array] = OrderedDict()
        self._rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> StampItem:
        if not 0 <= i < len(self.source):
            raise IndexError(f"position {i} outside [0, {len(self.source)})")
        self._fresh()
        f, row = self.source.locate(i)
        group = int(np.searchsorted(self._starts[f], row, side="right")) - 1
        column = self._row_group(f, group)
        data = column[row - int(self._starts[f][group])].as_py()
        meta = self.source.files[f]
        rotations, flip = (
            (int(self._rng.integers(4)), bool(self._rng.integers(2)))
            if self.augment
            else (0, False)
        )
        return to_item(
            data, bool(self.source.positive[i]), (meta.rec_idx, row),
            rotations=rotations, flip=flip, where=meta.path,
        )  # fmt: skip

    def __getitems__(self, indices: list[int]) -> list[StampItem]:
        """A batch, read in (file, row) order so each row group is loaded once."""
        order = sorted(range(len(indices)), key=lambda k: indices[k])
        items: list[StampItem | None] = [None] * len(indices)
        for k in order:
            items[k] = self[indices[k]]
        return [item for item in items if item is not None]

    def _fresh(self) -> None:
        """Per process: an empty cache (no handle crosses a fork) and its own generator."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._cache.clear()
            self._rng = np.random.default_rng(torch.initial_seed())

    def _row_group(self, f: int, group: int) -> pa.Array:
        key = (f, group)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        with open_table(self.source.files[f].path) as pf:
            table = pf.read_row_group(group, columns=[self.source.column])
        self._cache[key] = table.column(0).combine_chunks()
        if len(self._cache) > self.cache_row_groups:
            self._cache.popitem(last=False)
        return self._cache[key]
