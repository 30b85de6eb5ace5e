"""The preprocessed cache: one memory-mapped array per recording, so epochs never touch EDF or MNE.

Layout under the cache directory (``WindowCache.for_manifest`` puts it beside the manifest)::

    <cache dir>/<key>/params.json            the preprocessing parameters of this folder
    <cache dir>/<key>/<content hash>.npy     float32 (or float16) [C, N], C-order, each channel
                                             robustly z-scored over the whole recording
    <cache dir>/<key>/<content hash>.json    sidecar: shape, rate, channels, filters applied,
                                             per-channel center and scale (µV = z x scale +
                                             center), provenance

``key`` hashes the preprocessing parameters (montage, target rate, band-pass, notch, dtype,
``CACHE_VERSION``; see ``preprocess.Preprocessing``): changing any of them selects another
folder, so old entries are never read again (``prune`` deletes them). ``content hash`` is the
manifest's fingerprint of the EDF, so two copies of one recording share an entry and an edited
EDF gets a new one (the build checks the fingerprint again before reading).

An entry is written as a temporary file and renamed (array first, sidecar last); an entry counts
only when its sidecar matches its array, so a build killed half-way leaves nothing that is ever
read, and the next build redoes just the missing entries. Recordings are built in parallel
worker processes, largest first, with a progress bar.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from preflight.data.montage import ChannelPlan, RejectedRecording, check_recordings
from preflight.data.preprocess import (
    CacheDtype,
    Preprocessing,
    mne_version,
    preprocess,
    read_signals,
    standardize,
)
from preflight.errors import Reason, RecordingError, UsageError
from preflight.manifest import audits, recordings
from preflight.manifest.store import Manifest
from preflight.progress import ProgressReporter
from preflight.scanning.parse import forked_pool
from preflight.sources.edf import content_fingerprint

__all__ = [
    "BuildReport",
    "CacheDtype",
    "CacheEntry",
    "Preprocessing",
    "PruneReport",
    "WindowCache",
    "data_root",
]

_TMP = ".tmp"  # suffix stem of files being written: never read, removed by prune
_SIDECAR_FORMAT = "preflight-cache-entry"
_PARAMS_FORMAT = "preflight-cache-params"


@dataclass(frozen=True)
class CacheEntry:
    """One cached recording, as its sidecar describes it.

    Attributes:
        content_hash: the recording's fingerprint (``recordings.content_hash``).
        array_path: the ``.npy`` file, [C, N].
        channels: montage channel names (rows).
        n_samples: N, at ``rate``.
        rate: sampling rate (Hz).
        center: per-channel median (µV) over the whole recording.
        scale: per-channel divisor (µV): 1.4826 x the median absolute deviation over the whole
            recording, or 1 for a flat channel (below ``FLAT_UV``); µV = stored x scale + center.
    """

    content_hash: str
    array_path: Path
    channels: tuple[str, ...]
    n_samples: int
    rate: float
    center: tuple[float, ...]
    scale: tuple[float, ...]


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        folder: the cache folder of these parameters.
        built: entries written now.
        reused: entries already valid (not rebuilt).
        rejected: recordings that have no entry: montage channels missing, unreadable EDF,
            or changed since the audit.
        seconds: wall time.
    """

    folder: Path
    built: int
    reused: int
    rejected: list[RejectedRecording]
    seconds: float


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed: files, parameter folders, and bytes freed."""

    files: int
    folders: int
    bytes: int


@dataclass(frozen=True)
class _Job:
    """One entry to build (picklable: goes to a worker process)."""

    rec_idx: int
    rel_path: str
    edf_path: str
    labels: tuple[str, ...]
    header_bytes: int
    content_hash: str
    plan: ChannelPlan
    params: Preprocessing
    folder: str


def data_root(manifest: Manifest, root: str | Path | None = None) -> Path:
    """The folder the manifest's recording paths are relative to.

    Args:
        manifest: an audited manifest.
        root: the data root, when the corpus moved or the manifest lives elsewhere; by default
            the folder of the manifest's latest audit (``audits.root``).

    Raises:
        UsageError: no audit recorded and no ``root`` given, or the folder does not exist.
    """
    if root is None:
        root = audits.last_audit_root(manifest)
        if root is None:
            raise UsageError("manifest records no audit: pass the data root", path=manifest.path)
    folder = Path(root)
    if not folder.is_dir():
        raise UsageError("data root is not a folder (moved corpus? pass root=)", path=folder)
    return folder


class WindowCache:
    """Preprocessed recordings under ``directory``, for one set of preprocessing parameters.

    Args:
        directory: the cache directory (shared by every parameter set).
        params: the preprocessing (default ``Preprocessing()``).
    """

    def __init__(self, directory: str | Path, params: Preprocessing | None = None) -> None:
        self.directory = Path(directory)
        self.params = params or Preprocessing()
        self.folder = self.directory / self.params.key

    @classmethod
    def for_manifest(cls, manifest: Manifest, params: Preprocessing | None = None) -> WindowCache:
        """The cache in ``cache/`` beside the manifest file (``<root>/.preflight/cache``)."""
        return cls(manifest.path.parent / "cache", params)

    def entry(self, content_hash: str) -> CacheEntry | None:
        """The valid entry of a recording, or None (absent, partial, or other parameters)."""
        sidecar = self.folder / f"{content_hash}.json"
        array = self.folder / f"{content_hash}.npy"
        try:
            meta = json.loads(sidecar.read_text())
            if (meta.get("format"), meta.get("key")) != (_SIDECAR_FORMAT, self.params.key):
                return None
            stored = np.load(array, mmap_mode="r", allow_pickle=False)
            if list(stored.shape) != meta["shape"] or str(stored.dtype) != meta["dtype"]:
                return None
            return CacheEntry(
                content_hash=content_hash,
                array_path=array,
                channels=tuple(meta["channels"]),
                n_samples=int(meta["shape"][1]),
                rate=float(meta["rate"]),
                center=tuple(meta["channel_center"]),
                scale=tuple(meta["channel_scale"]),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def open(self, entry: CacheEntry) -> np.ndarray:
        """The entry's z-scored samples, memory-mapped copy-on-write (the file is never written).

        Returns:
            [C, N] in the stored dtype; ``x * scale[:, None] + center[:, None]`` gives µV.
        """
        return np.load(entry.array_path, mmap_mode="c", allow_pickle=False)

    def build(
        self,
        manifest: Manifest,
        *,
        root: str | Path | None = None,
        splits: Sequence[str] | None = None,
        only: Collection[int] | None = None,
        workers: int | None = None,
        progress: bool = True,
    ) -> BuildReport:
        """Preprocess every usable recording that has no valid entry yet (resumable).

        Args:
            manifest: an audited manifest.
            root: the data root (see ``data_root``).
            splits: only the recordings of these splits (default: all).
            only: only these recordings, by ``rec_idx`` (default: all), as a smoke run asks.
            workers: worker processes (default: the machine's cores; 1 builds in this process).
            progress: show a progress bar on the terminal.

        Returns:
            Counts, and the recordings left without an entry with their reasons.

        Raises:
            UsageError: no data root.
        """
        started = time.perf_counter()
        base = data_root(manifest, root)
        check = check_recordings(manifest, self.params.montage, splits)
        usable, rejected = check.usable, check.rejected
        if only is not None:
            usable = {k: v for k, v in usable.items() if k in only}
            rejected = [r for r in rejected if r.rec_idx in only]
        jobs, reused = self._plan_jobs(manifest, base, usable)
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(
            self.folder / "params.json",
            json.dumps({"format": _PARAMS_FORMAT, **self.params.describe()}, indent=1).encode(),
        )
        failures = _run(jobs, workers, progress)
        return BuildReport(
            folder=self.folder,
            built=len(jobs) - len(failures),
            reused=reused,
            rejected=rejected + failures,
            seconds=time.perf_counter() - started,
        )

    def _plan_jobs(
        self, manifest: Manifest, base: Path, plans: dict[int, ChannelPlan]
    ) -> tuple[list[_Job], int]:
        """Jobs for the content hashes without a valid entry (largest first), and the reused."""
        rows = recordings.edf_sources(manifest)
        jobs: dict[str, _Job] = {}
        reused: set[str] = set()
        for rec_idx, rel, labels, content_hash, header_bytes in rows:
            if rec_idx not in plans or content_hash in jobs or content_hash in reused:
                continue
            if self.entry(content_hash) is not None:
                reused.add(content_hash)
                continue
            jobs[content_hash] = _Job(
                rec_idx, rel, str(base / rel), tuple(labels), int(header_bytes), content_hash,
                plans[rec_idx], self.params, str(self.folder),
            )  # fmt: skip
        return list(jobs.values()), len(reused)

    def prune(
        self, manifest: Manifest | None = None, *, keep: Iterable[Preprocessing] = ()
    ) -> PruneReport:
        """Delete stale entries: temporary files, other parameter sets, recordings gone.

        Do not prune while a build writes to the same cache directory.

        Args:
            manifest: when given, also delete this folder's entries whose content hash no
                recording of the manifest has.
            keep: other parameter sets whose folders stay.

        Returns:
            What was removed.
        """
        kept = {self.params.key, *(p.key for p in keep)}
        wanted: set[str] | None = None
        if manifest is not None:
            wanted = recordings.content_hashes(manifest)
        doomed: list[Path] = []
        gone: list[Path] = []  # folders of other parameters
        for folder in _param_folders(self.directory):
            if folder.name not in kept:
                doomed += [f for f in folder.iterdir() if f.is_file()]
                gone.append(folder)
                continue
            mine = folder == self.folder
            doomed += [f for f in folder.iterdir() if _stale(f, wanted if mine else None)]
        freed = sum(f.stat().st_size for f in doomed)
        for item in doomed:
            item.unlink()
        for folder in gone:
            shutil.rmtree(folder)
        return PruneReport(files=len(doomed), folders=len(gone), bytes=freed)


def _run(jobs: list[_Job], workers: int | None, progress: bool) -> list[RejectedRecording]:
    """Build ``jobs`` (in worker processes when more than one) and return the failures."""
    n = min(workers or os.cpu_count() or 1, len(jobs))
    failures: list[RejectedRecording] = []
    with ProgressReporter("Preprocessing recordings into the cache", len(jobs), progress) as bar:
        if n <= 1:
            for job in jobs:
                failures += _build_entry(job)
                bar.advance()
            return failures
        # fork, as the scan does: workers start at once and inherit the imports made here.
        import mne.io  # noqa: F401
        import scipy.signal  # noqa: F401  (1 s to import; MNE's filters need it)

        with forked_pool(n) as pool:
            for future in as_completed([pool.submit(_build_entry, job) for job in jobs]):
                failures += future.result()
                bar.advance()
    return failures


def _build_entry(job: _Job) -> list[RejectedRecording]:
    """Read, preprocess and store one recording; a failure comes back as a rejection."""
    try:
        if content_fingerprint(job.edf_path, job.header_bytes) != job.content_hash:
            message = "the EDF changed since the audit; run `preflight audit` again"
            return [RejectedRecording(job.rec_idx, job.rel_path, Reason.EDF_HEADER, message)]
    except RecordingError as exc:
        return [RejectedRecording(job.rec_idx, job.rel_path, exc.reason, exc.message)]
    try:
        signals, sfreq = read_signals(job.edf_path, job.plan.sources, len(job.labels))  # (S, N)
        x, applied = preprocess(signals, sfreq, job.plan, job.params)  # (C, N')
    except Exception as exc:  # MNE's boundary: any failure rejects this one recording
        message = f"MNE cannot read or filter the signals: {type(exc).__name__}: {exc}"
        return [RejectedRecording(job.rec_idx, job.rel_path, Reason.UNREADABLE, message)]
    std = standardize(x, job.params.dtype)  # (C, N') stored dtype
    sidecar = {
        "format": _SIDECAR_FORMAT,
        "key": job.params.key,
        "content_hash": job.content_hash,
        "source": job.rel_path,
        "shape": list(std.samples.shape),
        "dtype": str(std.samples.dtype),
        "rate": float(job.params.rate),
        "channels": list(job.plan.channels),
        "source_channels": [job.labels[i] for i in job.plan.sources],
        "applied": applied,
        "channel_center": std.center.tolist(),
        "channel_scale": std.scale.tolist(),
        "channel_mean": x.mean(axis=1).tolist(),
        "channel_std": x.std(axis=1).tolist(),
        "clipped_samples": std.clipped,
        "preprocessing": job.params.describe(),
        "mne": mne_version(),
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    folder = Path(job.folder)
    _write_atomic(folder / f"{job.content_hash}.npy", std.samples)
    _write_atomic(folder / f"{job.content_hash}.json", json.dumps(sidecar, indent=1).encode())
    return []


def _write_atomic(path: Path, content: bytes | np.ndarray) -> None:
    """Write to a unique temporary file beside ``path``, flush it to disk, rename it.

    Raises:
        UsageError: the write failed (a full disk, no permission): the entry is not written,
            no temporary file is left, and the message names the file and a fix.
    """
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_TMP}{path.suffix}")
    try:
        _write_flushed(tmp, path, content)
    except OSError as exc:
        raise UsageError(
            f"cannot write the window cache: {exc.strerror or exc}; free space, or point "
            "data.cache at another disk, and run again (entries already written are kept)",
            path=path,
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def _write_flushed(tmp: Path, path: Path, content: bytes | np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        if isinstance(content, np.ndarray):
            np.save(fh, content, allow_pickle=False)
        else:
            fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _stale(item: Path, wanted: set[str] | None) -> bool:
    """A leftover temporary file, or (``wanted`` given) an entry of a recording no longer used."""
    if not item.is_file():
        return False
    if _TMP in item.name:
        return True
    entry_file = item.suffix in (".npy", ".json") and item.name != "params.json"
    return wanted is not None and entry_file and item.stem not in wanted


def _param_folders(directory: Path) -> list[Path]:
    """Sub-folders holding a preflight ``params.json`` (anything else is not ours to delete)."""
    if not directory.is_dir():
        return []
    found = []
    for folder in directory.iterdir():
        try:
            if json.loads((folder / "params.json").read_text()).get("format") == _PARAMS_FORMAT:
                found.append(folder)
        except (OSError, ValueError, AttributeError):
            continue
    return found
