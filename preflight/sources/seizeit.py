"""Reader for SeizeIT1 (KU Leuven, raw release) annotations: ``P_IDnn_rN_a1.tsv``.

One folder per patient, ``P_IDnn/P_IDnn_rN.edf`` with the seizures of annotator 1 beside it as
``P_IDnn_rN_a1.tsv`` (see FORMATS.md, "SeizeIT1")::

    # Source: SeizeIt1
    # Subject: P_ID64
    # Recording: r2
    # ... seizure-type and origin legends

    1949	1980	FIA	Hem:L, Orig:Temp, bhe: 0

Lines starting with ``#`` are the header; blank lines are skipped; every other line is one seizure:
``start<TAB>stop<TAB>type[<TAB>comments]``, in seconds from the file start. A recording without
seizures has a header and no rows.

Choices where the format says nothing:

- Every row is a seizure (positive); its type must be one of ``SEIZURE_TYPES``, else the row is
  ``unknown_label`` and the file rejected with the line (a type preflight does not know could be
  a background class: counting it either way would be a guess).
- A row without a stop time (empty field: 12 seizures of the release) gets ``DEFAULT_DURATION_S``
  (30 s) and confidence ``LOW_CONFIDENCE`` (0.5), as the SzCORE converter does, and a
  ``default_duration`` note on the recording; the confidence is kept in the manifest's events.
- The file gives no recording duration: a labels-only audit rejects it as ``no_duration``.
- The key is the file name without ``_aN.tsv`` (``P_ID10_r1``), matching ``P_ID10_r1.edf``; the
  patient is ``P_IDnn``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path, PurePath

from preflight.errors import AnnotationError, Reason
from preflight.sources.errata import SZCORE
from preflight.sources.records import AnnotationFileResult, Event, Note, RecordingAnnotations
from preflight.sources.text import read_lines

__all__ = [
    "DEFAULT_DURATION_S",
    "LOW_CONFIDENCE",
    "READER_NAME",
    "READER_VERSION",
    "SEIZURE_TYPES",
    "is_annotation_name",
    "patient_from_name",
    "read_annotations",
]

READER_NAME = "seizeit-tsv"
READER_VERSION = "1"
# FIA focal impaired awareness, FA focal aware, F-BTC focal to bilateral tonic-clonic.
SEIZURE_TYPES = frozenset({"FIA", "FA", "F-BTC"})
DEFAULT_DURATION_S = 30.0
LOW_CONFIDENCE = 0.5

_NAME = re.compile(r"(p_id\d+_r\d+)_a\d+\.tsv", re.IGNORECASE)
_PATIENT = re.compile(r"p_id\d+", re.IGNORECASE)


def is_annotation_name(name: str) -> bool:
    """Whether a file name is a SeizeIT1 annotation file (``P_ID10_r1_a1.tsv``)."""
    return _NAME.fullmatch(name) is not None


def patient_from_name(name: str | PurePath) -> str:
    """The SeizeIT1 patient of a file name or key (``P_ID10_r1_a1.tsv`` -> ``P_ID10``).

    Raises:
        AnnotationError: ``unsupported`` when the name does not start with ``P_IDnn``.
    """
    base = PurePath(name).name
    match = _PATIENT.match(base)
    if match is None:
        raise AnnotationError(
            f"file name {base!r} does not start with a SeizeIT patient (P_IDnn)",
            reason=Reason.UNSUPPORTED,
            path=str(name),
        )
    return "P_ID" + match.group(0)[4:]


def read_annotations(path: str | Path) -> AnnotationFileResult:
    """Read a SeizeIT1 ``P_IDnn_rN_aK.tsv``: one recording, one event per seizure row.

    Args:
        path: the annotation file.

    Returns:
        One ``RecordingAnnotations`` (no duration: the file gives none), its events labelled with
        the seizure type, in seconds from the file start.

    Raises:
        AnnotationError: ``unreadable``, ``empty_file``, ``undecodable``; ``bad_format`` for a
            row that is not ``start<TAB>stop<TAB>type``; ``bad_interval`` for a negative start or
            a stop not after its start; ``unknown_label`` for a type outside ``SEIZURE_TYPES``.
    """
    path = Path(path)
    match = _NAME.fullmatch(path.name)
    key = match.group(1) if match else path.stem
    events: list[Event] = []
    notes: list[Note] = []
    for lineno, text in enumerate(read_lines(path), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        event, defaulted = _row(text, path, lineno)
        if defaulted:
            notes.append(
                Note(
                    "default_duration",
                    f"seizure at {event.start:g} s has no stop time: given {DEFAULT_DURATION_S:g} s"
                    f" and confidence {LOW_CONFIDENCE:g}",
                    lineno,
                    SZCORE,
                )
            )
        events.append(event)
    recording = RecordingAnnotations(
        key=key, events=tuple(events), edf_name=f"{key}.edf", notes=tuple(notes)
    )
    return AnnotationFileResult(reader=READER_NAME, recordings=(recording,))


def _row(text: str, path: Path, line: int) -> tuple[Event, bool]:
    """The row's seizure, and whether its stop time was missing (and defaulted)."""
    fields = [field.strip() for field in text.split("\t")]
    if len(fields) < 3:
        raise AnnotationError(
            f"row {text.strip()!r} has {len(fields)} tab-separated field(s)"
            " (needs start, stop, type[, comments])",
            reason=Reason.BAD_FORMAT,
            path=path,
            line=line,
        )
    start = _seconds(fields[0], "start", path, line)
    label = fields[2]
    if label not in SEIZURE_TYPES:
        raise AnnotationError(
            f"unknown seizure type {label!r} (expected one of: {', '.join(sorted(SEIZURE_TYPES))})",
            reason=Reason.UNKNOWN_LABEL,
            path=path,
            line=line,
        )
    if not fields[1]:
        stop, confidence = start + DEFAULT_DURATION_S, LOW_CONFIDENCE
    else:
        stop, confidence = _seconds(fields[1], "stop", path, line), None
    if start < 0 or stop <= start:
        raise AnnotationError(
            f"seizure stop {stop:g} s <= start {start:g} s"
            if start >= 0
            else f"seizure start {start:g} s is negative",
            reason=Reason.BAD_INTERVAL,
            path=path,
            line=line,
        )
    event = Event(start, stop, label, positive=True, confidence=confidence, line=line)
    return event, confidence is not None


def _seconds(text: str, what: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        if not text:
            raise AnnotationError(
                f"seizure {what} time is empty", reason=Reason.BAD_FORMAT, path=path, line=line
            ) from None
        raise AnnotationError(
            f"seizure {what} time {text!r} is not a number of seconds",
            reason=Reason.BAD_FORMAT,
            path=path,
            line=line,
        ) from None
    if not math.isfinite(value):
        raise AnnotationError(
            f"seizure {what} time {text!r} is not finite",
            reason=Reason.BAD_INTERVAL,
            path=path,
            line=line,
        )
    return value
