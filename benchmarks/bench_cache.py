"""Benchmark the cached input pipeline against raw memory-mapped reads of the same windows.

Prints figures; never asserts. Rerun with::

    .venv/bin/python benchmarks/bench_cache.py                      # 24 recordings of 5-10 min
    .venv/bin/python benchmarks/bench_cache.py --recordings 8 --batches 20

A synthetic TUSZ corpus is written and audited, then cached (19-channel 10-20 montage, 256 Hz,
0.5-70 Hz band-pass, 60 Hz notch) once per storage type (float16, the default, and float32).
For each, in the same run, over the same page-cache-warm files and random windows:

* **raw slices**: window slices copied straight out of the memory maps with NumPy, in the
  stored type (``mm[:, s:s + T].copy()``), each dropped at once (so the allocator hands the same
  cache-hot buffer back every time): the bytes leaving the page cache, nothing else;
* **raw batches**: the same slices written into one reused [64, C, T] array of the stored type,
  the least a hand-written loader does to assemble a batch;
* **pipeline**: ``DataLoader(EEGWindowDataset, batch_size=64, collate_fn=collate)`` over a
  seeded ``RandomSampler`` (with replacement), ``num_workers`` 0 and 2, timed after the first
  batch (worker start-up is printed apart). It delivers float32 x with y, mask and ids;
* **reference**: the same DataLoader over the smallest hand-written torch ``Dataset`` (item =
  ``torch.from_numpy(np.array(mm[:, s:s + T], dtype=float32))``, ``default_collate``): what the
  platform gives any map-style dataset, to tell our overhead from the machine's.

The issue's figure is pipeline / raw (target >= 70 %); both raw baselines are printed. Each
figure is the best of ``--repeat`` runs, because the CPU may be shared; the load average is
printed with them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from preflight.data.cache import CacheDtype, Preprocessing, WindowCache
from preflight.data.dataset import EEGWindowDataset, collate
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.synth.corpus import SynthSpec, synthesize

BATCH = 64


class Windows:
    """Where every window of a dataset lives: memory maps, and (map, first sample) per window."""

    def __init__(self, ds: EEGWindowDataset, cache: WindowCache, m: Manifest) -> None:
        self.maps: dict[int, np.ndarray] = {}
        for rec, content_hash in m.query("SELECT rec_idx, content_hash FROM recordings"):
            entry = cache.entry(content_hash)
            if entry is not None:
                self.maps[int(rec)] = cache.open(entry)
        self.rec = ds.index.rec_idx.tolist()
        stride = round(ds.index.stride_s * ds.rate)
        self.start = (ds.index.window_idx.astype(np.int64) * stride).tolist()
        self.width = ds.n_samples

    def slice(self, i: int) -> np.ndarray:
        """Window ``i`` as a view of its memory map, (C, T) stored dtype."""
        start = self.start[i]
        return self.maps[self.rec[i]][:, start : start + self.width]


class Reference(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The smallest hand-written map-style dataset over the same memory maps."""

    def __init__(self, windows: Windows, labels: np.ndarray) -> None:
        self.windows = windows
        self.labels = torch.from_numpy(labels.astype(np.float32))

    def __len__(self) -> int:
        return len(self.windows.rec)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.array(self.windows.slice(i), dtype=np.float32)  # (C, T)
        return torch.from_numpy(x), self.labels[i]


def _raw(windows: Windows, order: list[int]) -> tuple[float, float]:
    """Seconds to copy the windows ``order`` out of the maps: loose, and into a batch array."""
    t0 = time.perf_counter()
    for i in order:
        windows.slice(i).copy()  # (C, T) stored dtype
    t1 = time.perf_counter()
    first = windows.slice(0)
    batch = np.empty((BATCH, *first.shape), dtype=first.dtype)  # (B, C, T)
    for k, i in enumerate(order):
        batch[k % BATCH] = windows.slice(i)
    return t1 - t0, time.perf_counter() - t1


def _loader(ds: Dataset, workers: int, batches: int, seed: int) -> tuple[float, float]:
    """(seconds for ``batches`` batches after the first, seconds to the first batch)."""
    sampler = RandomSampler(
        ds,  # type: ignore[arg-type]
        replacement=True,
        num_samples=(batches + 1) * BATCH,
        generator=torch.Generator().manual_seed(seed),
    )
    fn = collate if isinstance(ds, EEGWindowDataset) else None
    loader = DataLoader(ds, batch_size=BATCH, sampler=sampler, num_workers=workers, collate_fn=fn)
    t0 = time.perf_counter()
    it = iter(loader)
    next(it)
    t1 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return time.perf_counter() - t1, t1 - t0


def _warm(cache: WindowCache) -> int:
    """Read every entry once so that every reader reads from the page cache; bytes read."""
    return sum(len(path.read_bytes()) for path in cache.folder.glob("*.npy"))


def _measure(args: argparse.Namespace, m: Manifest, cache_dir: Path, dtype: CacheDtype) -> None:
    cache = WindowCache(cache_dir, Preprocessing(dtype=dtype))
    report = cache.build(m, workers=args.build_workers, progress=False)
    size = _warm(cache)
    ds = EEGWindowDataset.from_manifest(m, "train", cache)
    windows = Windows(ds, cache, m)
    n = args.batches * BATCH
    mb = len(ds.channels) * ds.n_samples * 4 / 1e6  # float32 MB delivered per window
    print(
        f"\n{dtype}: built {report.built} entries in {report.seconds:.1f} s "
        f"({args.build_workers} workers), {size / 1e6:.0f} MB; "
        f"{len(ds)} windows of {len(ds.channels)} x {ds.n_samples}"
    )
    rng = np.random.default_rng(0)
    raws = [_raw(windows, rng.integers(0, len(ds), n).tolist()) for _ in range(args.repeat)]
    loose, batched = n / min(r[0] for r in raws), n / min(r[1] for r in raws)
    print(f"  raw slices                  {loose:8.0f} windows/s")
    print(f"  raw batches                 {batched:8.0f} windows/s")
    reference = Reference(windows, ds.index.positive)
    for workers in args.workers:
        for name, dataset in (("pipeline", ds), ("reference", reference)):
            runs = [_loader(dataset, workers, args.batches, seed) for seed in range(args.repeat)]
            rate = n / min(t for t, _ in runs)
            print(
                f"  {name:9} num_workers={workers} {rate:8.0f} windows/s {rate * mb:6.0f} MB/s"
                f"  = {rate / batched:5.0%} of raw batches, {rate / loose:5.0%} of raw slices"
                f"  (first batch {min(s for _, s in runs):.2f} s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=24, help="recordings of 5-10 min")
    parser.add_argument("--batches", type=int, default=40, help="timed batches of 64 per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--build-workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"cpus {os.cpu_count()}, load average before {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench_cache_") as tmp:
        t0 = time.perf_counter()
        manifest = _corpus(Path(tmp) / "corpus", args.recordings)
        print(f"synth + audit of {args.recordings} recordings: {time.perf_counter() - t0:.1f} s")
        with Manifest.open(manifest, read_only=True) as m:
            for dtype in CacheDtype:
                _measure(args, m, Path(tmp) / "cache", dtype)
    print(f"\nload average after {os.getloadavg()[0]:.2f}")


def _corpus(root: Path, recordings: int) -> Path:
    """A synthetic TUSZ corpus of ``recordings`` train recordings of 5-10 min, audited."""
    spec = SynthSpec(
        train_patients=max(1, recordings // 2),
        dev_patients=0,
        eval_patients=0,
        recordings_per_patient=2,
        min_duration_s=300,
        max_duration_s=600,
    )
    synthesize(root, spec)
    audit(root)
    return root / ".preflight" / "manifest.duckdb"


if __name__ == "__main__":
    main()
