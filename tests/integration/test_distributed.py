"""Two real processes on CPU (gloo) build the sampler from one manifest and get disjoint shards.

Each process learns its rank and world size from ``torch.distributed`` (the sampler is given
neither), writes its shards and batches to files, and rank 0 also writes what ``all_gather`` over
gloo returned; the test compares them with the epoch sample drawn here, in-process.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from preflight.data.sample import BalancedSampler, PositiveBatchSampler
from preflight.data.window_index import WindowIndex
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.synth.corpus import synthesize
from preflight.synth.spec import SynthSpec

pytestmark = pytest.mark.slow  # two processes importing torch: ~5-10 s on a shared CPU

WORLD = 2
NUM_SAMPLES = 401  # odd: each rank gets ceil(401 / 2) = 201
SEED = 11
BATCH, FLOOR = 16, 4
EPOCHS = (0, 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samplers(index: WindowIndex, **world: int) -> tuple[BalancedSampler, PositiveBatchSampler]:
    sampler = BalancedSampler(index, num_samples=NUM_SAMPLES, seed=SEED, **world)
    batches = PositiveBatchSampler(
        BalancedSampler(index, num_samples=NUM_SAMPLES, seed=SEED, **world), BATCH, FLOOR
    )
    return sampler, batches


def _worker(rank: int, port: int, manifest: str, out: str) -> None:
    """One rank, set up the way torchrun sets it up (env:// rendezvous)."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD)
    )
    dist.init_process_group("gloo")
    try:
        with Manifest.open(manifest, read_only=True) as m:
            index = WindowIndex.load(m, "train")
        sampler, batches = _samplers(index)  # rank and world size from torch.distributed
        for epoch in EPOCHS:
            sampler.set_epoch(epoch)
            batches.set_epoch(epoch)
            shard = torch.tensor(list(sampler), dtype=torch.int64)
            np.save(Path(out) / f"shard-{rank}-{epoch}.npy", shard.numpy())
            np.save(Path(out) / f"batches-{rank}-{epoch}.npy", np.array(list(batches)))
            gathered = [torch.empty_like(shard) for _ in range(WORLD)]
            dist.all_gather(gathered, shard)  # equal lengths, or gloo would fail here
            if rank == 0:
                np.save(Path(out) / f"gathered-{epoch}.npy", torch.stack(gathered).numpy())
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small audited synthetic TUSZ corpus (train split: 4 patients, 8 recordings)."""
    root = tmp_path_factory.mktemp("corpus")
    spec = SynthSpec(
        train_patients=4, dev_patients=1, eval_patients=1, min_duration_s=200, max_duration_s=300
    )
    synthesize(root, spec)
    return Path(audit(root).manifest.path)


def test_two_gloo_processes_get_disjoint_shards(manifest: Path, tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(manifest), str(tmp_path)), nprocs=WORLD, join=True)
    with Manifest.open(manifest, read_only=True) as m:
        index = WindowIndex.load(m, "train")
    epochs = []
    for epoch in EPOCHS:
        sampler, batches = _samplers(index, rank=0, world_size=WORLD)
        sampler.set_epoch(epoch)
        batches.set_epoch(epoch)
        expected = sampler.epoch_sample()  # (402,), drawn in this process
        shards = [np.load(tmp_path / f"shard-{r}-{epoch}.npy") for r in range(WORLD)]
        assert [len(s) for s in shards] == [201, 201]
        # Disjoint slices whose union is the epoch sample: interleaving rebuilds it exactly.
        np.testing.assert_array_equal(np.stack(shards, axis=1).reshape(-1), expected)
        np.testing.assert_array_equal(np.load(tmp_path / f"gathered-{epoch}.npy"), shards)
        every_rank = batches.epoch_batches()  # (2, 13, 16)
        for r in range(WORLD):
            got = np.load(tmp_path / f"batches-{r}-{epoch}.npy")
            np.testing.assert_array_equal(got, every_rank[r])
            assert index.positive[got].sum(axis=1).min() >= FLOOR
        epochs.append(expected)
    assert not np.array_equal(*epochs)
