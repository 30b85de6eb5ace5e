"""Stamp training input: decoding (never unpickling), normalization, symmetries, the streaming
dataset's sharding and sampler-following, the map-style table, and bounded memory."""

from __future__ import annotations

import io
import logging
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from preflight.data.sample import BalancedSampler
from preflight.data.stamps import (
    STAMP_SHAPE,
    StampSource,
    StampStream,
    StampTable,
    augment_stamp,
    decode_stamp,
    encode_stamp,
    normalize_stamp,
)
from preflight.data.window_index import WindowIndex
from preflight.errors import InputError, Reason, UsageError
from preflight.manifest.store import Manifest
from preflight.scanning.parquet_scan import scan_parquet
from preflight.synth.stamps import StampCorpus, StampSpec, synthesize_stamps

RNG = np.random.default_rng(0)


def stamp() -> np.ndarray:
    """An asymmetric float32 (3, 64, 64) stamp."""
    return RNG.normal(size=STAMP_SHAPE).astype(np.float32)


def audited(root: Path, files: int, rows: int, group_rows: int = 8) -> Path:
    """A synthetic stamp dataset under ``root``, scanned; returns its manifest path."""
    spec = StampSpec(files_per_tier=files, rows_per_file=rows, row_group_rows=group_rows)
    corpus = synthesize_stamps(root, spec)
    path = root / ".preflight" / "manifest.duckdb"
    with Manifest.open(path) as m:
        scan_parquet(corpus.root, m, StampCorpus.options())
    return path


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiers of 3 files x 24 stamps, row groups of 8 (9 units per tier)."""
    return audited(tmp_path_factory.mktemp("stamps"), files=3, rows=24)


@pytest.fixture
def source(manifest: Path) -> Iterator[StampSource]:
    """The train tier's rows."""
    with Manifest.open(manifest, read_only=True) as m:
        yield StampSource.load(m, "train")


# decode / normalize / augment ---------------------------------------------------------------


def test_decode_round_trip_is_float32_of_the_stamp_shape() -> None:
    original = stamp()
    decoded = decode_stamp(encode_stamp(original))
    assert decoded.dtype == np.float32
    assert decoded.shape == (3, 64, 64)
    np.testing.assert_array_equal(decoded, original)


def test_decode_accepts_one_unnamed_array_of_another_float_type() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, stamp().astype(np.float64))
    assert decode_stamp(buffer.getvalue()).dtype == np.float32


def test_a_pickled_archive_is_refused_not_unpickled() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, stamp=np.array([{"payload": 1}], dtype=object))
    with pytest.raises(InputError, match="allow_pickle=False") as caught:
        decode_stamp(buffer.getvalue())
    assert caught.value.reason is Reason.BAD_FORMAT


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((3, 32, 32), np.float32), r"shape \(3, 32, 32\)"),
        (np.zeros((64, 64), np.float32), r"shape \(64, 64\)"),
    ],
)
def test_a_stamp_of_another_shape_is_refused(array: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        decode_stamp(encode_stamp(array))


def test_bytes_that_are_not_an_archive_are_refused() -> None:
    with pytest.raises(InputError, match="not a NumPy archive"):
        decode_stamp(b"PK\x03\x04 not really a zip")


def test_normalize_gives_zero_median_and_unit_robust_scale_per_band() -> None:
    raw = stamp() * np.array([2.0, 50.0, 0.1], np.float32)[:, None, None] + 100.0
    out = normalize_stamp(raw)
    assert out.dtype == np.float32
    flat = out.reshape(3, -1)
    np.testing.assert_allclose(np.median(flat, axis=1), 0.0, atol=1e-3)  # float32 at 100
    mad = np.median(np.abs(flat), axis=1) * 1.4826
    np.testing.assert_allclose(mad, 1.0, rtol=1e-3)


def test_normalize_centres_a_flat_band_without_dividing_by_zero() -> None:
    raw = stamp()
    raw[1] = 7.0
    out = normalize_stamp(raw)
    assert np.isfinite(out).all()
    assert (out[1] == 0.0).all()


def test_augment_gives_the_eight_symmetries_of_the_square() -> None:
    s = stamp()
    images = [augment_stamp(s, k, f) for k in range(4) for f in (False, True)]
    assert all(i.shape == STAMP_SHAPE and i.flags.c_contiguous for i in images)
    assert len({i.tobytes() for i in images}) == 8
    np.testing.assert_array_equal(images[2], np.rot90(s, 1, axes=(1, 2)))
    np.testing.assert_array_equal(images[1], s[:, :, ::-1])


# StampSource ------------------------------------------------------------------------------


def test_source_positions_are_window_index_positions(manifest: Path) -> None:
    with Manifest.open(manifest, read_only=True) as m:
        source = StampSource.load(m, ("train", "dev"))
        index = WindowIndex.load(m, ("train", "dev"))
    assert len(source) == len(index) == 144
    np.testing.assert_array_equal(source.positive, index.positive)
    for position in (0, 23, 24, 143):
        file, row = source.locate(position)
        assert (source.files[file].rec_idx, row) == (
            index.rec_idx[position],
            index.window_idx[position],
        )


def test_training_reads_each_rows_label_from_the_files(manifest: Path) -> None:
    """The manifest holds counts per file; the index and the source read every row's label
    from the files, in (rec_idx, row) order, and agree with pyarrow's reading."""
    with Manifest.open(manifest, read_only=True) as m:
        index = WindowIndex.load(m, ("train", "dev"))
        source = StampSource.load(m, ("train", "dev"))
        files = m.query(
            "SELECT rec_idx, path FROM recordings WHERE split IN ('train', 'dev') ORDER BY 1"
        )
        root = Path(m.meta("parquet_root") or ".")
    truth_rec, truth_row, truth_positive = [], [], []
    for rec, path in files:
        labels = pq.read_table(root / path, columns=["is_control"]).column(0).to_numpy()
        truth_rec += [rec] * len(labels)
        truth_row += list(range(len(labels)))
        truth_positive += (labels == 0).tolist()
    assert index.rec_idx.tolist() == truth_rec
    assert index.window_idx.tolist() == truth_row
    assert index.positive.tolist() == truth_positive
    assert source.positive.tolist() == truth_positive
    assert (index.seizure == -1).all()
    assert 0 < index.n_positive < len(index)


def test_labels_other_than_the_audits_counts_are_refused(tmp_path: Path) -> None:
    path = audited(tmp_path / "d", files=2, rows=8)
    with Manifest.open(path) as m:
        m.con.execute(
            "UPDATE parquet_files SET n_positive = n_positive + 1"
            " WHERE path = 'train/part-0001.parquet'"
        )
        with pytest.raises(
            UsageError, match="other labels than the audit counted: train/part-0001"
        ):
            WindowIndex.load(m, "train")
        with pytest.raises(UsageError, match="run `preflight audit` again"):
            StampSource.load(m, "train")
        assert len(WindowIndex.load(m, "dev")) == 16  # other splits' files are not concerned


def test_source_refuses_a_file_changed_since_the_audit(tmp_path: Path) -> None:
    path = audited(tmp_path / "d", files=1, rows=8)
    changed = tmp_path / "d" / "dev" / "part-0000.parquet"
    pq.write_table(pq.read_table(changed).slice(0, 4), changed)
    with (
        Manifest.open(path, read_only=True) as m,
        pytest.raises(UsageError, match="changed since the audit"),
    ):
        StampSource.load(m, "dev")


def test_source_refuses_unknown_splits_and_eeg_manifests(manifest: Path, tmp_path: Path) -> None:
    with (
        Manifest.open(manifest, read_only=True) as m,
        pytest.raises(UsageError, match="unknown split"),
    ):
        StampSource.load(m, "eval")
    with Manifest.open(tmp_path / "eeg.duckdb") as m, pytest.raises(UsageError, match="Parquet"):
        StampSource.load(m, "train")


# StampStream ------------------------------------------------------------------------------


def test_stream_yields_every_row_once_with_its_label_and_ids(source: StampSource) -> None:
    items = list(StampStream(source, seed=3))
    assert len(items) == len(source) == 72
    item = items[0]
    assert (item.x.shape, item.x.dtype, item.y.dtype, item.ids.dtype) == (
        torch.Size([3, 64, 64]), torch.float32, torch.float32, torch.int64,
    )  # fmt: skip
    labels = {(f.rec_idx, r): bool(source.positive[source.offsets[i] + r])
              for i, f in enumerate(source.files) for r in range(f.n_rows)}  # fmt: skip
    seen = {tuple(i.ids.tolist()): bool(i.y) for i in items}
    assert seen == labels


def test_stream_is_reproducible_and_changes_with_the_epoch(source: StampSource) -> None:
    def order(stream: StampStream) -> list[tuple[int, ...]]:
        return [tuple(i.ids.tolist()) for i in stream]

    a, b = StampStream(source, seed=5), StampStream(source, seed=5)
    first = order(a)
    assert first == order(b)
    assert torch.equal(next(iter(a)).x, next(iter(b)).x)  # same symmetry for the same row
    a.set_epoch(1)
    assert order(a) != first
    assert sorted(order(a)) == sorted(first)


def test_unshuffled_stream_reads_files_in_order(source: StampSource) -> None:
    ids = [tuple(i.ids.tolist()) for i in StampStream(source, shuffle=False, augment=False)]
    assert ids == sorted(ids)


def test_dataloader_workers_share_the_rows_without_overlap(source: StampSource) -> None:
    loader = DataLoader(StampStream(source, seed=1), batch_size=10, num_workers=2)
    ids = [tuple(r) for batch in loader for r in batch.ids.tolist()]
    assert len(ids) == len(set(ids)) == len(source)


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_get_disjoint_shards_of_equal_length(source: StampSource, world: int) -> None:
    shards = [
        [tuple(i.ids.tolist()) for i in StampStream(source, rank=r, world_size=world)]
        for r in range(world)
    ]
    lengths = {len(s) for s in shards}
    assert len(lengths) == 1
    assert lengths.pop() == len(StampStream(source, rank=0, world_size=world))
    every = [x for s in shards for x in s]
    assert len(every) == len(set(every))
    assert len(every) > len(source) - world * 8  # at most a row group per rank left out


def test_stream_follows_the_balanced_samplers_draw(manifest: Path, source: StampSource) -> None:
    with Manifest.open(manifest, read_only=True) as m:
        index = WindowIndex.load(m, "train")
    sampler = BalancedSampler(index, target_positive_fraction=0.8, num_samples=150, seed=2)
    stream = StampStream(source, sampler=sampler, seed=2)
    stream.set_epoch(3)
    got = Counter(tuple(i.ids.tolist()) for i in stream)
    draw = sampler.epoch_sample()  # the epoch the stream set on the sampler
    want = Counter((int(index.rec_idx[p]), int(index.window_idx[p])) for p in draw)
    assert got == want
    assert len(stream) == 150


def test_stream_refuses_a_sampler_over_other_rows(manifest: Path, source: StampSource) -> None:
    with Manifest.open(manifest, read_only=True) as m:
        other = BalancedSampler(WindowIndex.load(m, "dev"))
    with pytest.raises(UsageError, match="build it on"):
        StampStream(source, sampler=other)


def test_an_undecodable_stamp_becomes_nan_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = audited(tmp_path / "d", files=1, rows=8)
    target = tmp_path / "d" / "dev" / "part-0000.parquet"
    table = pq.read_table(target)
    buffer = io.BytesIO()
    np.savez(buffer, stamp=np.array([object()], dtype=object))
    stamps = table.column("stamp_npz").to_pylist()
    stamps[2] = buffer.getvalue()
    pq.write_table(table.set_column(0, "stamp_npz", pa.array(stamps, pa.binary())), target)
    with Manifest.open(path) as m:
        scan_parquet(tmp_path / "d", m, StampCorpus.options())
        source = StampSource.load(m, "dev")
    with caplog.at_level(logging.WARNING):
        items = {tuple(i.ids.tolist()): i for i in StampStream(source, shuffle=False)}
    rec = source.files[0].rec_idx
    assert torch.isnan(items[(rec, 2)].x).all()
    assert torch.isfinite(items[(rec, 3)].x).all()
    assert "part-0000.parquet row 2: stamp: not a NumPy archive" in caplog.text


# StampTable -------------------------------------------------------------------------------


def test_table_items_match_the_stream_without_augmentation(source: StampSource) -> None:
    table = StampTable(source, augment=False, cache_row_groups=2)
    streamed = {tuple(i.ids.tolist()): i for i in StampStream(source, augment=False)}
    for position in (0, 9, 30, 71):
        item = table[position]
        twin = streamed[tuple(item.ids.tolist())]
        assert torch.equal(item.x, twin.x)
        assert float(item.y) == float(twin.y) == float(source.positive[position])
    assert len(table._cache) <= 2


def test_table_works_with_a_balanced_sampler_in_a_dataloader(
    manifest: Path, source: StampSource
) -> None:
    with Manifest.open(manifest, read_only=True) as m:
        index = WindowIndex.load(m, "train")
    sampler = BalancedSampler(index, target_positive_fraction=0.5, num_samples=32, seed=1)
    loader = DataLoader(StampTable(source), batch_size=16, sampler=sampler)
    batches = list(loader)
    assert [b.x.shape for b in batches] == [torch.Size([16, 3, 64, 64])] * 2
    drawn = list(sampler)
    got = [tuple(r) for b in batches for r in b.ids.tolist()]
    assert got == [(int(index.rec_idx[p]), int(index.window_idx[p])) for p in drawn]


# bounded memory ---------------------------------------------------------------------------


def _peak_while_streaming(source: StampSource) -> tuple[int, int]:
    """(traced Python/NumPy peak, largest pyarrow allocation seen) while streaming ``source``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    arrow = 0
    for _ in StampStream(source, read_rows=8, interleave=2):
        arrow = max(arrow, pa.total_allocated_bytes())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, arrow


def test_memory_held_while_streaming_does_not_grow_with_the_tier(tmp_path: Path) -> None:
    small = audited(tmp_path / "small", files=2, rows=32)
    large = audited(tmp_path / "large", files=8, rows=32)  # 4x the rows
    peaks = []
    for path in (small, large):
        with Manifest.open(path, read_only=True) as m:
            peaks.append(_peak_while_streaming(StampSource.load(m, "train")))
    (small_py, small_arrow), (large_py, large_arrow) = peaks
    assert large_py < 1.5 * small_py + 64_000  # the label index grows by a byte per row
    assert large_arrow < 1.5 * small_arrow + 64_000
