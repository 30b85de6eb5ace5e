"""The scan: discover input files, read the new or changed ones in parallel, update the manifest.

Incremental by construction: a file whose size and mtime match the parse cache is not opened; a
changed file is re-read (its content hash is recorded), a deleted file leaves the cache. The
derived tables are rebuilt only when the manifest fingerprint (every file's content hash plus the
windowing parameters) changed, so re-auditing an unchanged corpus reads nothing but directory
entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from preflight.errors import Reason
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams
from preflight.pipelines.derive import derive
from preflight.pipelines.discover import _ALLOWED, Discovery, Found, Kind, SourceFormat, discover
from preflight.pipelines.parse import TABLES, forked_pool, parse_chunk, reader_of
from preflight.reports.progress import ProgressReporter
from preflight.scanning_limits import ScanLimits

# Below this many files to read, the pool's start-up costs more than it saves.
PARALLEL_MIN_FILES = 64


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan.

    Attributes:
        fmt: which readers to use (``--format``).
        labels_only: audit from annotation files alone; EDF files are not read.
        window: window length, stride and overlap rule.
        workers: worker processes (default: the machine's cores).
        progress: show a progress bar on the terminal.
        limits: plausibility limits (``audit.limits``): what a header or file may claim.
    """

    fmt: SourceFormat = SourceFormat.AUTO
    labels_only: bool = False
    window: WindowParams = field(default_factory=WindowParams)
    workers: int | None = None
    progress: bool = False
    limits: ScanLimits = field(default_factory=ScanLimits)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan did."""

    root: str
    files: int
    read: int
    reused: int
    deleted: int
    ignored: int
    rebuilt: bool
    fingerprint: str
    seconds: float


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
    kinds = _ALLOWED[options.fmt] - ({Kind.EDF} if options.labels_only else frozenset())
    found = found if found is not None else discover(root, SourceFormat.AUTO)
    wanted = [f for f in found.files if f.kind in kinds]
    cached = {
        path: (size, mtime, version)
        for path, size, mtime, version in manifest.query(
            "SELECT path, size, mtime_ns, reader_version FROM files"
        )
    }
    # A file left unread for its size is read again when the limit may have moved.
    too_large = {
        r[0]
        for r in manifest.query(
            "SELECT path FROM files WHERE error_reason = ?", [str(Reason.TOO_LARGE)]
        )
    }
    to_read = [
        f
        for f in wanted
        if cached.get(f.rel) != (f.size, f.mtime_ns, reader_of(f.kind)[1]) or f.rel in too_large
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
            rebuilt = fingerprint != manifest.meta("fingerprint") or not manifest.has_derived()
            if rebuilt:
                derive(
                    manifest,
                    kinds=frozenset(kinds),
                    labels_only=options.labels_only,
                    edfplus=options.fmt is SourceFormat.EDFPLUS,
                    params=options.window,
                    walk_problems=found.problems,
                    limits=options.limits,
                )
                manifest.set_meta({"fingerprint": fingerprint, **state})
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
                read += parse_chunk(root, chunk, staging, i, options.limits)
                bar.advance(len(chunk))
            return read
        with forked_pool(n) as pool:  # workers inherit the imported readers
            futures = [
                pool.submit(parse_chunk, root, chunk, staging, i, options.limits)
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
        names = ", ".join(columns)
        manifest.con.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM read_parquet(?)", [files]
        )


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
        "kinds": ",".join(sorted(kinds)),
        "walk_problems": json.dumps(found.problems),
        "readers": json.dumps(sorted({"/".join(reader_of(k)) for k in kinds})),
        "limits": options.limits.model_dump_json(),
    }


def _fingerprint(manifest: Manifest, kinds: frozenset[Kind], state: dict[str, str]) -> str:
    row = manifest.query(
        "SELECT coalesce(string_agg(path || '|' || coalesce(content_hash, '-') || '|'"
        " || coalesce(error_reason, '-'), chr(10) ORDER BY path), '')"
        " FROM files WHERE list_contains(?, kind)",
        [sorted(kinds)],
    )
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(row[0][0]).encode())
    digest.update(json.dumps(state, sort_keys=True).encode())
    return digest.hexdigest()


def params_of(options: ScanOptions) -> dict[str, object]:
    """The scan options as plain data, for the audit history."""
    data = asdict(options)
    data["fmt"] = str(options.fmt)
    data["limits"] = options.limits.model_dump()
    return data


__all__ = ["ScanOptions", "ScanResult", "params_of", "scan"]
