"""The scan: discover input files, read the new or changed ones in parallel, update the manifest.

Incremental by construction: a file whose size and mtime match the parse cache is not opened; a
changed file is re-read (its content hash is recorded), a deleted file leaves the cache. The
derived tables are rebuilt only when the manifest fingerprint (every file's content hash plus the
windowing parameters) changed, so re-auditing an unchanged corpus reads nothing but directory
entries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from preflight.errors import Reason
from preflight.manifest import cache_tables
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams
from preflight.progress import ProgressReporter
from preflight.scanning.derive import derive
from preflight.scanning.discover import (
    Discovery,
    Found,
    Kind,
    SourceFormat,
    discover,
    kinds_read,
    missing_annotations_hint,
)
from preflight.scanning.parse import TABLES, forked_pool, parse_chunk, preload, reader_of
from preflight.sources.limits import ScanLimits

# Below this many files to read, the pool costs more than it saves: forking the parent and the
# workers' copy-on-write faults cost ~0.4 s of CPU (measured on 2 cores), ~1,100 files' parsing
# at ~0.37 ms each; with two workers the pool wins on wall time from about 2,000 files.
PARALLEL_MIN_FILES = 2000


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan.

    Attributes:
        fmt: which readers to use (``--format``).
        labels_only: audit from annotation files alone; EDF files are not read.
        window: window length, stride and overlap rule.
        workers: worker processes (default: the machine's cores).
        progress: show a progress bar on the terminal.
        errata: apply the published errata of real corpora (``preflight.sources.errata``).
        limits: plausibility limits (``audit.limits``): what a header or file may claim.
    """

    fmt: SourceFormat = SourceFormat.AUTO
    labels_only: bool = False
    window: WindowParams = field(default_factory=WindowParams)
    workers: int | None = None
    progress: bool = False
    errata: bool = True
    limits: ScanLimits = field(default_factory=ScanLimits)


class ScanInfo(BaseModel):
    """What a scan did, as an audit report shows it (its ``scan`` section)."""

    model_config = ConfigDict(frozen=True)

    files: int  # input files of the format read
    read: int  # of them, parsed by this scan (new or changed)
    reused: int  # of them, unchanged since the manifest's last scan
    deleted: int  # files the manifest held that are gone
    ignored: int  # files no reader of the format owns
    rebuilt: bool  # the derived tables were rebuilt (the fingerprint changed)
    seconds: float


class ScanResult(ScanInfo):
    """What a scan did, where, and the manifest fingerprint it left."""

    root: str
    fingerprint: str

    def info(self) -> ScanInfo:
        """The report's view: the counts, the seconds rounded to milliseconds."""
        counts = self.model_dump(include=set(ScanInfo.model_fields))
        return ScanInfo(**{**counts, "seconds": round(self.seconds, 3)})


def finish_scan(
    manifest: Manifest, fingerprint: str, state: dict[str, str], rebuild: Callable[[], None]
) -> bool:
    """The ending both scanners share: inside the scan's transaction, rebuild the derived tables
    when the fingerprint changed or they are missing, and record the new fingerprint and state.

    Returns:
        Whether the derived tables were rebuilt.
    """
    rebuilt = fingerprint != manifest.meta("fingerprint") or not manifest.has_derived()
    if rebuilt:
        rebuild()
        manifest.set_meta({"fingerprint": fingerprint, **state})
    return rebuilt


def scan(
    root: Path, manifest: Manifest, options: ScanOptions, *, found: Discovery | None = None
) -> ScanResult:
    """Bring ``manifest`` up to date with the files under ``root``.

    Args:
        root: the data root folder.
        manifest: an open, writable manifest.
        options: scan options.
        found: ``discover(root, SourceFormat.AUTO)`` when the caller walked the folder already
            (the audit does, to tell an EEG corpus from Parquet tables): not walked again.

    Returns:
        Counts of files read, reused and deleted, and whether derived tables were rebuilt.
    """
    t0 = time.perf_counter()
    kinds = kinds_read(options.fmt, labels_only=options.labels_only)
    found = found if found is not None else discover(root, SourceFormat.AUTO)
    wanted = [f for f in found.files if f.kind in kinds]
    cached = cache_tables.cached_files(manifest)
    errata = options.errata
    # A file left unread for its size is read again when the limit may have moved.
    too_large = cache_tables.files_rejected_for(manifest, Reason.TOO_LARGE)
    to_read = [
        f
        for f in wanted
        if cached.get(f.rel) != (f.size, f.mtime_ns, reader_of(f.kind, errata)[1])
        or f.rel in too_large
    ]
    present = {f.rel for f in found.files}
    deleted = sorted(p for p in cached if p not in present)
    with tempfile.TemporaryDirectory(prefix="preflight-scan-") as staging:
        read = _parse_all(str(root), to_read, options, staging)
        with manifest.transaction():
            stale = [p for p in read if p in cached]
            if stale or deleted:
                manifest.delete_paths(deleted + stale)
            _load_staged(manifest, staging)
            state = _state(options, found, kinds)
            fingerprint = _fingerprint(manifest, kinds, state)
            rebuild = functools.partial(
                derive, manifest, kinds=frozenset(kinds), labels_only=options.labels_only,
                edfplus=options.fmt is SourceFormat.EDFPLUS, params=options.window,
                walk_problems=found.problems,
                missing_hint=missing_annotations_hint(options.fmt, {f.kind for f in found.files}),
                limits=options.limits,
            )  # fmt: skip
            rebuilt = finish_scan(manifest, fingerprint, state, rebuild)
    return ScanResult(
        root=str(root.resolve()),
        files=len(wanted),
        read=len(to_read),
        reused=len(wanted) - len(to_read),
        deleted=len(deleted),
        ignored=found.ignored + len(found.files) - len(wanted),
        rebuilt=rebuilt,
        fingerprint=fingerprint,
        seconds=time.perf_counter() - t0,
    )


def _parse_all(root: str, files: list[Found], options: ScanOptions, staging: str) -> list[str]:
    """Read ``files`` in chunks (in worker processes when there are many); rows go to staging."""
    n = options.workers or os.cpu_count() or 1
    size = max(16, min(512, len(files) // (n * 4) or 1))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    read: list[str] = []
    with ProgressReporter("Reading headers and annotations", len(files), options.progress) as bar:
        if n <= 1 or len(files) < PARALLEL_MIN_FILES:
            for i, chunk in enumerate(chunks):
                read += parse_chunk(root, chunk, staging, i, options.errata, options.limits)
                bar.advance(len(chunk))
            return read
        preload()
        with forked_pool(n) as pool:  # workers inherit the imported readers
            futures = [
                pool.submit(parse_chunk, root, chunk, staging, i, options.errata, options.limits)
                for i, chunk in enumerate(chunks)
            ]
            for future in as_completed(futures):
                done = future.result()
                read += done
                bar.advance(len(done))
    return read


def _load_staged(manifest: Manifest, staging: str) -> None:
    """Bulk-load the Parquet rows the workers wrote into the cache tables.

    The staging folder lives under TMPDIR, which may hold ``*``, ``?`` or ``[``: the files are
    listed here and named to DuckDB one by one, each matching only itself (DuckDB globs every
    path it reads), so no pattern is ever built from the folder's name.
    """
    staged = sorted(os.listdir(staging))
    for table, columns in TABLES.items():
        files = [
            _literal(os.path.join(staging, name))
            for name in staged
            if name.startswith(f"{table}-") and name.endswith(".parquet")
        ]
        if not files:
            continue
        cache_tables.load_staged(manifest, table, columns, files)


def _literal(path: str) -> str:
    """``path`` as a DuckDB file pattern that matches only itself (``[`` becomes ``[[]``)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


def _state(options: ScanOptions, found: Discovery, kinds: frozenset[Kind]) -> dict[str, str]:
    """Provenance of the derived tables; a change in any value forces a rebuild."""
    return {
        "window_s": repr(options.window.window_s),
        "stride_s": repr(options.window.stride_s),
        "min_overlap_s": repr(options.window.min_overlap_s),
        "overlap_rule": options.window.overlap_rule(),
        "format": str(options.fmt),
        "labels_only": str(options.labels_only).lower(),
        "errata": str(options.errata).lower(),
        "kinds": ",".join(sorted(kinds)),
        "walk_problems": json.dumps(found.problems),
        "readers": json.dumps(sorted({"/".join(reader_of(k, options.errata)) for k in kinds})),
        "limits": options.limits.model_dump_json(),
    }


def _fingerprint(manifest: Manifest, kinds: frozenset[Kind], state: dict[str, str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(cache_tables.file_states(manifest, sorted(kinds)).encode())
    digest.update(json.dumps(state, sort_keys=True).encode())
    return digest.hexdigest()


def params_of(options: ScanOptions) -> dict[str, object]:
    """The scan options as plain data, for the audit history."""
    data = asdict(options)
    data["fmt"] = str(options.fmt)
    data["limits"] = options.limits.model_dump()
    return data


__all__ = ["ScanInfo", "ScanOptions", "ScanResult", "finish_scan", "params_of", "scan"]
