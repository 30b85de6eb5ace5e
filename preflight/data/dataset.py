"""The EEG window dataset: items sliced from the preprocessed cache, labels from the manifest.

Position ``i`` of ``EEGWindowDataset`` is position ``i`` of its ``WindowIndex``, the sample index a
sampler yields. An item is ``EEGItem(x, y, mask, ids)``:

* ``x``: float32 [C, T], the window's samples from the memory-mapped cache entry of its
  recording (T = window_s x rate, C the montage's channels), normalized (see ``Normalization``);
* ``y``: float32 scalar, the manifest's window label (``windows.positive``);
* ``mask``: float32 [T], 1 for the samples inside one of the recording's seizures (the manifest's
  ``seizures`` intervals: sample n is inside when start_s <= n / rate < stop_s);
* ``ids``: int64 [2], (``rec_idx``, ``window_idx``), for quarantine records and evaluation.

Everything but the samples is computed when the dataset is made, from two SQL queries and
vectorized NumPy; reading an item opens neither an EDF nor MNE, only the memory map.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NamedTuple, overload

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate, get_worker_info

from preflight.data.cache import CacheEntry, WindowCache
from preflight.data.window_index import WindowIndex
from preflight.errors import UsageError
from preflight.manifest import recordings
from preflight.manifest.store import Manifest

__all__ = ["EEGItem", "EEGWindowDataset", "Normalization", "collate"]

_SHIFT = 40  # (slot << 40) + sample orders intervals of every recording in one sorted key
_MIN_STD = 1e-6  # a flatter window channel is left unscaled (it stays zero after centring)


class EEGItem(NamedTuple):
    """One window, or a batch of them (``collate`` adds the leading B dimension)."""

    x: torch.Tensor  # float32 (C, T) | (B, C, T)
    y: torch.Tensor  # float32 () | (B,)
    mask: torch.Tensor  # float32 (T,) | (B, T)
    ids: torch.Tensor  # int64 (2,) | (B, 2): rec_idx, window_idx


class Normalization(StrEnum):
    """How ``x`` is scaled, per channel.

    ``RECORDING`` (the default) z-scores each channel with robust statistics of the whole
    recording (median, 1.4826 x median absolute deviation): the background of every recording is
    about unit scale whatever the amplifier gain, and a seizure keeps its larger amplitude. The
    cache stores samples this way, so it costs nothing. ``WINDOW`` z-scores each channel over the
    window itself (amplitude-free inputs: a seizure is then visible only in its shape and
    rhythm). ``NONE`` gives µV.
    """

    RECORDING = "recording"
    WINDOW = "window"
    NONE = "none"


class _Assembled(Sequence[EEGItem]):
    """The items of one batch, already stacked by ``__getitems__``; ``collate`` returns them as
    they are, ``default_collate`` stacks views of them (same result, one more copy)."""

    def __init__(self, batch: EEGItem) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return int(self.batch.y.shape[0])

    @overload
    def __getitem__(self, k: int) -> EEGItem: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[EEGItem]: ...
    def __getitem__(self, k: int | slice) -> EEGItem | Sequence[EEGItem]:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(k)
        return EEGItem(*(tensor[k] for tensor in self.batch))


def collate(batch: Sequence[EEGItem]) -> EEGItem:
    """Stack items into ``(x [B, C, T], y [B], mask [B, T], ids [B, 2])``.

    Gives what ``torch.utils.data.default_collate`` gives (and uses it for items from elsewhere),
    typed as an ``EEGItem``; a batch that ``EEGWindowDataset.__getitems__`` assembled in place is
    passed through without a copy.
    """
    if isinstance(batch, _Assembled):
        return batch.batch
    x, y, mask, ids = default_collate(list(batch))
    return EEGItem(x, y, mask, ids)


class EEGWindowDataset(Dataset[EEGItem]):
    """The windows of a ``WindowIndex``, read from a built ``WindowCache``.

    ``DataLoader`` fetches a batch through ``__getitems__``, which copies each window once, into
    the batch tensor (in shared memory inside a worker process); use ``collate`` as the
    ``collate_fn`` to keep it that way.

    Args:
        index: the windows (their order is the sample index).
        cache: the preprocessed cache; every recording of ``index`` needs a valid entry.
        manifest: the manifest ``index`` came from (content hashes, seizure intervals); it is
            read here and not kept, so the dataset pickles into DataLoader workers.
        normalization: how ``x`` is scaled (see ``Normalization``).

    Raises:
        UsageError: a recording has no cache entry (run ``cache.build`` first; recordings the
            build rejected must leave the split), the window or stride is not a whole number of
            samples at the cache's rate, or an entry is shorter than its windows.
    """

    def __init__(
        self,
        index: WindowIndex,
        cache: WindowCache,
        manifest: Manifest,
        *,
        normalization: Normalization = Normalization.RECORDING,
    ) -> None:
        self.index = index
        self.normalization = Normalization(normalization)
        self.rate = float(cache.params.rate)
        self.n_samples = _whole(index.window_s * self.rate, "window", index.window_s, self.rate)
        stride = _whole(index.stride_s * self.rate, "stride", index.stride_s, self.rate)
        recs = np.unique(index.rec_idx)  # (R,) sorted; a recording's slot is its position
        entries = _entries(manifest, cache, recs)
        self.channels = entries[0].channels if entries else cache.params.montage.channels
        self._paths = [str(e.array_path) for e in entries]
        self._center = np.array([e.center for e in entries], np.float32).reshape(len(recs), -1)
        self._scale = np.array([e.scale for e in entries], np.float32).reshape(len(recs), -1)
        self._slot = np.searchsorted(recs, index.rec_idx).astype(np.int32)  # (N,)
        lengths = np.array([e.n_samples for e in entries], dtype=np.int64)  # (R,)
        self._start = _starts(index, stride, self.n_samples, lengths[self._slot])  # (N,)
        self._iv_start, self._iv_stop, self._first = _intervals(
            manifest, recs, self._slot, self._start, self.n_samples, self.rate
        )
        self._y = index.positive.astype(np.float32)  # (N,)
        self._arrays: dict[int, np.ndarray] = {}  # slot -> memory map, opened on first use

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        splits: str | tuple[str, ...],
        cache: WindowCache,
        *,
        normalization: Normalization = Normalization.RECORDING,
    ) -> EEGWindowDataset:
        """The dataset of ``splits``: ``WindowIndex.load`` then the constructor."""
        index = WindowIndex.load(manifest, splits)
        return cls(index, cache, manifest, normalization=normalization)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> EEGItem:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: Sequence[int]) -> Sequence[EEGItem]:
        """The items at ``indices``, assembled as one batch (what ``DataLoader`` calls)."""
        pos = np.asarray(indices, dtype=np.int64)  # (B,)
        if pos.size and not (-len(self) <= pos.min() and pos.max() < len(self)):
            raise IndexError(f"index out of range for {len(self)} windows")
        pos %= max(len(self), 1)
        x = _empty((len(pos), len(self.channels), self.n_samples))  # (B, C, T)
        mask = np.zeros((len(pos), self.n_samples), dtype=np.float32)  # (B, T)
        out = x.numpy()
        reads = zip(
            self._slot[pos].tolist(),
            self._start[pos].tolist(),
            self._first[pos].tolist(),
            strict=True,
        )
        for k, (slot, start, first) in enumerate(reads):
            self._read(out[k], slot, start)  # (C, T)
            if first >= 0:  # the window overlaps a seizure
                self._fill_mask(mask[k], first, slot, start)
        ids = np.stack((self.index.rec_idx[pos], self.index.window_idx[pos]), axis=1)  # (B, 2)
        batch = EEGItem(
            x,
            torch.from_numpy(self._y[pos]),
            torch.from_numpy(mask),
            torch.from_numpy(ids.astype(np.int64)),
        )
        return _Assembled(batch)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"] = {}  # memory maps are reopened in each worker, never pickled
        return state

    def _read(self, out: np.ndarray, slot: int, start: int) -> None:
        """Copy one window into ``out`` (C, T) float32 and normalize it in place."""
        array = self._arrays.get(slot)
        if array is None:  # copy-on-write map: writable for torch, the file is never written
            mapped = np.load(self._paths[slot], mmap_mode="c", allow_pickle=False)
            array = self._arrays[slot] = mapped.view(np.ndarray)  # plain view: faster slicing
        window = array[:, start : start + self.n_samples]  # (C, T) stored dtype
        if window.dtype == np.float32:
            np.copyto(out, window)
        else:  # torch converts float16 about 4x faster than NumPy
            torch.from_numpy(out).copy_(torch.from_numpy(window))
        if self.normalization is Normalization.NONE:
            out *= self._scale[slot][:, None]
            out += self._center[slot][:, None]
        elif self.normalization is Normalization.WINDOW:
            out -= out.mean(axis=1, keepdims=True)
            out /= np.maximum(out.std(axis=1, keepdims=True), np.float32(_MIN_STD))

    def _fill_mask(self, mask: np.ndarray, j: int, slot: int, start: int) -> None:
        """Set the samples of ``mask`` (T,) inside seizure intervals ``j``, ``j + 1`` ..."""
        origin = (slot << _SHIFT) + start  # key of the window's first sample
        end = origin + self.n_samples
        # Intervals are sorted by key; those of later recordings start past ``end``.
        while j < len(self._iv_start) and self._iv_start[j] < end:
            lo, hi = int(self._iv_start[j] - origin), int(self._iv_stop[j] - origin)
            mask[max(lo, 0) : max(hi, 0)] = 1.0
            j += 1


def _empty(shape: tuple[int, int, int]) -> torch.Tensor:
    """An uninitialized float32 tensor; in shared memory inside a DataLoader worker, as
    ``default_collate`` does, so sending the batch to the main process copies nothing."""
    if get_worker_info() is None:
        return torch.empty(shape)
    proto = torch.empty(0)
    storage = proto._typed_storage()._new_shared(math.prod(shape), device=proto.device)
    return proto.new(storage).resize_(shape)


def _whole(samples: float, what: str, seconds: float, rate: float) -> int:
    rounded = round(samples)
    if abs(samples - rounded) > 1e-6 or rounded < 1:
        raise UsageError(
            f"{what} {seconds:g} s at {rate:g} Hz is {samples:g} samples, not a whole number >= 1;"
            " choose a target rate that makes it whole"
        )
    return int(rounded)


def _entries(manifest: Manifest, cache: WindowCache, recs: np.ndarray) -> list[CacheEntry]:
    """The cache entry of each recording in ``recs`` (in order), or a UsageError naming the gaps."""
    rows = recordings.recording_cache_keys(manifest, recs.tolist())
    found = {int(r): (h, p) for r, h, p in rows}
    entries: list[CacheEntry] = []
    missing: list[str] = []
    for rec in recs.tolist():
        content_hash, path = found.get(rec, (None, f"rec_idx {rec}"))
        entry = None if content_hash is None else cache.entry(content_hash)
        if entry is None:
            missing.append(path)
        else:
            entries.append(entry)
    if missing:
        raise UsageError(
            f"{len(missing)} of {len(recs)} recordings have no cache entry in {cache.folder}"
            f" (first: {', '.join(missing[:3])}); run WindowCache.build(manifest), and leave"
            " recordings the build rejected out of the split"
        )
    return entries


def _starts(index: WindowIndex, stride: int, width: int, lengths: np.ndarray) -> np.ndarray:
    """First sample of every window, int64 (N,); an entry shorter than its windows raises."""
    starts = index.window_idx.astype(np.int64) * stride  # (N,)
    short = starts + width > lengths
    if short.any():
        i = int(np.flatnonzero(short)[0])
        raise UsageError(
            f"cache entry of rec_idx {int(index.rec_idx[i])} has {int(lengths[i])} samples but"
            f" window {int(index.window_idx[i])} needs {int(starts[i]) + width}: the cache and"
            " the manifest disagree on its duration; rebuild both"
        )
    return starts


def _intervals(
    manifest: Manifest,
    recs: np.ndarray,
    slots: np.ndarray,
    starts: np.ndarray,
    width: int,
    rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seizure intervals as sorted keys (slot << 40 | sample), and each window's first one.

    Returns:
        int64 (K,) interval start keys, int64 (K,) stop keys (exclusive), and int64 (N,) the
        first interval overlapping each window, -1 when none does.
    """
    rows = recordings.seizure_arrays(manifest, recs.tolist())
    iv_slot = np.searchsorted(recs, np.asarray(rows["rec_idx"])).astype(np.int64)  # (K,)
    base = iv_slot << _SHIFT
    # Sample n is inside [start_s, stop_s) when n >= start_s * rate and n < stop_s * rate.
    iv_start = base + np.ceil(np.asarray(rows["start_s"]) * rate - 1e-9).astype(np.int64)
    iv_stop = base + np.ceil(np.asarray(rows["stop_s"]) * rate - 1e-9).astype(np.int64)
    win_key = (slots.astype(np.int64) << _SHIFT) + starts  # (N,)
    first = np.searchsorted(iv_stop, win_key, side="right")  # first interval ending after start
    hit = first < len(iv_stop)
    safe = np.minimum(first, max(len(iv_stop) - 1, 0))
    if len(iv_stop):
        hit &= (iv_start[safe] < win_key + width) & (iv_slot[safe] == slots)
    else:
        hit[:] = False
    return iv_start, iv_stop, np.where(hit, first, -1)
