"""The balanced sampler, the positive batch sampler and class weights, on synthetic indexes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from preflight.data.sample import (
    BalancedSampler,
    PositiveBatchSampler,
    class_weights,
    pos_weight,
    positive_weights,
)
from preflight.data.window_index import WindowIndex
from preflight.errors import UsageError


def make_index(
    n: int,
    seizures: Sequence[tuple[int, int, int]] = (),
    *,
    split: str = "train",
    patients: int = 4,
) -> WindowIndex:
    """``n`` windows in one recording per patient; ``seizures`` are (start, length, patient).

    Windows are cut into ``patients`` equal recordings; a seizure's windows are positive and
    carry the seizure's position in ``seizures`` as its id, and its patient overrides theirs.
    """
    positive = np.zeros(n, dtype=bool)
    seizure = np.full(n, -1, dtype=np.int32)
    patient = (np.arange(n) * patients // n).astype(np.int32)
    for sid, (start, length, who) in enumerate(seizures):
        positive[start : start + length] = True
        seizure[start : start + length] = sid
        patient[start : start + length] = who
    return WindowIndex(
        splits=(split,),
        window_s=10.0,
        stride_s=10.0,
        rec_idx=patient.copy(),
        window_idx=np.arange(n, dtype=np.int32),
        positive=positive,
        seizure=seizure,
        patient=patient,
    )


@pytest.fixture
def rare() -> WindowIndex:
    """20,000 windows, 1 % positive: 40 seizures of 5 windows spread over 4 patients."""
    return make_index(20_000, [(i * 500 + 100, 5, i % 4) for i in range(40)])


@pytest.fixture
def long_and_short() -> WindowIndex:
    """5,000 windows: one 100-window seizure (patient 0) and one 2-window seizure (patient 1)."""
    return make_index(5_000, [(1_000, 100, 0), (3_000, 2, 1)], patients=2)


def test_batches_carry_the_target_fraction(rare: WindowIndex) -> None:
    """200 batches of 64 at target 0.5 from a 1 %-positive index: mean within 0.03 of 0.5."""
    sampler = BalancedSampler(rare, target_positive_fraction=0.5, num_samples=200 * 64, seed=3)
    batches = np.fromiter(sampler, dtype=np.int64).reshape(200, 64)
    per_batch = rare.positive[batches].mean(axis=1)  # (200,)
    assert abs(per_batch.mean() - 0.5) < 0.03
    assert per_batch.min() > 0.2  # no batch starved: binomial(64, 0.5) stays far above this


@pytest.mark.parametrize("target", [0.0, 0.1, 0.25, 1.0])
def test_other_targets(rare: WindowIndex, target: float) -> None:
    sample = BalancedSampler(rare, target_positive_fraction=target, num_samples=20_000)
    assert abs(rare.positive[sample.epoch_sample()].mean() - target) < 0.015


def test_events_get_equal_mass(long_and_short: WindowIndex) -> None:
    """Per-event spreading: the 100-window and the 2-window seizure are drawn equally often."""
    index = long_and_short
    sampler = BalancedSampler(index, num_samples=40_000, seed=1)
    drawn = index.seizure[sampler.epoch_sample()]
    long, short = (drawn == 0).sum(), (drawn == 1).sum()
    assert long + short == pytest.approx(20_000, rel=0.03)
    assert long / short == pytest.approx(1.0, abs=0.1)


def test_window_spread_lets_the_long_seizure_dominate(long_and_short: WindowIndex) -> None:
    drawn = long_and_short.seizure[
        BalancedSampler(long_and_short, spread="window", num_samples=40_000).epoch_sample()
    ]
    assert (drawn == 0).sum() / (drawn >= 0).sum() == pytest.approx(100 / 102, abs=0.01)


def test_patient_spread() -> None:
    """Patient 0 has three seizures, patient 1 one: each patient gets half the positive mass,
    and patient 0's half is split over its events, whatever their lengths."""
    index = make_index(4_000, [(100, 30, 0), (500, 3, 0), (900, 3, 0), (3_000, 6, 1)], patients=2)
    positions, weights = positive_weights(index, "patient")
    mass = np.bincount(index.seizure[positions], weights=weights)
    np.testing.assert_allclose(mass, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    sampler = BalancedSampler(index, spread="patient")
    np.testing.assert_allclose(sampler.window_weights().sum(), 1.0)
    np.testing.assert_allclose(sampler.window_weights()[index.positive].sum(), 0.5)


def test_positives_without_seizure_ids_are_their_own_events() -> None:
    """Tabular sources have positive windows but no seizure table: each is its own event."""
    index = make_index(100, [(10, 4, 0)])
    index.seizure[:] = -1
    _, weights = positive_weights(index, "event")
    np.testing.assert_allclose(weights, 0.25)


def test_seeded_and_set_epoch(rare: WindowIndex) -> None:
    a = BalancedSampler(rare, seed=7)
    b = BalancedSampler(rare, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(BalancedSampler(rare, seed=8)) != first


@pytest.mark.parametrize("world_size", [2, 3, 8])  # 8: two nodes x four ranks under Slurm
@pytest.mark.parametrize("num_samples", [999, 1_000])
def test_shards_are_disjoint_slices_of_the_epoch_sample(
    rare: WindowIndex, world_size: int, num_samples: int
) -> None:
    samplers = [
        BalancedSampler(rare, num_samples=num_samples, seed=5, rank=r, world_size=world_size)
        for r in range(world_size)
    ]
    for s in samplers:
        s.set_epoch(2)
    shards = [np.fromiter(s, dtype=np.int64) for s in samplers]
    lengths = {len(s) for s in shards}
    assert lengths == {len(samplers[0])} == {-(-num_samples // world_size)}
    epoch = samplers[0].epoch_sample()
    assert len(epoch) == world_size * len(shards[0]) >= num_samples
    # Interleaving the shards rebuilds the epoch sample: every position is on exactly one rank.
    np.testing.assert_array_equal(np.stack(shards, axis=1).reshape(-1), epoch)
    for s in samplers[1:]:
        np.testing.assert_array_equal(s.epoch_sample(), epoch)


def test_world_from_torch_distributed_defaults_to_one(rare: WindowIndex) -> None:
    sampler = BalancedSampler(rare, num_samples=10)
    assert (sampler.rank, sampler.world_size, len(sampler)) == (0, 1, 10)


def test_no_positives_raises_with_the_numbers() -> None:
    index = make_index(247, split="dev")
    with pytest.raises(UsageError) as caught:
        BalancedSampler(index)
    assert str(caught.value) == (
        "split 'dev' has 0 positive windows of 247; cannot sample 50 % positives; "
        "the gate's min_positive_windows check should have stopped this"
    )
    assert len(list(BalancedSampler(index, target_positive_fraction=0.0))) == 247


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"target_positive_fraction": 1.5}, "outside [0, 1]"),
        ({"target_positive_fraction": float("nan")}, "outside [0, 1]"),
        ({"target_positive_fraction": -0.1}, "outside [0, 1]"),
        ({"spread": "recording"}, "spread 'recording'"),
        ({"num_samples": 0}, "num_samples 0"),
        ({"seed": -1}, "seed -1"),
        ({"rank": 2, "world_size": 2}, "rank 2 does not exist in a world of 2"),
    ],
)
def test_bad_requests_raise(rare: WindowIndex, kwargs: dict, needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        BalancedSampler(rare, **kwargs)


def test_all_positive_split_cannot_give_negatives() -> None:
    index = make_index(10, [(0, 10, 0)])
    with pytest.raises(UsageError, match="0 negative windows of 10; cannot sample 50 % negatives"):
        BalancedSampler(index)
    assert set(BalancedSampler(index, target_positive_fraction=1.0)) <= set(range(10))


def test_batch_sampler_guarantees_min_positives(rare: WindowIndex) -> None:
    """At 5 % positives most batches of 32 would hold fewer than 4; every one holds >= 4."""
    base = BalancedSampler(rare, target_positive_fraction=0.05, num_samples=32 * 300, seed=2)
    plain = base.epoch_sample().reshape(300, 32)
    enough = rare.positive[plain].sum(axis=1) >= 4  # (300,)
    assert (~enough).sum() > 200  # the floor has work to do
    batches = np.array(list(PositiveBatchSampler(base, batch_size=32, min_positives=4)))
    assert batches.shape == (300, 32)
    assert rare.positive[batches].sum(axis=1).min() >= 4
    np.testing.assert_array_equal(batches[enough], plain[enough])  # only short ones topped up
    changed = batches[~enough] != plain[~enough]  # (short, 32)
    assert rare.positive[batches[~enough]][changed].all()  # by positives, in negatives' slots
    assert not rare.positive[plain[~enough]][changed].any()


def test_batch_sampler_shards_and_epochs(rare: WindowIndex) -> None:
    def batches(rank: int, epoch: int) -> np.ndarray:
        base = BalancedSampler(rare, num_samples=1_000, rank=rank, world_size=2, seed=4)
        sampler = PositiveBatchSampler(base, batch_size=16, min_positives=8)
        sampler.set_epoch(epoch)
        return np.array(list(sampler))

    zero, one = batches(0, 0), batches(1, 0)
    assert zero.shape == one.shape == (32, 16)  # ceil(ceil(1000 / 2) / 16) full batches
    everyone = PositiveBatchSampler(
        BalancedSampler(rare, num_samples=1_000, world_size=2, rank=0, seed=4), 16, 8
    ).epoch_batches()
    np.testing.assert_array_equal(everyone[0], zero)
    np.testing.assert_array_equal(everyone[1], one)
    np.testing.assert_array_equal(batches(0, 0), zero)
    assert not np.array_equal(batches(0, 1), zero)


@pytest.mark.parametrize(("nodes", "per_node"), [(1, 2), (2, 2), (3, 4)])
def test_batch_sampler_shards_stay_equal_and_disjoint_across_nodes(
    rare: WindowIndex, nodes: int, per_node: int
) -> None:
    """Global rank = node x K + local rank; each rank's batches are its slice of one sample."""
    world = nodes * per_node
    ranks = [
        PositiveBatchSampler(
            BalancedSampler(rare, num_samples=999, rank=r, world_size=world, seed=3), 8, 0
        )
        for r in range(world)
    ]
    got = np.stack([np.array(list(b)) for b in ranks])  # (W, batches, 8)
    assert len({len(b) for b in ranks}) == 1  # equal: no rank waits in an all-reduce alone
    per_rank = got.shape[1] * got.shape[2]
    sample = ranks[0].sampler.epoch_sample(per_rank * world)
    np.testing.assert_array_equal(got.reshape(world, -1), sample.reshape(per_rank, world).T)


def test_batch_sampler_in_a_data_loader(rare: WindowIndex) -> None:
    """A DataLoader takes it as ``batch_sampler``; a bare index gets the default sampler."""
    dataset = TensorDataset(torch.arange(len(rare)))
    loader = DataLoader(dataset, batch_sampler=PositiveBatchSampler(rare, 64, 2))
    (first,) = next(iter(loader))
    assert first.shape == (64,)
    assert int(torch.from_numpy(rare.positive)[first].sum()) >= 2


@pytest.mark.parametrize(
    ("batch_size", "k", "needle"),
    [(0, 0, "batch_size 0"), (8, 9, r"min_positives 9 is outside \[0, batch_size 8\]")],
)
def test_batch_sampler_bad_requests(
    rare: WindowIndex, batch_size: int, k: int, needle: str
) -> None:
    with pytest.raises(UsageError, match=needle):
        PositiveBatchSampler(rare, batch_size, k)


def test_batch_sampler_without_positives_raises() -> None:
    empty = BalancedSampler(make_index(300, split="dev"), target_positive_fraction=0.0)
    with pytest.raises(UsageError, match="'dev' has 0 positive windows of 300; cannot put 2"):
        PositiveBatchSampler(empty, 32, 2)


def test_pos_weight_and_class_weights(rare: WindowIndex) -> None:
    weight = pos_weight(rare)
    assert weight.dtype == torch.float32
    assert weight.shape == (1,)
    assert weight.item() == pytest.approx(19_800 / 200)
    assert class_weights(rare) == pytest.approx({0: 20_000 / (2 * 19_800), 1: 20_000 / 400})
    torch.nn.BCEWithLogitsLoss(pos_weight=weight)(torch.zeros(3), torch.ones(3))


def test_weights_raise_without_positives() -> None:
    with pytest.raises(UsageError, match="has 0 positive and 50 negative windows"):
        pos_weight(make_index(50))
    with pytest.raises(UsageError, match="has 0 positive and 50 negative windows"):
        class_weights(make_index(50))
