"""Reading input files in worker processes: the unit of parallel, incremental scanning.

``parse_file`` never raises for bad input: every ``InputError`` becomes data on the returned
``Parsed`` record, so one bad file cannot stop a scan of thousands. ``parse_chunk`` reads a list
of files and writes their cache-table rows as Parquet files that DuckDB bulk-loads: the parent
process never converts hundreds of thousands of rows in Python, it only counts finished chunks.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import posixpath
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from preflight.errors import InputError, Reason
from preflight.scanning.discover import Found, Kind
from preflight.sources import bids, chbmit, edf, edfplus, seizeit, siena, tusz
from preflight.sources.limits import ScanLimits, check_annotation_size
from preflight.sources.records import AnnotationFileResult, EdfHeader
from preflight.sources.text import open_regular

_ANNOTATION_READERS: dict[Kind, tuple[Callable[[str], AnnotationFileResult], str, str]] = {
    Kind.TUSZ_CSV: (tusz.read_csv, tusz.CSV_READER_NAME, tusz.READER_VERSION),
    Kind.TUSZ_TSE: (tusz.read_tse, tusz.TSE_READER_NAME, tusz.READER_VERSION),
    Kind.TUSZ_LBL: (tusz.read_lbl, tusz.LBL_READER_NAME, tusz.READER_VERSION),
    Kind.BIDS_EVENTS: (bids.read_events_tsv, bids.READER_NAME, bids.READER_VERSION),
    Kind.CHBMIT_SUMMARY: (chbmit.read_summary, chbmit.READER_NAME, chbmit.READER_VERSION),
    Kind.SIENA_LIST: (siena.read_seizure_list, siena.READER_NAME, siena.READER_VERSION),
    Kind.SEIZEIT_TSV: (seizeit.read_annotations, seizeit.READER_NAME, seizeit.READER_VERSION),
}
# Readers that apply the errata table (preflight.sources.errata) unless asked not to; without it
# they record another version, so toggling `--no-errata` re-reads exactly their files.
_ERRATA_KINDS = frozenset({Kind.SIENA_LIST})
RAW_SUFFIX = "+raw"

# Column order of the cache tables (see manifest/schema.py); the rows below follow it.
FILE_COLUMNS = (
    "path", "kind", "size", "mtime_ns", "content_hash", "reader", "reader_version",
    "error_reason", "error_message", "error_line",
)  # fmt: skip
HEADER_COLUMNS = (
    "path", "file_type", "n_records", "record_duration", "duration_s", "channels",
    "sampling_rates", "start_time", "patient_field", "n_annotation_signals", "header_bytes",
)  # fmt: skip
RECORDING_COLUMNS = (
    "source_path", "key", "per_channel", "duration_s", "start_time", "edf_name", "line",
    "lists_all_files", "problem_reason", "problem_message", "problem_line",
)  # fmt: skip
EVENT_COLUMNS = (
    "source_path", "key", "idx", "start_s", "stop_s", "label", "positive", "channel",
    "confidence", "line",
)  # fmt: skip
NOTE_COLUMNS = ("source_path", "key", "line", "code", "message", "origin")


def reader_of(kind: Kind, errata: bool = True) -> tuple[str, str]:
    """The (reader name, reader version) that owns files of ``kind``; a reader that applies
    the errata table reports ``<version>+raw`` when it reads without it."""
    if kind is Kind.EDF:
        return edf.READER_NAME, edf.READER_VERSION
    _, name, version = _ANNOTATION_READERS[kind]
    raw = not errata and kind in _ERRATA_KINDS
    return name, version + RAW_SUFFIX if raw else version


@dataclass(frozen=True, slots=True)
class Parsed:
    """What reading one file produced, as cache-table rows; picklable."""

    path: str
    file_row: tuple[Any, ...]
    header_row: tuple[Any, ...] | None = None
    recording_rows: list[tuple[Any, ...]] = field(default_factory=list)
    event_rows: list[tuple[Any, ...]] = field(default_factory=list)
    note_rows: list[tuple[Any, ...]] = field(default_factory=list)


def parse_file(
    root: str, found: Found, errata: bool = True, limits: ScanLimits | None = None
) -> Parsed:
    """Read one file under ``root``: its header or annotations, and its content hash.

    ``errata``: let the readers that know published errata apply them (see ``reader_of``).
    ``limits``: what an annotation file may weigh (``audit.limits``). Never raises: bad input, an
    unreadable file, an annotation file past the size limit and any unexpected exception
    (``internal_error``, a bug in preflight) become a rejection on the record, so one file
    cannot end the audit.
    """
    path = os.path.join(root, found.rel)
    name, version = reader_of(found.kind, errata)
    content_hash: str | None = None
    error: tuple[str | None, str | None, int | None] = (None, None, None)
    header: EdfHeader | None = None
    annotations: AnnotationFileResult | None = None
    too_large = None
    if found.kind is not Kind.EDF:
        too_large = check_annotation_size(found.size, limits or ScanLimits())
    try:
        if too_large is not None:
            error = (str(too_large[0]), too_large[1], None)
        elif found.kind is Kind.EDF:
            header = edf.read_header(path)
            content_hash = edf.content_fingerprint(path, header.header_bytes)
            stem = posixpath.splitext(posixpath.basename(found.rel))[0]
            annotations = edfplus.annotations_from_header(stem, header)
        else:
            content_hash = _hash_small_file(path)
            if found.kind in _ERRATA_KINDS:
                annotations = siena.read_seizure_list(path, errata=errata)
            else:
                reader, _, _ = _ANNOTATION_READERS[found.kind]
                annotations = reader(path)
    except InputError as exc:
        error = (str(exc.reason), exc.message, exc.line)
    except OSError as exc:
        error = (str(Reason.UNREADABLE), f"cannot read file: {exc.strerror or exc}", None)
    except Exception as exc:  # a bug must cost one file, not the audit
        header, annotations = None, None
        error = (str(Reason.INTERNAL_ERROR), _internal(exc), None)
    file_row = (
        found.rel, str(found.kind), found.size, found.mtime_ns, content_hash, name, version,
        *error,
    )  # fmt: skip
    out = Parsed(found.rel, file_row, _header_row(found.rel, header))
    if annotations is not None:
        try:
            _annotation_rows(found.rel, annotations, out)
        except Exception as exc:  # as above: one file, not the audit
            message = (
                f"preflight failed on this file ({type(exc).__name__}: {exc}); please report it"
            )
            return Parsed(found.rel, (*file_row[:7], str(Reason.INTERNAL_ERROR), message, None))
    return out


def _internal(exc: Exception) -> str:
    return f"preflight failed on this file ({type(exc).__name__}: {exc}); please report it"


def _header_row(rel: str, h: EdfHeader | None) -> tuple[Any, ...] | None:
    if h is None:
        return None
    return (
        rel, h.file_type, h.n_records, h.record_duration, h.duration, list(h.labels),
        list(h.sampling_rates), h.start_time, h.patient, h.n_annotation_signals, h.header_bytes,
    )  # fmt: skip


def _annotation_rows(source: str, result: AnnotationFileResult, out: Parsed) -> None:
    every = result.lists_all_files
    for rec in result.recordings:
        out.recording_rows.append(
            (source, rec.key, rec.per_channel, rec.duration, rec.start_time, rec.edf_name,
             rec.line, every, None, None, None)
        )  # fmt: skip
        out.event_rows.extend(
            (source, rec.key, i, ev.start, ev.stop, ev.label, ev.positive, ev.channel,
             ev.confidence, ev.line)
            for i, ev in enumerate(rec.events)
        )  # fmt: skip
        out.note_rows.extend(
            (source, rec.key, n.line, n.code, n.message, n.origin) for n in rec.notes
        )
    for key, exc in result.problems:
        if isinstance(exc, InputError):
            reason, message, line = str(exc.reason), exc.message, exc.line
        else:
            reason, message, line = str(Reason.BAD_FORMAT), str(exc), None
        out.recording_rows.append(
            (source, key, None, None, None, None, line, every, reason, message, line)
        )


def parse_chunk(
    root: str,
    files: list[Found],
    out_dir: str,
    chunk: int,
    errata: bool = True,
    limits: ScanLimits | None = None,
) -> list[str]:
    """Read ``files`` and write their rows to ``<out_dir>/<table>-<chunk>.parquet``.

    Returns:
        The root-relative paths of the files read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
    for found in files:
        p = parse_file(root, found, errata, limits)
        tables["files"].append(p.file_row)
        if p.header_row is not None:
            tables["edf_headers"].append(p.header_row)
        tables["ann_recordings"].extend(p.recording_rows)
        tables["ann_events"].extend(p.event_rows)
        tables["ann_notes"].extend(p.note_rows)
    for name, rows in tables.items():
        if rows:
            schema = arrow_schema(name)
            columns = [list(col) for col in zip(*rows, strict=True)]
            table = pa.table(dict(zip(schema.names, columns, strict=True)), schema=schema)
            pq.write_table(table, os.path.join(out_dir, f"{name}-{chunk:06d}.parquet"))
    return [f.rel for f in files]


TABLES: dict[str, tuple[str, ...]] = {
    "files": FILE_COLUMNS,
    "edf_headers": HEADER_COLUMNS,
    "ann_recordings": RECORDING_COLUMNS,
    "ann_events": EVENT_COLUMNS,
    "ann_notes": NOTE_COLUMNS,
}


def arrow_schema(table: str) -> Any:
    """The Arrow schema of a cache table's rows (explicit, so all-null columns keep a type)."""
    import pyarrow as pa

    s, i32, i64, f64, b = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_()
    ts = pa.timestamp("us")
    types: dict[str, list[Any]] = {
        "files": [s, s, i64, i64, s, s, s, s, s, i32],
        "edf_headers": [s, s, i64, f64, f64, pa.list_(s), pa.list_(f64), ts, s, i32, i64],
        "ann_recordings": [s, s, b, f64, ts, s, i32, b, s, s, i32],
        "ann_events": [s, s, i32, f64, f64, s, b, s, f64, i32],
        "ann_notes": [s, s, i32, s, s, s],
    }
    return pa.schema(list(zip(TABLES[table], types[table], strict=True)))


def _hash_small_file(path: str) -> str:
    # Annotation files are small (kilobytes to a few megabytes): hash them whole. Only a regular
    # file: a FIFO named .csv_bi would block the scan, a link to /dev/zero never end.
    with os.fdopen(open_regular(path), "rb") as fh:
        return hashlib.file_digest(fh, "blake2b").hexdigest()[:32]


def preload() -> None:
    """Import what the readers and ``parse_chunk`` load on first use, before a pool forks: the
    workers inherit it instead of importing it each (an unchanged re-audit never needs it)."""
    import numpy  # noqa: F401  (the EDF header reader)
    import pyarrow.parquet  # noqa: F401  (the staging files)


def forked_pool(n: int) -> ProcessPoolExecutor:
    """``n`` forked worker processes (they start at once and inherit the imports made here)
    that die with this process: every pool of preflight's is made here (``worker_init``)."""
    return ProcessPoolExecutor(
        n, mp_context=multiprocessing.get_context("fork"), initializer=worker_init,
        initargs=(os.getpid(),),
    )  # fmt: skip


def worker_init(parent: int | None = None) -> None:
    """Set up a worker process of the scan's (or the cache builder's) pool.

    Keeps workers from oversubscribing the cores with library threads and, given the pid of
    the process that forked it, makes the worker die with that process: a forked worker holds
    the call queue's write end itself, so it would never see EOF and would sleep forever after
    a SIGKILLed audit.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Ctrl-C reaches the whole process group: the parent stops the pool and says so once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        _die_with(parent)


# linux/prctl.h: deliver a signal to this process when the thread that forked it exits.
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this process when ``parent`` dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the parent check below still closes the common case
    # The parent may have died between the fork and the prctl: then nothing will signal us.
    if os.getppid() != parent:
        os._exit(1)
