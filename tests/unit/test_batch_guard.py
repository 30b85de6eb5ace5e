"""The batch guard's checks, its quarantine in a real DuckDB manifest, and the stop rule."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from preflight.errors import UsageError
from preflight.manifest.store import Manifest
from preflight.results import Severity
from preflight.validators.batch_guard import (
    BatchGuard,
    GuardCheck,
    GuardedLoader,
    GuardResult,
    GuardRule,
    GuardStopped,
    unpack_batch,
)
from preflight.validators.quarantine import ManifestRecorder, record_quarantine

B, C, T = 8, 4, 64


def batch(seed: int = 0, positives: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A healthy batch: x (B, C, T) noise, y with ``positives`` ones, ids (rec 10 + i, 100 + i)."""
    x = torch.randn(B, C, T, generator=torch.Generator().manual_seed(seed))
    y = torch.zeros(B)
    y[:positives] = 1
    ids = torch.stack([torch.arange(B) + 10, torch.arange(B) + 100], dim=1)  # (B, 2) int64
    return x, y, ids


@pytest.fixture
def manifest(tmp_path: Path) -> Iterator[Manifest]:
    """An empty manifest database on disk (the quarantine table does not exist yet)."""
    with Manifest.open(tmp_path / "manifest.duckdb") as m:
        yield m


def checks(result: GuardResult) -> dict[GuardCheck, Severity]:
    return {i.check: i.severity for i in result.issues}


def test_healthy_batch_passes() -> None:
    result = BatchGuard(C, T, min_positives=2).check(*batch())
    assert result.passed
    assert result.issues == ()
    assert (result.batch_size, result.n_positive) == (B, 2)


def test_nan_batch_is_quarantined_and_recorded(manifest: Manifest) -> None:
    x, y, ids = batch()
    x[3, 1, 7] = float("nan")
    x[5, 0, 0] = float("inf")
    guard = BatchGuard(C, T, recorder=ManifestRecorder(manifest, "run-1"))
    assert guard((x, y, ids), step=41) is None
    (issue,) = guard.check(x, y, ids).errors
    assert issue.check is GuardCheck.NON_FINITE
    assert issue.rows == (3, 5)
    assert issue.ids == ((13, 103), (15, 105))
    assert "(rec 13, window 103)" in issue.message
    rows = manifest.query(
        "SELECT run_id, step, rec_idx, window_idx, reason FROM quarantine "
        "WHERE reason <> 'batch_quarantined' ORDER BY rec_idx"
    )
    assert rows == [("run-1", 41, 13, 103, "non_finite"), ("run-1", 41, 15, 105, "non_finite")]
    others = manifest.query(
        "SELECT count(*), min(message) FROM quarantine WHERE reason = 'batch_quarantined'"
    )
    assert others == [(B - 2, "dropped with its batch (non_finite)")]
    assert guard.stats.quarantined == guard.stats.batches == 1


def test_recorder_opens_a_manifest_path_for_each_write(tmp_path: Path) -> None:
    """Given a path, the recorder holds no lock between writes (ranks can share the file)."""
    path = tmp_path / "manifest.duckdb"
    Manifest.open(path).close()
    x, y, ids = batch()
    y[0] = 2
    guard = BatchGuard(C, T, recorder=ManifestRecorder(path, "run-2"))
    assert guard((x, y, ids)) is None
    with Manifest.open(path, read_only=True) as m:
        assert m.query("SELECT step, rec_idx, reason FROM quarantine WHERE rec_idx = 10") == [
            (0, 10, "label_domain")
        ]


@pytest.mark.parametrize(
    ("mutate", "check"),
    [
        (lambda x, y, ids: (x[:, :3], y, ids), GuardCheck.SHAPE),
        (lambda x, y, ids: (x, y[:-1], ids), GuardCheck.SHAPE),
        (lambda x, y, ids: (x, y, ids[:, :1]), GuardCheck.SHAPE),
        (lambda x, y, ids: (x.double(), y, ids), GuardCheck.DTYPE),
        (lambda x, y, ids: (x, y, ids.float()), GuardCheck.DTYPE),
        (lambda x, y, ids: (x.tolist(), y, ids), GuardCheck.DTYPE),
        (lambda x, y, ids: (x, y * 2, ids), GuardCheck.LABEL_DOMAIN),
        (lambda x, y, ids: (x, y - 0.5, ids), GuardCheck.LABEL_DOMAIN),
        (lambda x, y, ids: (x, torch.zeros_like(y), ids), GuardCheck.MIN_POSITIVES),
    ],
)
def test_broken_batches_fail(mutate, check: GuardCheck) -> None:  # type: ignore[no-untyped-def]
    result = BatchGuard(C, T, min_positives=1).check(*mutate(*batch()))
    assert not result.passed
    assert checks(result)[check] is Severity.ERROR


def test_integer_and_bool_labels_are_fine() -> None:
    x, y, ids = batch()
    for labels in (y.long(), y.bool()):
        assert BatchGuard(C, T, min_positives=2).check(x, labels, ids).passed


def test_wrong_ids_are_recorded_with_null_ids(manifest: Manifest) -> None:
    x, y, ids = batch()
    guard = BatchGuard(C, T, recorder=ManifestRecorder(manifest, "run-3"))
    assert guard((x, y, ids[:, 0])) is None
    assert manifest.query("SELECT rec_idx, window_idx, reason FROM quarantine") == [
        (None, None, "shape")
    ]


def test_flat_and_clipped_channels_are_warnings() -> None:
    x, y, ids = batch()
    x[2, 1] = 0.5  # flat
    x[6, 3] = x[6, 3].clamp(-0.5, 0.5)  # clipped: about 60 % of the samples sit at +-0.5
    guard = BatchGuard(C, T)
    assert guard((x, y, ids)) is not None
    result = guard.check(x, y, ids)
    assert result.passed
    assert checks(result) == {
        GuardCheck.FLAT_CHANNEL: Severity.WARNING,
        GuardCheck.CLIPPED_CHANNEL: Severity.WARNING,
    }
    flat, clipped = result.warnings
    assert (flat.rows, clipped.rows) == ((2,), (6,))
    assert "channels [1]" in flat.message
    assert guard.stats.warnings == {"flat_channel": 1, "clipped_channel": 1}
    assert guard.stats.quarantined == 0


def test_too_many_quarantines_stop_the_run(caplog: pytest.LogCaptureFixture) -> None:
    """3 bad batches in 20 is 15 % > 10 %: the 20th batch stops the run, not an earlier one."""
    guard = BatchGuard(C, T, max_quarantine_fraction=0.1, min_batches=20)
    x, y, ids = batch()
    bad = x.clone()
    bad[0, 0, 0] = float("nan")
    with caplog.at_level(logging.WARNING, logger="preflight.validators.batch_guard"):
        for step in range(19):
            guard((bad if step < 3 else x, y, ids))
    assert "quarantined batch at step 0: non_finite" in caplog.text
    with pytest.raises(GuardStopped) as stopped:
        guard((x, y, ids))
    assert (stopped.value.quarantined, stopped.value.batches) == (3, 20)
    assert "quarantined 3 of 20 batches (15.0%), above max_quarantine_fraction 10.0%" in str(
        stopped.value
    )


def test_under_the_fraction_the_run_goes_on() -> None:
    guard = BatchGuard(C, T, max_quarantine_fraction=0.1, min_batches=20)
    x, y, ids = batch()
    bad = x.clone()
    bad[0, 0, 0] = float("inf")
    for step in range(40):
        guard((bad if step % 10 == 9 else x, y, ids))
    assert (guard.stats.batches, guard.stats.quarantined) == (40, 4)


def _loader(batches: int, seed: int = 0) -> DataLoader[tuple[torch.Tensor, ...]]:
    """``batches`` healthy batches of B windows (C channels of T samples) in order."""
    n = batches * B
    x = torch.randn(n, C, T, generator=torch.Generator().manual_seed(seed))
    y = (torch.arange(n) % 4 == 0).float()
    ids = torch.stack([torch.zeros(n, dtype=torch.int64), torch.arange(n)], dim=1)
    return DataLoader(TensorDataset(x, y, ids), batch_size=B)


def test_an_epoch_in_which_no_batch_passed_stops_naming_the_first_check() -> None:
    """The incident: the wrong expected_samples quarantined all 16 batches of an epoch, and the
    fraction rule (judged from min_batches=20 on) let the loop go on training on nothing."""
    guard = BatchGuard(C, T + 1, max_consecutive_quarantines=100)  # min_batches 20 > 16
    guarded = GuardedLoader(_loader(16), guard)
    with pytest.raises(GuardStopped) as stopped:
        list(guarded)
    assert stopped.value.rule is GuardRule.NOTHING_PASSED
    assert (stopped.value.check, stopped.value.quarantined, stopped.value.batches) == (
        "shape",
        16,
        16,
    )
    text = str(stopped.value)
    assert "all 16 batches of the epoch were quarantined" in text
    assert (
        f"first failing check: shape: x has shape ({B}, {C}, {T}), expected (B, {C}, {T + 1})"
        in text
    )


def test_one_passing_batch_keeps_the_epoch_going() -> None:
    guard = BatchGuard(C, T, max_quarantine_fraction=1.0)
    bad = [(x.clone().fill_(float("nan")), y, ids) for x, y, ids in _loader(5)]
    good = next(iter(_loader(1)))
    assert len(list(GuardedLoader([*bad, good], guard))) == 1
    assert (guard.stats.epoch_batches, guard.stats.epoch_passed) == (6, 1)


def test_consecutive_quarantines_stop_whatever_min_batches_says() -> None:
    """Ten quarantines in a row stop at the tenth; a batch that passes starts the count again."""
    guard = BatchGuard(C, T, max_quarantine_fraction=1.0, min_batches=1000)
    x, y, ids = batch()
    nan, short = x.clone(), x[..., :-1]
    nan[0, 0, 0] = float("nan")
    for step in range(9):
        guard((nan, y, ids), step=step)
    guard((x, y, ids))  # passes: the streak ends
    for step in range(9):
        guard((short if step == 0 else nan, y, ids))
    with pytest.raises(GuardStopped) as stopped:
        guard((nan, y, ids))
    assert stopped.value.rule is GuardRule.CONSECUTIVE
    assert stopped.value.check == "shape"  # the first of the streak, not the last
    assert "10 batches in a row were quarantined (max_consecutive_quarantines 10)" in str(
        stopped.value
    )
    assert (guard.stats.batches, guard.stats.quarantined) == (20, 19)


def test_guarded_loader_yields_only_healthy_batches() -> None:
    x = torch.randn(32, C, T, generator=torch.Generator().manual_seed(1))
    x[9, 2, 5] = float("nan")  # in the third batch of 4
    y = (torch.arange(32) % 8 == 0).float()  # one positive per batch of 4, every other batch
    ids = torch.stack([torch.zeros(32, dtype=torch.int64), torch.arange(32)], dim=1)
    loader = DataLoader(TensorDataset(x, y, ids), batch_size=4)
    guarded = GuardedLoader(loader, BatchGuard(C, T, max_quarantine_fraction=1.0))
    seen = [int(b[2][0, 1]) for b in guarded]
    assert seen == [0, 4, 12, 16, 20, 24, 28]  # the batch of window 8..11 never came out
    assert (guarded.batches, guarded.batches_with_positives, len(guarded)) == (7, 3, 8)
    assert guarded.guard.stats.quarantined == 1


def test_unpack_batch_forms() -> None:
    x, y, ids = batch()
    mask = torch.zeros(B, T)
    assert unpack_batch((x, y, mask, ids))[2] is ids
    assert unpack_batch({"x": x, "y": y, "ids": ids, "mask": mask})[0] is x
    with pytest.raises(UsageError, match="cannot find x, y and ids in a batch of type Tensor"):
        unpack_batch(x)


def test_record_quarantine_bulk_and_read_only(manifest: Manifest, tmp_path: Path) -> None:
    ids = torch.tensor([[1, 2], [3, 4], [5, 6]])
    assert record_quarantine(manifest, "r", 7, ids, "shape", "x has shape (3,)") == 3
    assert manifest.query(
        "SELECT count(*), min(step), max(recorded_at) IS NOT NULL FROM quarantine"
    ) == [(3, 7, True)]
    with pytest.raises(UsageError, match="3 ids but 2 reasons"):
        record_quarantine(manifest, "r", 7, ids, ["a", "b"], "m")
    manifest.close()
    with (
        Manifest.open(tmp_path / "manifest.duckdb", read_only=True) as ro,
        pytest.raises(UsageError, match="read-only"),
    ):
        record_quarantine(ro, "r", 8, ids, "shape", "m")
