"""Training input for image stamps: a streaming dataset with bounded memory, whatever the tier.

``StampStream`` reads the ``stamp_npz`` column row group by row group
(``pyarrow.parquet.ParquetFile.iter_batches(columns=[...])``, ``read_rows`` rows at a time), decodes
each stamp with ``allow_pickle=False`` to float32 (3, 64, 64), normalizes it per band (median /
MAD) and applies a random symmetry of the square (flips and 90-degree rotations). It yields
``StampItem(x, y, ids)``: x float32 (3, 64, 64), y float32 (), ids int64 (2,) = (rec_idx, row).

How an epoch is cut (the same in every process, from ``(seed, epoch)``):

* the unit of reading and sharding is a **row group** (a file's row groups are independent);
* units are shuffled, dealt to ranks (``torch.distributed``: ``units[rank::world_size]``), then
  to DataLoader workers (``[worker::num_workers]``); every rank yields the same number of rows
  (the smallest rank's total: a few rows of the largest ranks are left out of that epoch), so no
  rank waits for another at the end of an epoch;
* each worker keeps ``interleave`` units open and draws the next row from a random one of them,
  so a batch mixes files; rows are shuffled within each ``read_rows`` chunk;
* augmentations and within-chunk order come from ``(seed, epoch, unit)``: the same rows get the
  same symmetries whatever the number of workers.

Memory per worker is ``interleave`` x ``read_rows`` encoded stamps plus pyarrow's read buffer, not
a function of the tier size; the only per-row state is the source's labels (a byte per row).

**With a sampler**: given a ``BalancedSampler`` built on ``WindowIndex.load(manifest, splits)`` for
the same splits, the stream yields that sampler's epoch draw (each row as many times as it was
drawn) in this I/O-friendly order instead of the natural one: class-balanced sampling without
random access. ``set_epoch`` forwards to the sampler. For exact per-batch guarantees
(``PositiveBatchSampler``) use the map-style ``StampTable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from preflight.data.sample import BalancedSampler
from preflight.data.stamp_codec import (
    STAMP_SHAPE,
    augment_stamp,
    decode_stamp,
    encode_stamp,
    normalize_stamp,
)
from preflight.data.stamp_source import (
    StampFile,
    StampItem,
    StampSource,
    StampTable,
    open_table,
    to_item,
)
from preflight.errors import UsageError

__all__ = [
    "STAMP_SHAPE",
    "StampFile",
    "StampItem",
    "StampSource",
    "StampStream",
    "StampTable",
    "augment_stamp",
    "decode_stamp",
    "encode_stamp",
    "normalize_stamp",
]


@dataclass(frozen=True)
class _Units:
    """Row groups of a source: file, group, first source position, first row, rows."""

    file: np.ndarray  # int64 (U,)
    group: np.ndarray  # int64 (U,)
    first: np.ndarray  # int64 (U,) source position of the unit's first row
    row0: np.ndarray  # int64 (U,) row in the file of the unit's first row
    rows: np.ndarray  # int64 (U,)

    @classmethod
    def of(cls, source: StampSource) -> _Units:
        per_file = [np.asarray(f.row_groups, dtype=np.int64) for f in source.files]
        rows = np.concatenate([np.zeros(0, np.int64), *per_file])
        file = np.repeat(np.arange(len(per_file)), [g.size for g in per_file])
        group = np.concatenate([np.zeros(0, np.int64), *(np.arange(g.size) for g in per_file)])
        row0 = np.concatenate(
            [np.zeros(0, np.int64), *(np.cumsum(g) - g for g in per_file)]
        ).astype(np.int64)
        first = source.offsets[file] + row0
        keep = rows > 0
        return cls(file[keep], group[keep], first[keep], row0[keep], rows[keep])


class StampStream(IterableDataset[StampItem]):
    """Streams the stamps of a ``StampSource`` (see the module docstring for the epoch's cut).

    Args:
        source: the rows to stream.
        sampler: a ``BalancedSampler`` over the same rows whose draw to follow (None: every row
            once per epoch).
        shuffle: shuffle units and rows (False: file order, for evaluation).
        augment: apply a random symmetry of the square to each stamp.
        seed: seeds the epoch's cut and the augmentations.
        interleave: units each worker reads at once.
        read_rows: rows per pyarrow read batch.
        rank: this process's rank (default: the sampler's, else ``torch.distributed``, else 0).
        world_size: the number of ranks (default likewise, else 1).

    Raises:
        UsageError: a sampler over other rows, or a setting out of range.
    """

    def __init__(
        self,
        source: StampSource,
        *,
        sampler: BalancedSampler | None = None,
        shuffle: bool = True,
        augment: bool = True,
        seed: int = 0,
        interleave: int = 4,
        read_rows: int = 256,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        if interleave < 1 or read_rows < 1 or seed < 0:
            raise UsageError(
                f"interleave {interleave} and read_rows {read_rows} must be >= 1, seed {seed} >= 0"
            )
        if sampler is not None:
            _check_sampler(sampler, source)
            rank = sampler.rank if rank is None else rank
            world_size = sampler.world_size if world_size is None else world_size
        self.source = source
        self.sampler = sampler
        self.shuffle = shuffle
        self.augment = augment
        self.seed = seed
        self.interleave = interleave
        self.read_rows = read_rows
        self.rank, self.world_size = _rank_world(rank, world_size)
        self.epoch = 0
        self._units = _Units.of(source)
        self._plan: tuple[int, np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Cut a different, reproducible epoch; call with the same epoch on every rank."""
        if epoch < 0:
            raise UsageError(f"epoch {epoch} must be non-negative")
        self.epoch = epoch
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        """Rows this rank yields this epoch (over all its DataLoader workers)."""
        return int(self._cut()[2].sum())

    def __iter__(self) -> Iterator[StampItem]:
        _, units, quotas, counts = self._cut()
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        mine = list(
            zip(units[worker::workers].tolist(), quotas[worker::workers].tolist(), strict=True)
        )
        mixer = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        pending = iter(mine)
        width = self.interleave if self.shuffle else 1  # unshuffled: unit after unit
        active = [self._emit(u, q, counts) for u, q in _take(pending, width)]
        while active:
            k = int(mixer.integers(len(active))) if self.shuffle else 0
            item = next(active[k], None)
            if item is not None:
                yield item
                continue
            nxt = next(pending, None)
            if nxt is None:
                active.pop(k)
            else:
                active[k] = self._emit(nxt[0], nxt[1], counts)

    def _cut(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None]:
        """This epoch's (epoch, units, quotas) for this rank, and the rows' multiplicities."""
        if self._plan is not None and self._plan[0] == self.epoch:
            return self._plan
        u = self._units
        counts = None
        totals = u.rows
        if self.sampler is not None:
            draw = self.sampler.epoch_sample()  # (num_samples * world,) source positions
            counts = np.bincount(draw, minlength=len(self.source)).astype(np.int32)  # (N,)
            totals = np.add.reduceat(counts, u.first) if u.first.size else u.rows
        n = u.first.size
        order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(n)
            if self.shuffle
            else np.arange(n)
        )
        cap = min(int(totals[order[r :: self.world_size]].sum()) for r in range(self.world_size))
        mine = order[self.rank :: self.world_size]
        quotas = np.minimum(
            totals[mine], np.maximum(cap - (np.cumsum(totals[mine]) - totals[mine]), 0)
        )
        keep = quotas > 0
        self._plan = (self.epoch, mine[keep], quotas[keep], counts)
        return self._plan

    def _emit(self, unit: int, quota: int, counts: np.ndarray | None) -> Iterator[StampItem]:
        """One row group's items: chunks of ``read_rows``, each shuffled, up to ``quota``."""
        u = self._units
        meta = self.source.files[int(u.file[unit])]
        rng = np.random.default_rng([self.seed, self.epoch, unit])
        first, left, done = int(u.first[unit]), quota, 0
        with open_table(meta.path) as pf:
            batches = pf.iter_batches(
                batch_size=self.read_rows,
                row_groups=[int(u.group[unit])],
                columns=[self.source.column],
            )
            for batch in batches:
                column = batch.column(0)  # (n,) encoded stamps of this chunk
                n = len(column)
                reps = counts[first + done : first + done + n] if counts is not None else 1
                emit = np.repeat(np.arange(n), reps)  # (m,) chunk rows, repeated as drawn
                if self.shuffle:
                    rng.shuffle(emit)
                emit = emit[:left]
                yield from self._items(
                    column, emit, meta, first + done, int(u.row0[unit]) + done, rng
                )
                left -= emit.size
                done += n
                if left <= 0:
                    return

    def _items(
        self,
        column: pa.Array,
        emit: np.ndarray,
        meta: StampFile,
        position: int,
        row: int,
        rng: np.random.Generator,
    ) -> Iterator[StampItem]:
        """Items of chunk rows ``emit``; the chunk starts at source ``position``, file ``row``."""
        turns = rng.integers(4, size=emit.size) if self.augment else np.zeros(emit.size, int)
        flips = rng.integers(2, size=emit.size) if self.augment else np.zeros(emit.size, int)
        for j, turn, flip in zip(emit.tolist(), turns.tolist(), flips.tolist(), strict=True):
            yield to_item(
                column[j].as_py(),
                bool(self.source.positive[position + j]),
                (meta.rec_idx, row + j),
                rotations=turn,
                flip=bool(flip),
                where=meta.path,
            )


def _take(pending: Iterator[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(n):
        nxt = next(pending, None)
        if nxt is None:
            break
        out.append(nxt)
    return out


def _rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Explicit values win; else ``torch.distributed`` when initialized; else rank 0 of 1."""
    live = dist.is_available() and dist.is_initialized()
    world = world_size if world_size is not None else (dist.get_world_size() if live else 1)
    me = rank if rank is not None else (dist.get_rank() if live else 0)
    if world < 1 or not 0 <= me < world:
        raise UsageError(f"rank {me} does not exist in a world of {world} process(es)")
    return me, world


def _check_sampler(sampler: BalancedSampler, source: StampSource) -> None:
    """The sampler's index must list the source's rows, in the same order."""
    index = sampler.index
    starts = source.offsets[:-1]
    same = len(index) == len(source) and (
        not starts.size or np.array_equal(index.rec_idx[starts], [f.rec_idx for f in source.files])
    )
    if not same:
        raise UsageError(
            f"the sampler draws from {len(index)} windows of split(s) {'+'.join(index.splits)}, "
            f"not the {len(source)} rows of {'+'.join(source.splits)}; build it on "
            "WindowIndex.load(manifest, splits) with the same splits"
        )
