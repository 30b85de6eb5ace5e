"""Benchmark the balanced sampler over 10 million windows against the baselines it replaces.

Prints figures; never asserts. Rerun with::

    .venv/bin/python benchmarks/bench_sampler.py                 # 10 M windows, 1 M draws
    .venv/bin/python benchmarks/bench_sampler.py --windows 1000000

The ``WindowIndex`` is built directly in NumPy (no manifest): recordings of 100-1,000 windows,
10 per patient (~1,800 patients), ~1 % positive windows in ~20,000 seizures of 1-9 windows.
Figures are the median of ``--repeat`` runs. Baselines, measured in the same run:

* per-window weights from a Python loop over the windows (what a sampler without NumPy does),
  measured on a slice and extrapolated to the whole index;
* ``torch.utils.data.WeightedRandomSampler`` drawing one epoch from precomputed weights
  (``torch.multinomial`` with replacement).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from preflight.data.sample import BalancedSampler
from preflight.data.window_index import WindowIndex


def synthetic_index(n: int, seizures: int, seed: int = 0) -> WindowIndex:
    """``n`` windows in recordings of 100-1,000 windows, 10 per patient, with ``seizures``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(100, 1_001, size=n // 100 + 1)
    rec_of = np.repeat(np.arange(lengths.size), lengths)[:n]  # (n,)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    window_idx = np.arange(n) - starts[rec_of]
    positive = np.zeros(n, dtype=bool)
    seizure = np.full(n, -1, dtype=np.int32)
    onsets = np.sort(rng.choice(n - 10, size=seizures, replace=False))
    spans = rng.integers(1, 10, size=seizures)
    # Spread each seizure over its windows without a loop; later seizures overwrite overlaps.
    owner = np.repeat(np.arange(seizures), spans)  # (sum spans,)
    at = np.repeat(onsets, spans) + (
        np.arange(owner.size) - np.repeat(np.cumsum(spans) - spans, spans)
    )
    positive[at] = True
    seizure[at] = owner
    return WindowIndex(
        splits=("train",),
        window_s=10.0,
        stride_s=10.0,
        rec_idx=rec_of.astype(np.int32),
        window_idx=window_idx.astype(np.int32),
        positive=positive,
        seizure=seizure,
        patient=(rec_of // 10).astype(np.int32),
    )


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def loop_weights(index: WindowIndex, target: float, stop: int) -> float:
    """Seconds for per-event weights by a Python loop over the first ``stop`` windows."""
    t0 = time.perf_counter()
    positive = index.positive[:stop].tolist()
    seizure = index.seizure[:stop].tolist()
    per_event: Counter[int] = Counter(s for p, s in zip(positive, seizure, strict=True) if p)
    n_neg = stop - sum(per_event.values())
    weights = []
    for p, s in zip(positive, seizure, strict=True):
        if p:
            weights.append(target / (len(per_event) * per_event[s]))
        else:
            weights.append((1 - target) / n_neg)
    return time.perf_counter() - t0


def main() -> None:
    """Build the index, time construction, draws and the baselines, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=10_000_000)
    parser.add_argument("--seizures", type=int, default=20_000)
    parser.add_argument("--draws", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    index = synthetic_index(args.windows, args.seizures)
    print(
        f"index: {len(index):,} windows, {index.n_positive:,} positive "
        f"({index.n_positive / len(index):.2%}) in {np.unique(index.seizure).size - 1:,} "
        f"seizures, {index.patient.max() + 1:,} patients; load {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    build: dict[str, float] = {}
    for spread in ("window", "event", "patient"):
        build[spread], sampler = median_time(
            lambda s=spread: BalancedSampler(index, spread=s, num_samples=args.draws),  # type: ignore[misc]
            args.repeat,
        )
        print(f"construction, spread={spread:<8} {build[spread]:7.3f} s   (target <= 1 s)")
    sampler = BalancedSampler(index, num_samples=args.draws)
    draw, sample = median_time(sampler.epoch_sample, args.repeat)
    print(
        f"one epoch of {args.draws:,} draws    {draw:7.3f} s   "
        f"({index.positive[sample].mean():.1%} positive)"
    )
    stop = min(len(index), 500_000)
    loop = loop_weights(index, 0.5, stop) * len(index) / stop
    print(
        f"baseline: Python-loop weights  {loop:7.3f} s   (extrapolated from {stop:,} windows); "
        f"sampler construction is {loop / build['event']:.0f}x faster"
    )
    weights = torch.from_numpy(sampler.window_weights())
    baseline = WeightedRandomSampler(weights, args.draws)  # type: ignore[arg-type]
    wrs, _ = median_time(lambda: torch.tensor(list(baseline)), args.repeat)
    print(
        f"baseline: WeightedRandomSampler {wrs:6.3f} s   per epoch of {args.draws:,}; "
        f"epoch draw is {wrs / draw:.1f}x faster"
    )


if __name__ == "__main__":
    main()
