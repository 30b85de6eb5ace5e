"""The Parquet scan: a folder of Parquet tables into the manifest, a file per recording.

For Parquet, **a file is a recording and a row is a window** (see ``parquet_derive`` for the
mapping onto the manifest's tables). The scan is incremental like the EEG scan: a file whose size
and mtime match the cache (and whose cache was made with the same options) is not opened; a new or
changed file has its footer read and its label, group and split columns counted
(``parquet_read``), never its samples. The parse cache of Parquet sources is three tables of
exact counts, never a row per sample:

* ``files``: one row per file (kind ``parquet``, content hash = ``sources.parquet.content_hash``,
  or why the whole file was rejected), shared with the EEG scan;
* ``parquet_files``: per usable file, its rows and positive rows, its label column's type (so
  training reads labels in batches of one type), its group when constant, its split value from a
  split column;
* ``parquet_groups``: per usable file and group value, the number of rows and of positive rows.

A manifest written by the earlier layout (a label bitmap per file) has its Parquet cache dropped
and every file read again (the reader version changed too).

The derived tables are rebuilt only when the fingerprint (every file's content hash or
rejection, plus the options) changed, all in one transaction.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pyarrow as pa

from preflight.errors import Reason
from preflight.manifest import cache_tables
from preflight.manifest.store import Manifest
from preflight.scanning.discover import dangling_link, is_utf8, printable, undecodable_name
from preflight.scanning.parquet_derive import derive_tables
from preflight.scanning.parquet_read import FileRead, Found, ReadResult, read_tables
from preflight.scanning.scan import ScanResult, finish_scan
from preflight.sources import parquet as pqs
from preflight.sources.parquet import LabelClass, ParquetOptions

__all__ = ["discover_tables", "is_parquet_corpus", "scan_parquet"]

_Walked = tuple[list[Found], list[tuple[str, Reason, str]], int]


def scan_parquet(root: str | Path, manifest: Manifest, options: ParquetOptions) -> ScanResult:
    """Bring ``manifest`` up to date with the Parquet tables under ``root``.

    Files are read first (on a private DuckDB connection); the manifest is then updated in one
    transaction, so a scan that fails leaves it as it was.

    Args:
        root: the data root folder.
        manifest: an open, writable manifest.
        options: label column and mapping, group and split columns, file pattern.

    Returns:
        Counts of files read, reused and deleted, and whether derived tables were rebuilt.
    """
    t0 = time.perf_counter()
    root = Path(root)
    found, problems, ignored = discover_tables(root, options.file_pattern)
    version = f"{pqs.READER_VERSION}+{options.digest()}"
    cache_tables.create_parquet_cache(manifest)
    cached = cache_tables.cached_files(manifest, kind=pqs.KIND)
    to_read = [f for f in found if cached.get(f.rel) != (f.size, f.mtime_ns, version)]
    present = {f.rel for f in found}
    deleted = sorted(p for p in cached if p not in present)
    read = read_tables(str(root), to_read, options)
    with manifest.transaction():
        stale = [f.rel for f in to_read if f.rel in cached]
        cache_tables.forget_parquet_files(manifest, deleted + stale, kind=pqs.KIND)
        _store(manifest, read, version, options.label_column)
        state = _state(options, problems)
        fingerprint = _fingerprint(manifest, state)
        rebuilt = finish_scan(
            manifest, fingerprint, state, lambda: derive_tables(manifest, problems)
        )
        manifest.set_meta({"parquet_root": str(root.resolve())})
    return ScanResult(
        root=str(root.resolve()),
        files=len(found),
        read=len(to_read),
        reused=len(found) - len(to_read),
        deleted=len(deleted),
        ignored=ignored,
        rebuilt=rebuilt,
        fingerprint=fingerprint,
        seconds=time.perf_counter() - t0,
    )


def is_parquet_corpus(root: str | Path, options: ParquetOptions | None = None) -> bool:
    """True when ``root`` holds at least one file matching the Parquet file pattern."""
    pattern = (options or ParquetOptions()).file_pattern
    for _folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(fnmatch.fnmatchcase(n, pattern) for n in names):
            return True
    return False


def discover_tables(root: Path, pattern: str) -> _Walked:
    """The files under ``root`` whose names match ``pattern``, sorted by path.

    Hidden folders (such as the manifest's ``.preflight``) are skipped; symlinked folders are
    followed once. Returns the files, the folders or files that could not be listed or stat'ed
    (rel path, reason, message), and the number of other files (ignored).
    """
    found: list[Found] = []
    problems: list[tuple[str, Reason, str]] = []
    ignored = 0
    seen: set[tuple[int, int]] = set()

    def unlisted(exc: OSError) -> None:
        rel = os.path.relpath(str(exc.filename), root) if exc.filename else "."
        problems.append((Path(rel).as_posix(), Reason.UNREADABLE, f"cannot list: {exc.strerror}"))

    for folder, dirs, names in os.walk(root, onerror=unlisted, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop: do not descend again
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        rel_folder = Path(os.path.relpath(folder, root)).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        visible = sorted(d for d in dirs if not d.startswith("."))
        problems += [undecodable_name(prefix + d, "folder") for d in visible if not is_utf8(d)]
        dirs[:] = [d for d in visible if is_utf8(d)]
        for name in names:
            if not fnmatch.fnmatchcase(name, pattern):
                dangling = None if name.startswith(".") else dangling_link(f"{folder}/{name}")
                if dangling is not None:
                    problems.append((printable(prefix + name), Reason.UNREADABLE, dangling))
                else:
                    ignored += 1
                continue
            if not is_utf8(name):  # cannot be stored, printed or handed to pyarrow as text
                problems.append(undecodable_name(prefix + name, "file"))
                continue
            try:
                st = os.stat(os.path.join(folder, name))
            except OSError as exc:
                problems.append((prefix + name, Reason.UNREADABLE, f"cannot stat: {exc.strerror}"))
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO would block the reader forever
                problems.append((prefix + name, Reason.UNREADABLE, "not a regular file: not read"))
                continue
            found.append(Found(prefix + name, st.st_size, st.st_mtime_ns))
    found.sort(key=lambda f: f.rel)
    return found, problems, ignored


def _store(m: Manifest, read: ReadResult, version: str, label_column: str) -> None:
    """Write the files just read, their statistics and group counts into the cache tables."""
    if not read.files:
        return
    m.insert("files", _file_rows(read.files, version))
    ok = [fr for fr in read.files if fr.ok]
    if not ok:
        return
    base = cache_tables.next_parquet_file_id(m)
    m.insert(
        "parquet_files",
        {
            "path": [fr.found.rel for fr in ok],
            "file_id": [base + fr.index for fr in ok],
            "n_rows": [fr.n_rows for fr in ok],
            "n_positive": [fr.n_positive for fr in ok],
            "label_type": [fr.types[label_column] for fr in ok],
            "group_value": [fr.group_value for fr in ok],
            "split_value": [fr.split_value for fr in ok],
        },
    )
    usable = pa.table({"f": pa.array([fr.index for fr in ok], pa.int32())})
    cache_tables.insert_parquet_groups(m, read.groups, usable, base)


def _file_rows(files: list[FileRead], version: str) -> dict[str, list[object]]:
    """``files`` table rows: the footer hash, or the first problem's reason and every message."""
    cols: dict[str, list[object]] = {
        c: []
        for c in (
            "path", "kind", "size", "mtime_ns", "content_hash", "reader", "reader_version",
            "error_reason", "error_message", "error_line",
        )
    }  # fmt: skip
    for fr in files:
        problem = fr.problems[0] if fr.problems else None
        row = (
            fr.found.rel, pqs.KIND, fr.found.size, fr.found.mtime_ns,
            fr.content_hash, pqs.READER_NAME, version,
            None if problem is None else str(problem.reason),
            None if problem is None else "; ".join(p.message for p in fr.problems), None,
        )  # fmt: skip
        for col, value in zip(cols, row, strict=True):
            cols[col].append(value)
    return cols


def _state(options: ParquetOptions, problems: list[tuple[str, Reason, str]]) -> dict[str, str]:
    """Provenance of the derived tables; a change in any value forces a rebuild."""
    positive = ", ".join(map(repr, options.values(LabelClass.POSITIVE)))
    return {
        "window_s": repr(1.0),
        "stride_s": repr(1.0),
        "min_overlap_s": repr(0.0),
        "overlap_rule": f"a row is a window; positive when {options.label_column} is {positive}",
        "format": pqs.KIND,
        "labels_only": "false",
        "kinds": pqs.KIND,
        "walk_problems": json.dumps(problems),
        "readers": json.dumps([f"{pqs.READER_NAME}/{pqs.READER_VERSION}"]),
        "parquet_options": options.model_dump_json(),
    }


def _fingerprint(m: Manifest, state: dict[str, str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(cache_tables.file_states_of_kind(m, pqs.KIND).encode())
    digest.update(json.dumps(state, sort_keys=True).encode())
    return digest.hexdigest()
