"""Reading one input file in a worker process: the unit of parallel, incremental scanning.

``parse_file`` never raises for bad input: every ``InputError`` becomes data on the returned
``Parsed`` record so one bad file cannot stop a scan of thousands.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from preflight.errors import InputError, Reason
from preflight.pipelines.discover import Found, Kind
from preflight.sources import bids, chbmit, edf, siena, tusz
from preflight.sources.records import AnnotationFileResult, EdfHeader

_ANNOTATION_READERS: dict[Kind, tuple[Callable[[Path], AnnotationFileResult], str, str]] = {
    Kind.TUSZ_CSV: (tusz.read_csv, tusz.CSV_READER_NAME, tusz.READER_VERSION),
    Kind.TUSZ_TSE: (tusz.read_tse, tusz.TSE_READER_NAME, tusz.READER_VERSION),
    Kind.TUSZ_LBL: (tusz.read_lbl, tusz.LBL_READER_NAME, tusz.READER_VERSION),
    Kind.BIDS_EVENTS: (bids.read_events_tsv, bids.READER_NAME, bids.READER_VERSION),
    Kind.CHBMIT_SUMMARY: (chbmit.read_summary, chbmit.READER_NAME, chbmit.READER_VERSION),
    Kind.SIENA_LIST: (siena.read_seizure_list, siena.READER_NAME, siena.READER_VERSION),
}


def reader_of(kind: Kind) -> tuple[str, str]:
    """The (reader name, reader version) that owns files of ``kind``."""
    if kind is Kind.EDF:
        return edf.READER_NAME, edf.READER_VERSION
    _, name, version = _ANNOTATION_READERS[kind]
    return name, version


@dataclass(frozen=True, slots=True)
class Parsed:
    """What reading one file produced; picklable, sent back from worker processes."""

    found: Found
    reader: str
    reader_version: str
    content_hash: str | None
    header: EdfHeader | None = None
    annotations: AnnotationFileResult | None = None
    error: tuple[Reason, str, int | None] | None = None  # (reason, message, line)


def parse_file(root: str, found: Found) -> Parsed:
    """Read one file under ``root``: its header or annotations, and its content hash."""
    path = Path(root, found.rel)
    name, version = reader_of(found.kind)
    content_hash: str | None = None
    try:
        if found.kind is Kind.EDF:
            header = edf.read_header(path)
            content_hash = edf.content_fingerprint(path, header.header_bytes)
            return Parsed(found, name, version, content_hash, header=header)
        content_hash = _hash_small_file(path)
        reader, _, _ = _ANNOTATION_READERS[found.kind]
        return Parsed(found, name, version, content_hash, annotations=reader(path))
    except InputError as exc:
        return Parsed(found, name, version, content_hash, error=_as_error(exc))
    except OSError as exc:
        reason = (Reason.UNREADABLE, f"cannot read file: {exc.strerror or exc}", None)
        return Parsed(found, name, version, content_hash, error=reason)


def _hash_small_file(path: Path) -> str:
    # Annotation files are small (kilobytes to a few megabytes): hash them whole.
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "blake2b").hexdigest()[:32]


def _as_error(exc: InputError) -> tuple[Reason, str, int | None]:
    return (exc.reason, exc.message, exc.line)


def worker_init() -> None:
    """Keep worker processes from oversubscribing the cores with library threads."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
