"""Writing parsed files into the manifest's parse cache, column-wise through Arrow."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Any

from preflight.errors import InputError
from preflight.manifest.store import Manifest
from preflight.pipelines.parse import Parsed
from preflight.sources import edfplus
from preflight.sources.records import AnnotationFileResult


def write_parsed(m: Manifest, parsed: list[Parsed]) -> None:
    """Insert the cache rows (files, headers, annotated recordings, events) of ``parsed``."""
    files: dict[str, list[Any]] = defaultdict(list)
    headers: dict[str, list[Any]] = defaultdict(list)
    recs: dict[str, list[Any]] = defaultdict(list)
    events: dict[str, list[Any]] = defaultdict(list)
    for p in parsed:
        reason, message, line = p.error if p.error else (None, None, None)
        _row(files, path=p.found.rel, kind=str(p.found.kind), size=p.found.size,
             mtime_ns=p.found.mtime_ns, content_hash=p.content_hash, reader=p.reader,
             reader_version=p.reader_version, error_reason=None if reason is None else str(reason),
             error_message=message, error_line=line)  # fmt: skip
        annotations = p.annotations
        if p.header is not None:
            h = p.header
            _row(headers, path=p.found.rel, file_type=h.file_type, n_records=h.n_records,
                 record_duration=h.record_duration, duration_s=h.duration, channels=list(h.labels),
                 sampling_rates=list(h.sampling_rates), start_time=h.start_time,
                 patient_field=h.patient, n_annotation_signals=h.n_annotation_signals,
                 header_bytes=h.header_bytes)  # fmt: skip
            stem = posixpath.splitext(posixpath.basename(p.found.rel))[0]
            annotations = edfplus.annotations_from_header(stem, h)
        if annotations is not None:
            _annotation_rows(p.found.rel, annotations, recs, events)
    m.insert("files", files)
    m.insert("edf_headers", headers)
    m.insert("ann_recordings", recs)
    m.insert("ann_events", events)


def _row(table: dict[str, list[Any]], **values: Any) -> None:
    for key, value in values.items():
        table[key].append(value)


def _annotation_rows(
    source: str,
    result: AnnotationFileResult,
    recs: dict[str, list[Any]],
    events: dict[str, list[Any]],
) -> None:
    for rec in result.recordings:
        _row(recs, source_path=source, key=rec.key, per_channel=rec.per_channel,
             duration_s=rec.duration, start_time=rec.start_time, edf_name=rec.edf_name,
             line=rec.line, lists_all_files=result.lists_all_files, problem_reason=None,
             problem_message=None, problem_line=None)  # fmt: skip
        for idx, ev in enumerate(rec.events):
            _row(events, source_path=source, key=rec.key, idx=idx, start_s=ev.start,
                 stop_s=ev.stop, label=ev.label, positive=ev.positive, channel=ev.channel,
                 confidence=ev.confidence, line=ev.line)  # fmt: skip
    for key, exc in result.problems:
        reason = exc.reason if isinstance(exc, InputError) else "bad_format"
        message = exc.message if isinstance(exc, InputError) else str(exc)
        line = exc.line if isinstance(exc, InputError) else None
        _row(recs, source_path=source, key=key, per_channel=None, duration_s=None,
             start_time=None, edf_name=None, line=line, lists_all_files=result.lists_all_files,
             problem_reason=str(reason), problem_message=message, problem_line=line)  # fmt: skip
