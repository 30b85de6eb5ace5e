"""The split builder: declared and stratified splits, the alphabetical trap, determinism."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from preflight.errors import ManifestError, UsageError
from preflight.manifest import queries
from preflight.manifest.store import Manifest
from preflight.split import SplitMethod, build_split, check_ratios, parse_ratios
from tests.unit.manifests import Rec, make_manifest


def _trap_corpus() -> list[Rec]:
    """50 patients of 2 recordings; the 10 first in name order (20 % of files) hold no seizure."""
    recs = []
    for p in range(50):
        for t in range(2):
            seizures = () if p < 10 else ((100.0 + 7 * p, 130.0 + 11 * p + 20 * t),)
            recs.append(Rec(f"p{p:02d}_t{t}", f"p{p:02d}", 1200.0 + 60 * p, seizures))
    return recs


@pytest.fixture
def trap(tmp_path: Path) -> Iterator[Manifest]:
    """The alphabetical-trap corpus as a manifest (every recording in the declared split 'all')."""
    m = make_manifest(tmp_path / "m.duckdb", _trap_corpus())
    yield m
    m.close()


def _assignment(m: Manifest) -> dict[str, str]:
    return dict(m.query("SELECT recording_id, split FROM recordings ORDER BY recording_id"))


def test_alphabetical_trap_is_avoided(trap: Manifest) -> None:
    """A "first 20 % of files as validation" split holds no positive; the builder's dev does."""
    rows = queries.per_recording(trap)
    first_fifth = rows[: len(rows) // 5]
    assert sum(r["positive_windows"] for r in first_fifth) == 0  # the trap is real
    assert sum(r["events"] for r in first_fifth) == 0

    summary = build_split(trap, method="stratified", ratios={"train": 0.8, "dev": 0.2}, seed=0)

    assert set(summary.stats) == {"train", "dev"}
    for name, s in queries.split_stats(trap).items():
        assert s["positive_patients"] > 0, name
        assert s["events"] > 0, name
        assert s["positive_windows"] > 0, name
    assert summary.stats["dev"].positive_patients == 8  # 20 % of the 40 positive patients
    assert summary.notes == ()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_every_split_gets_positives_with_default_ratios(trap: Manifest, seed: int) -> None:
    summary = build_split(trap, method="stratified", seed=seed)
    assert list(summary.stats) == ["train", "dev", "eval"]
    assert all(s.positive_windows > 0 and s.events > 0 for s in summary.stats.values())


def test_same_seed_same_split_and_another_seed_differs(trap: Manifest) -> None:
    build_split(trap, method="stratified", seed=3)
    first = _assignment(trap)
    build_split(trap, method="stratified", seed=3)
    assert _assignment(trap) == first
    others = []
    for seed in (4, 5, 6):
        build_split(trap, method="stratified", seed=seed)
        others.append(_assignment(trap))
    assert any(other != first for other in others)


def test_patients_and_shared_recordings_stay_in_one_split(tmp_path: Path) -> None:
    """Two patient codes holding the same file (same content hash) are dealt together."""
    recs = [
        *_trap_corpus(),
        Rec("x_a", "xa", 900.0, content_hash="same"),
        Rec("x_b", "xb", 900.0, content_hash="same"),
    ]
    with make_manifest(tmp_path / "m.duckdb", recs) as m:
        summary = build_split(m, method="stratified", seed=0)
        leaks = m.query(
            "SELECT patient FROM recordings GROUP BY patient HAVING count(DISTINCT split) > 1"
        )
        assert leaks == []
        shared = "SELECT count(DISTINCT split) FROM recordings WHERE patient IN ('xa', 'xb')"
        assert m.query(shared) == [(1,)]
    assert any("share a recording" in note for note in summary.notes)


def _big_corpus(n_patients: int = 600, n_recordings: int = 7000) -> list[Rec]:
    """A seeded corpus: a quarter of patients have seizures, recordings of 5 to 20 minutes."""
    rng = np.random.default_rng(42)
    patient = np.sort(rng.integers(0, n_patients, n_recordings))
    patient[:n_patients] = np.arange(n_patients)  # every patient has a recording
    positive_patient = rng.random(n_patients) < 0.25
    recs = []
    for i, p in enumerate(patient):
        duration = float(rng.integers(300, 1200))
        seizures: tuple[tuple[float, float], ...] = ()
        if positive_patient[p] and rng.random() < 0.5:
            start = float(rng.integers(0, 200))
            seizures = ((start, start + float(rng.integers(10, 90))),)
        recs.append(Rec(f"r{i:05d}", f"p{p:03d}", duration, seizures))
    return recs


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manifest]:
    """7,000 recordings of 600 patients."""
    m = make_manifest(tmp_path_factory.mktemp("big") / "m.duckdb", _big_corpus())
    yield m
    m.close()


def test_large_corpus_is_proportional(big: Manifest) -> None:
    summary = build_split(big, method="stratified", seed=0)

    stats = summary.stats
    for field in ("positive_patients", "events", "positive_windows", "hours"):
        total = sum(getattr(s, field) for s in stats.values())
        for name, ratio in {"train": 0.7, "dev": 0.15, "eval": 0.15}.items():
            share = getattr(stats[name], field) / total
            assert share == pytest.approx(ratio, abs=0.02), (field, name, share)


def test_fewer_positive_patients_than_splits_go_to_train_then_dev(tmp_path: Path) -> None:
    """Documented: ties go to the larger ratio, then train, dev, eval; the note names eval."""
    recs = [Rec(f"n{i}", f"n{i}", 600.0) for i in range(12)]
    recs += [Rec("a", "pa", 600.0, ((10.0, 50.0),)), Rec("b", "pb", 600.0, ((10.0, 300.0),))]
    with make_manifest(tmp_path / "m.duckdb", recs) as m:
        summary = build_split(m, method="stratified", seed=0)
        split_of = dict(m.query("SELECT patient, split FROM recordings"))
    assert split_of["pb"] == "train"  # the larger positive patient first
    assert split_of["pa"] == "dev"
    assert summary.stats["eval"].positive_patients == 0
    assert summary.stats["eval"].recordings > 0
    assert any("no positive patient in eval" in note for note in summary.notes)


def test_corpus_without_seizures_is_split_by_hours(tmp_path: Path) -> None:
    recs = [Rec(f"n{i:02d}", f"n{i:02d}", 600.0) for i in range(20)]
    with make_manifest(tmp_path / "m.duckdb", recs) as m:
        summary = build_split(m, method="stratified", seed=0)
    assert [s.recordings for s in summary.stats.values()] == [14, 3, 3]
    assert summary.notes == ("no patient has a seizure: every split is all background",)


def test_stratified_then_declared_records_provenance(tmp_path: Path) -> None:
    recs = [Rec(f"r{i}", f"p{i}", declared_split="train" if i < 6 else "dev") for i in range(8)]
    with make_manifest(tmp_path / "m.duckdb", recs) as m:
        build_split(m, method="stratified", ratios={"train": 0.5, "dev": 0.5}, seed=9)
        assert m.meta("split_method") == "stratified"
        assert m.meta("split_seed") == "9"
        assert json.loads(m.meta("split_ratios") or "") == {"train": 0.5, "dev": 0.5}

        summary = build_split(m, method=SplitMethod.DECLARED)
        assert m.query("SELECT count(*) FROM recordings WHERE split <> declared_split") == [(0,)]
        assert m.meta("split_method") == "declared"
        assert m.meta("split_seed") is None
        assert m.meta("split_ratios") is None
    assert (summary.seed, summary.ratios) == (None, None)
    assert {k: s.recordings for k, s in summary.stats.items()} == {"train": 6, "dev": 2}


def test_declared_split_of_a_corpus_without_one_says_so(trap: Manifest) -> None:
    summary = build_split(trap, method="declared")
    assert list(summary.stats) == ["all"]
    assert "declares no split" in summary.notes[0]


@pytest.mark.parametrize(
    ("ratios", "says"),
    [
        ({"train": 0.9, "dev": -0.1, "eval": 0.2}, "ratio of dev is -0.1"),
        ({"train": 1.0, "dev": 0.0}, "ratio of dev is 0.0"),
        ({"train": 0.7, "dev": 0.2}, "sum to 0.9 (needs 1)"),
        ({"train": 0.7, "valid": 0.3}, "unknown split name(s) in ratios: 'valid'"),
        ({"train": math.nan, "dev": 0.5}, "ratio of train is nan"),
        ({"train": True}, "ratio of train is True"),
        ({}, "no split ratios"),
    ],
)
def test_bad_ratios_are_usage_errors(ratios: dict[str, float], says: str) -> None:
    with pytest.raises(UsageError) as info:
        check_ratios(ratios)
    assert says in str(info.value)


def test_ratios_are_put_in_split_order() -> None:
    assert list(check_ratios({"eval": 0.2, "train": 0.8})) == ["train", "eval"]


def test_parse_ratios() -> None:
    assert parse_ratios("train=0.7, dev=0.15,eval=0.15") == {
        "train": 0.7,
        "dev": 0.15,
        "eval": 0.15,
    }
    for bad in ("train=0.7,dev", "train=x", "=0.5,train=0.5", "train=0.5,train=0.5"):
        with pytest.raises(UsageError):
            parse_ratios(bad)


def test_bad_method_seed_and_manifest(trap: Manifest, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown split method 'random'"):
        build_split(trap, method="random")
    with pytest.raises(UsageError, match="split seed is -1"):
        build_split(trap, method="stratified", seed=-1)
    with pytest.raises(UsageError, match="sum to"):
        build_split(trap, method="stratified", ratios={"train": 0.5})
    with (
        Manifest.open(tmp_path / "empty.duckdb") as empty,
        pytest.raises(ManifestError, match="run `preflight audit SOURCE` first"),
    ):
        build_split(empty, method="declared")
    trap.close()
    with (
        Manifest.open(trap.path, read_only=True) as ro,
        pytest.raises(ManifestError, match="read-only"),
    ):
        build_split(ro, method="stratified")
