"""The preprocessed cache and the EEG window dataset on small synthetic corpora (real EDF files)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mne
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from preflight.data import cache as cache_module
from preflight.data.cache import (
    CacheDtype,
    Preprocessing,
    WindowCache,
    data_root,
)
from preflight.data.dataset import EEGWindowDataset, Normalization, collate
from preflight.data.montage import (
    CHBMIT_TCP_PAIRS,
    MISSING_CHANNELS,
    STANDARD_1020,
    TCP_PAIRS,
    Montage,
)
from preflight.data.window_index import WindowIndex
from preflight.errors import UsageError
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.synth.corpus import Layout, SynthSpec, synthesize

SPLITS = ("train", "dev")


def _corpus(root: Path, **changes: object) -> Path:
    """Four recordings of 60-90 s (two patients, one seizure of 12-20 s in half); audited."""
    spec = SynthSpec(
        train_patients=1,
        dev_patients=1,
        eval_patients=0,
        recordings_per_patient=2,
        min_duration_s=60,
        max_duration_s=90,
        seizures_per_recording=(1, 1),
        seizure_duration_s=(12.0, 20.0),
        **changes,  # type: ignore[arg-type]
    )
    synthesize(root, spec)
    audit(root)
    return root / ".preflight" / "manifest.duckdb"


@pytest.fixture(scope="module")
def tusz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifest of a TUSZ-layout corpus (``EEG FP1-REF`` ... plus A1/A2, EKG, PHOTIC)."""
    return _corpus(tmp_path_factory.mktemp("tusz") / "corpus")


@pytest.fixture
def manifest(tusz: Path) -> Iterator[Manifest]:
    """The TUSZ corpus's manifest, opened read-only."""
    with Manifest.open(tusz, read_only=True) as m:
        yield m


@pytest.fixture(scope="module")
def built(tusz: Path, tmp_path_factory: pytest.TempPathFactory) -> WindowCache:
    """The default cache (10-20 montage, 256 Hz, float32) of the TUSZ corpus, built once."""
    cache = WindowCache(tmp_path_factory.mktemp("cache"))
    with Manifest.open(tusz, read_only=True) as m:
        report = cache.build(m, workers=1, progress=False)
    assert (report.built, report.rejected) == (4, [])
    return cache


def _build(cache: WindowCache, m: Manifest) -> tuple[int, int]:
    report = cache.build(m, workers=1, progress=False)
    assert report.rejected == []
    return report.built, report.reused


def test_items_have_the_promised_shapes_and_dtypes(manifest: Manifest, built: WindowCache) -> None:
    ds = EEGWindowDataset.from_manifest(manifest, SPLITS, built)
    item = ds[0]
    assert ds.channels == STANDARD_1020
    assert ds.n_samples == 2560  # 10 s windows at 256 Hz
    assert item.x.shape == (19, 2560)
    assert item.x.dtype == torch.float32
    assert item.y.shape == ()
    assert item.y.dtype == torch.float32
    assert (item.mask.shape, item.mask.dtype) == ((2560,), torch.float32)
    assert (item.ids.shape, item.ids.dtype) == ((2,), torch.int64)
    batch = next(iter(DataLoader(ds, batch_size=5, shuffle=True, collate_fn=collate)))
    assert [tuple(t.shape) for t in batch] == [(5, 19, 2560), (5,), (5, 2560), (5, 2)]
    assert ds[-1].ids.tolist() == [int(ds.index.rec_idx[-1]), int(ds.index.window_idx[-1])]
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_collate_matches_default_collate(manifest: Manifest, built: WindowCache) -> None:
    ds = EEGWindowDataset.from_manifest(manifest, SPLITS, built)
    picks = [3, 0, len(ds) - 1, 3]
    ours = collate(ds.__getitems__(picks))
    default = default_collate([ds[i] for i in picks])
    for a, b in zip(ours, default, strict=True):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(collate([ds[i] for i in picks]).x, ours.x)


def test_labels_and_masks_agree_with_the_manifest(manifest: Manifest, built: WindowCache) -> None:
    ds = EEGWindowDataset.from_manifest(manifest, SPLITS, built)
    batch = collate(ds.__getitems__(range(len(ds))))
    overlap = dict(
        ((r, w), o)
        for r, w, o in manifest.query("SELECT rec_idx, window_idx, overlap_s FROM windows")
    )
    seizures = manifest.query("SELECT rec_idx, start_s, stop_s FROM seizures")
    assert 0 < int(batch.y.sum()) < len(ds)
    for k, (rec, win) in enumerate(batch.ids.tolist()):
        assert batch.y[k] == float(ds.index.positive[k])
        t = (win * 10.0 * 256 + np.arange(2560)) / 256.0  # sample times (s)
        inside = np.zeros(2560, dtype=bool)
        for r, start, stop in seizures:
            inside |= (r == rec) & (t >= start) & (t < stop)
        np.testing.assert_array_equal(batch.mask[k].numpy(), inside.astype(np.float32))
        assert float(batch.mask[k].sum()) / 256.0 == pytest.approx(overlap[(rec, win)], abs=1e-9)
        assert bool(batch.mask[k].any()) == bool(batch.y[k])


def test_seizure_bursts_are_visible_in_x(manifest: Manifest, built: WindowCache) -> None:
    for normalization in Normalization.RECORDING, Normalization.NONE:
        ds = EEGWindowDataset.from_manifest(manifest, SPLITS, built, normalization=normalization)
        batch = collate(ds.__getitems__(range(len(ds))))
        rms = batch.x.pow(2).mean(dim=(1, 2)).sqrt()  # (B,)
        seizure = batch.mask.mean(dim=1) > 0.5
        background = batch.y == 0
        assert seizure.any()
        assert rms[seizure].min() > 3 * rms[background].max()


def test_normalizations_are_consistent(manifest: Manifest, built: WindowCache) -> None:
    def x(normalization: Normalization) -> torch.Tensor:
        ds = EEGWindowDataset.from_manifest(manifest, "train", built, normalization=normalization)
        return collate(ds.__getitems__(range(len(ds)))).x  # (B, C, T)

    uv, z, window = x(Normalization.NONE), x(Normalization.RECORDING), x(Normalization.WINDOW)
    assert 5.0 < float(uv.std()) < 100.0  # µV: synthetic background is 10-20 µV RMS
    assert 0.3 < float(z.std()) < 3.0
    torch.testing.assert_close(window.mean(dim=2), torch.zeros(window.shape[:2]), atol=1e-4, rtol=0)
    torch.testing.assert_close(window.std(dim=2), torch.ones(window.shape[:2]), atol=1e-3, rtol=0)
    # Per channel and window, µV and recording z-scores differ by one affine map.
    corr = torch.corrcoef(torch.stack((uv[0, 0], z[0, 0])))
    assert float(corr[0, 1]) == pytest.approx(1.0, abs=1e-4)


def test_second_build_reads_no_edf(
    tusz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = WindowCache(tmp_path / "cache")
    with Manifest.open(tusz, read_only=True) as m:
        assert _build(cache, m) == (4, 0)

        def no_edf(*args: object, **kwargs: object) -> None:
            raise AssertionError("an EDF was read after the cache was built")

        monkeypatch.setattr(mne.io, "read_raw_edf", no_edf)
        assert _build(cache, m) == (0, 4)
        ds = EEGWindowDataset.from_manifest(m, SPLITS, cache)
        assert sum(len(b.y) for b in DataLoader(ds, batch_size=8, collate_fn=collate)) == len(ds)


def test_reading_the_cache_never_imports_mne(tusz: Path, built: WindowCache) -> None:
    code = f"""
import sys
from preflight.manifest.store import Manifest
from preflight.data.cache import WindowCache
from preflight.data.dataset import EEGWindowDataset, collate
with Manifest.open({str(tusz)!r}, read_only=True) as m:
    ds = EEGWindowDataset.from_manifest(m, "train", WindowCache({str(built.directory)!r}))
collate(ds.__getitems__(range(len(ds))))
print("mne" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_build_resumes_after_an_interruption(
    tusz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = WindowCache(tmp_path / "cache")
    real = cache_module.preprocess
    done: list[int] = []

    def interrupted_after_two(*args: object, **kwargs: object) -> object:
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with Manifest.open(tusz, read_only=True) as m:
        monkeypatch.setattr(cache_module, "preprocess", interrupted_after_two)
        with pytest.raises(KeyboardInterrupt):
            cache.build(m, workers=1, progress=False)
        monkeypatch.setattr(cache_module, "preprocess", real)
        # What a kill in the middle of a write leaves: a partial temporary file.
        partial = cache.folder / f".{'0' * 32}.4242.deadbeef.tmp.npy"
        partial.write_bytes(b"\x93NUMPY\x01\x00half a header")
        assert _build(cache, m) == (2, 2)
        pruned = cache.prune()
    assert (pruned.files, pruned.folders) == (1, 0)
    assert not partial.exists()


def test_an_entry_whose_array_does_not_match_its_sidecar_is_rebuilt(
    tusz: Path, tmp_path: Path
) -> None:
    cache = WindowCache(tmp_path / "cache")
    with Manifest.open(tusz, read_only=True) as m:
        _build(cache, m)
        first, second = sorted(cache.folder.glob("*.npy"))[:2]
        first.write_bytes(first.read_bytes()[:-100])  # truncated
        second.with_suffix(".json").unlink()  # sidecar lost
        assert _build(cache, m) == (2, 2)


def test_changing_a_parameter_selects_new_entries(tusz: Path, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    base = WindowCache(directory)
    changed = [
        Preprocessing(rate=128.0, h_freq=40.0),
        Preprocessing(h_freq=40.0),
        Preprocessing(notch=(50.0,)),
    ]
    with Manifest.open(tusz, read_only=True) as m:
        assert _build(base, m) == (4, 0)
        for params in changed:
            other = WindowCache(directory, params)
            assert other.folder != base.folder
            assert _build(other, m) == (4, 0)
        assert _build(WindowCache(directory, Preprocessing()), m) == (0, 4)
        slow = EEGWindowDataset.from_manifest(m, "dev", WindowCache(directory, changed[0]))
        assert slow[0].x.shape == (19, 1280)
        sidecar = json.loads(next(base.folder.glob("*.npy")).with_suffix(".json").read_text())
        assert sidecar["preprocessing"] == Preprocessing().describe()
        pruned = base.prune(m, keep=[changed[0]])
    assert pruned.folders == 2
    assert sorted(p.name for p in directory.iterdir()) == sorted([base.params.key, changed[0].key])


def test_prune_removes_entries_of_recordings_gone(tusz: Path, tmp_path: Path) -> None:
    cache = WindowCache(tmp_path / "cache")
    with Manifest.open(tusz, read_only=True) as m:
        assert cache.build(m, workers=2, progress=False).built == 4  # in worker processes
        orphan = cache.folder / f"{'f' * 32}.npy"
        np.save(orphan, np.zeros((19, 10), dtype=np.float16))
        orphan.with_suffix(".json").write_text("{}")
        pruned = cache.prune(m)
    assert pruned.files == 2
    assert len(list(cache.folder.glob("*.npy"))) == 4


def test_float16_storage_halves_the_bytes_and_keeps_the_values(
    manifest: Manifest, built: WindowCache, tmp_path: Path
) -> None:
    half = WindowCache(tmp_path, Preprocessing(dtype=CacheDtype.FLOAT16))
    _build(half, manifest)
    exact_bytes = sum(p.stat().st_size for p in built.folder.glob("*.npy"))
    half_bytes = sum(p.stat().st_size for p in half.folder.glob("*.npy"))
    assert half_bytes == pytest.approx(exact_bytes / 2, rel=0.01)
    n = len(WindowIndex.load(manifest, SPLITS))
    x = collate(EEGWindowDataset.from_manifest(manifest, SPLITS, built).__getitems__(range(n))).x
    y = collate(EEGWindowDataset.from_manifest(manifest, SPLITS, half).__getitems__(range(n))).x
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, x, rtol=1e-3, atol=1e-3)


def test_tcp_montage_gives_22_channels_that_are_differences(
    manifest: Manifest, tmp_path: Path
) -> None:
    with_ears = Montage.referential((*STANDARD_1020, "A1", "A2"))
    ref = WindowCache(tmp_path, Preprocessing(montage=with_ears))
    tcp = WindowCache(tmp_path, Preprocessing(montage=Montage.tcp()))
    _build(ref, manifest)
    _build(tcp, manifest)
    uv = Normalization.NONE
    x_ref = EEGWindowDataset.from_manifest(manifest, "dev", ref, normalization=uv)[2].x
    x_tcp = EEGWindowDataset.from_manifest(manifest, "dev", tcp, normalization=uv)[2].x
    assert x_tcp.shape == (22, 2560)
    row = {name: k for k, name in enumerate(with_ears.channels)}
    for k, pair in enumerate(TCP_PAIRS):
        a, b = pair.split("-")
        torch.testing.assert_close(x_tcp[k], x_ref[row[a]] - x_ref[row[b]], atol=2e-3, rtol=0)


def test_recordings_missing_channels_are_rejected_with_names(tmp_path: Path) -> None:
    """TUSZ files with 12 signals (FP1 ... O2, F7, F8) lack 7 of the 10-20 channels."""
    path = _corpus(tmp_path / "corpus", n_channels=12)
    cache = WindowCache(tmp_path / "cache")
    with Manifest.open(path, read_only=True) as m:
        report = cache.build(m, workers=1, progress=False)
        assert (report.built, len(report.rejected)) == (0, 4)
        for rejected in report.rejected:
            assert rejected.reason is MISSING_CHANNELS
            assert rejected.missing == ("FZ", "T3", "CZ", "T4", "T5", "PZ", "T6")
            assert "lacks 7 of the 19 10-20 montage channels: FZ, T3, CZ" in rejected.message
        with pytest.raises(UsageError, match="4 of 4 recordings have no cache entry"):
            EEGWindowDataset.from_manifest(m, SPLITS, cache)


@pytest.mark.parametrize(
    ("layout", "montage", "channels"),
    [
        (Layout.CHBMIT, Montage.bipolar(CHBMIT_TCP_PAIRS), 16),
        (Layout.BIDS, Montage.referential(), 19),
    ],
    ids=["chbmit-bipolar", "bids-siena-names"],
)
def test_other_layouts_map_onto_their_montage(
    tmp_path: Path, layout: Layout, montage: Montage, channels: int
) -> None:
    path = _corpus(tmp_path / "corpus", layout=layout)
    cache = WindowCache(tmp_path / "cache", Preprocessing(montage=montage))
    with Manifest.open(path, read_only=True) as m:
        assert _build(cache, m) == (4, 0)
        ds = EEGWindowDataset.from_manifest(m, "all", cache)
        batch = collate(ds.__getitems__(range(len(ds))))
        assert batch.x.shape[1] == channels
        rms = batch.x.pow(2).mean(dim=(1, 2)).sqrt()
        assert rms[batch.mask.mean(dim=1) > 0.5].min() > 3 * rms[batch.y == 0].max()
        rejected = WindowCache(tmp_path / "cache", Preprocessing(montage=Montage.tcp()))
        assert len(rejected.build(m, workers=1, progress=False).rejected) == 4  # no A1/A2


def test_worker_processes_deliver_the_same_batches(manifest: Manifest, built: WindowCache) -> None:
    ds = EEGWindowDataset.from_manifest(manifest, SPLITS, built)

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(ds, batch_size=7, num_workers=workers, collate_fn=collate)
        return [torch.cat((b.x.flatten(), b.mask.flatten(), b.y)) for b in loader]

    single, parallel = batches(0), batches(2)
    assert len(single) == len(parallel)
    assert all(torch.equal(a, b) for a, b in zip(single, parallel, strict=True))


def test_the_data_root_comes_from_the_latest_audit_or_the_caller(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    synthesize(corpus, SynthSpec(train_patients=1, dev_patients=0, eval_patients=0))
    elsewhere = tmp_path / "elsewhere" / "manifest.duckdb"
    audit(corpus, manifest=elsewhere)
    with Manifest.open(elsewhere, read_only=True) as m:
        assert data_root(m) == corpus
        assert data_root(m, tmp_path) == tmp_path
        with pytest.raises(UsageError, match="data root is not a folder"):
            data_root(m, tmp_path / "moved")
    with Manifest.open(tmp_path / "fresh.duckdb") as m, pytest.raises(UsageError, match="no audit"):
        data_root(m)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate": 0.0}, "must be > 0"),
        ({"rate": 128.0}, r"h_freq 70.0 Hz must be in \(0, 64\)"),
        ({"l_freq": 40.0, "h_freq": 30.0}, "band-pass 40.0-30.0 Hz is empty"),
        ({"notch": (-50.0,)}, "notch frequencies"),
    ],
)
def test_bad_preprocessing_parameters_are_usage_errors(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        Preprocessing(**changes)  # type: ignore[arg-type]


def test_the_key_follows_every_parameter() -> None:
    assert Preprocessing().key == Preprocessing(dtype="float32").key  # type: ignore[arg-type]
    variants = [
        Preprocessing(montage=Montage.tcp()),
        Preprocessing(rate=200.0),
        Preprocessing(l_freq=None),
        Preprocessing(h_freq=40.0),
        Preprocessing(notch=()),
        Preprocessing(dtype=CacheDtype.FLOAT16),
    ]
    assert len({p.key for p in [Preprocessing(), *variants]}) == 7


def test_windows_must_be_whole_samples(manifest: Manifest, built: WindowCache) -> None:
    index = dataclasses.replace(WindowIndex.load(manifest, "dev"), window_s=10.001)
    with pytest.raises(UsageError, match=r"window 10.001 s at 256 Hz is 2560.26 samples"):
        EEGWindowDataset(index, built, manifest)
