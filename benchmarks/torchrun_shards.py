"""Show the balanced sampler's shards under torchrun: disjoint, equally long, the epoch's sample.

Run with::

    .venv/bin/torchrun --nproc_per_node 2 benchmarks/torchrun_shards.py MANIFEST [--split train]

Every rank builds a ``BalancedSampler`` and a ``PositiveBatchSampler`` from the manifest, taking
its rank and world size from ``torch.distributed`` (gloo, CPU), and prints its shard. Rank 0
gathers the shards over gloo and prints the per-rank counts, the overlap, and whether the shards
put together are exactly the epoch sample. Exit code 1 if they are not.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.distributed as dist

from preflight.data.sample import BalancedSampler, PositiveBatchSampler
from preflight.data.window_index import WindowIndex
from preflight.manifest.store import Manifest


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", help="the manifest.duckdb of an audited corpus")
    parser.add_argument("--split", default="train")
    parser.add_argument("--samples", type=int, default=1000, help="draws per epoch, all ranks")
    parser.add_argument("--target", type=float, default=0.5, help="target positive fraction")
    parser.add_argument("--epoch", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--min-positives", type=int, default=4)
    return parser.parse_args()


def report(index: WindowIndex, sampler: BalancedSampler, shards: list[np.ndarray]) -> bool:
    """Rank 0's summary of every rank's shard; True when they partition the epoch sample."""
    world = len(shards)
    for r, shard in enumerate(shards):
        print(
            f"  rank {r}: {len(shard)} draws at epoch sample positions {r}, {r + world}, "
            f"{r + 2 * world}, ...; {index.positive[shard].mean():.1%} positive"
        )
    epoch = sampler.epoch_sample()  # (len(sampler) * world,), drawn again here
    positions = [set(range(r, len(epoch), world)) for r in range(world)]
    shared = set.intersection(*positions)
    union = np.stack(shards, axis=1).reshape(-1)  # interleave the shards back
    exact = bool(np.array_equal(union, epoch))
    windows = [set(s.tolist()) for s in shards]
    again = set.intersection(*windows)
    print(f"  draw positions shared by ranks: {len(shared)}")
    print(f"  shards interleaved == the epoch sample ({len(epoch)} draws): {exact}")
    print(
        f"  windows drawn on every rank: {len(again)} of {len(set.union(*windows))} distinct "
        "(draws are with replacement, so a window can come up on two ranks as on one)"
    )
    return exact


def main() -> int:
    """Run on every rank; rank 0 prints the summary."""
    args = parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    with Manifest.open(args.manifest, read_only=True) as m:
        index = WindowIndex.load(m, args.split)
    options = {"target_positive_fraction": args.target, "num_samples": args.samples}
    sampler = BalancedSampler(index, seed=args.seed, **options)  # rank, world from dist
    batches = PositiveBatchSampler(
        BalancedSampler(index, seed=args.seed, **options), args.batch_size, args.min_positives
    )
    sampler.set_epoch(args.epoch)
    batches.set_epoch(args.epoch)
    shard = torch.tensor(list(sampler), dtype=torch.int64)
    least = min(int(index.positive[b].sum()) for b in batches)
    print(
        f"rank {rank} of {world}: {len(shard)} draws, first {shard[:6].tolist()}; "
        f"{len(batches)} batches of {args.batch_size}, fewest positives in one: {least}",
        flush=True,
    )
    gathered = [torch.empty_like(shard) for _ in range(world)]
    dist.all_gather(gathered, shard)
    exact = True
    if rank == 0:
        print(f"split {args.split!r}: {len(index)} windows, {index.n_positive} positive")
        exact = report(index, sampler, [g.numpy() for g in gathered])
    dist.destroy_process_group()
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
