"""Reader for BIDS-EEG seizure ``events.tsv`` files (SzCORE / HED-SCORE convention) and names.

One file describes one recording, ``<key>_events.tsv`` beside ``<key>_eeg.edf``: tab-separated,
onset and duration in seconds, ``eventType`` either ``bckg`` or a HED-SCORE seizure type, and the
recording's own ``dateTime`` and ``recordingDuration`` repeated on every row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import TypeVar

from preflight.errors import AnnotationError, Reason
from preflight.sources.hed_score import HED_SCORE_BACKGROUND, HED_SCORE_SEIZURE
from preflight.sources.records import AnnotationFileResult, Event, RecordingAnnotations
from preflight.sources.text import read_lines

__all__ = [
    "COLUMNS",
    "READER_NAME",
    "READER_VERSION",
    "BidsLayout",
    "parse_bids_path",
    "read_events_tsv",
]

# Provenance: the manifest records which reader (and which version of it) parsed each file.
READER_NAME = "bids-events"
READER_VERSION = "1"  # bump when the reader returns something different for the same file

# The required columns. BIDS lets a dataset add columns of its own, so extra columns anywhere are
# accepted and ignored; a missing or repeated required column is `bad_format`.
COLUMNS = (
    "onset",
    "duration",
    "eventType",
    "confidence",
    "channels",
    "dateTime",
    "recordingDuration",
)

# onset, duration and recordingDuration are each written `%.2f`: onset + duration can pass the
# written recordingDuration by up to 0.015 s through rounding alone. 0.02 s absorbs that.
DURATION_TOLERANCE = 0.02

_NA = "n/a"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Row:
    event: Event
    duration: float | None  # the row's recordingDuration
    start_time: datetime | None  # the row's dateTime


def read_events_tsv(path: str | Path) -> AnnotationFileResult:
    """Read a BIDS-EEG ``events.tsv`` seizure annotation file.

    Args:
        path: the file, normally ``<key>_events.tsv``.

    Returns:
        One recording keyed by the file stem without ``_events``, with ``edf_name``
        ``<key>_eeg.edf`` (None when the file name has no ``_events`` suffix), ``duration`` from
        ``recordingDuration`` and ``start_time`` from ``dateTime`` (None when every row says
        ``n/a``). Events are recording-level (``per_channel=False``); an event's ``channel`` is
        the ``channels`` cell as written, None for ``n/a``. A header without rows gives no events.

    Raises:
        AnnotationError: ``bad_format`` (header, field count, non-number, rows disagreeing on
            ``recordingDuration`` or ``dateTime``), ``bad_interval``, ``out_of_range``,
            ``unknown_label``, each with the line; ``empty_file``, ``undecodable``.
    """
    path = Path(path)
    lines = read_lines(path)
    columns, width = _header(lines[0], path=path)
    rows: list[_Row] = []
    for index in range(1, len(lines)):
        if lines[index].strip():
            rows.append(_row(lines[index], columns, width, path=path, line=index + 1))
    duration = _agreed(rows, "recordingDuration", lambda row: row.duration, path=path)
    start_time = _agreed(rows, "dateTime", lambda row: row.start_time, path=path)
    for row in rows:
        if duration is not None and row.event.stop > duration + DURATION_TOLERANCE:
            raise AnnotationError(
                f"event end {row.event.stop:.2f} (onset + duration) > recordingDuration "
                f"{duration} (tolerance {DURATION_TOLERANCE} s)",
                reason=Reason.OUT_OF_RANGE,
                path=path,
                line=row.event.line,
            )
    key, has_suffix = _strip_suffix(path.stem, "_events")
    recording = RecordingAnnotations(
        key=key,
        events=tuple(row.event for row in rows),
        per_channel=False,
        duration=duration,
        start_time=start_time,
        edf_name=f"{key}_eeg.edf" if has_suffix else None,
    )
    return AnnotationFileResult(reader=READER_NAME, recordings=(recording,))


@dataclass(frozen=True, slots=True)
class BidsLayout:
    """BIDS entities read from an ``_events.tsv`` or ``_eeg.edf`` file name.

    Entities are kept as written, prefix included, so they stay unambiguous in reports.

    Attributes:
        subject: the subject, ``sub-01``; the patient of the recording.
        session: ``ses-01``, or None.
        task: ``task-szMonitoring``, or None.
        run: ``run-00``, or None.
        key: the recording key, the same for a recording and its events
            (``sub-01_ses-01_task-szMonitoring_run-00``).
    """

    subject: str
    session: str | None
    task: str | None
    run: str | None
    key: str


_ENTITY = re.compile(r"[a-z]+-[A-Za-z0-9]+")
# BIDS suffix -> extensions of the files preflight pairs.
_BIDS_FILES = {"events": (".tsv",), "eeg": (".edf", ".bdf")}


def parse_bids_path(path: str | PurePath) -> BidsLayout | None:
    """Read subject, session, task and run from a BIDS ``_events.tsv`` or ``_eeg.edf`` path.

    Args:
        path: the file path; the file need not exist. Only the file name is read.

    Returns:
        The layout, or None when the name is not ``sub-<label>[_<entity>-<label>...]_events.tsv``
        or ``..._eeg.edf`` / ``.bdf``.
    """
    pure = PurePath(path)
    *entities, suffix = pure.stem.split("_")
    if pure.suffix.lower() not in _BIDS_FILES.get(suffix, ()):
        return None
    if not entities or not entities[0].startswith("sub-"):
        return None
    if not all(_ENTITY.fullmatch(entity) for entity in entities):
        return None
    found = {entity.split("-", 1)[0]: entity for entity in entities}
    return BidsLayout(
        subject=entities[0],
        session=found.get("ses"),
        task=found.get("task"),
        run=found.get("run"),
        key="_".join(entities),
    )


def _header(text: str, *, path: Path) -> tuple[dict[str, int], int]:
    """Map each required column to its position (extra columns are ignored); count columns."""
    names = [name.strip() for name in text.split("\t")]
    hint = "" if "\t" in text else " (columns must be tab-separated)"
    for name in COLUMNS:
        count = names.count(name)
        if count != 1:
            problem = "lacks" if count == 0 else f"repeats ({count} times)"
            raise _bad_format(
                f"header {problem} column {name!r}; required: {', '.join(COLUMNS)}{hint}",
                path=path,
                line=1,
            )
    return {name: names.index(name) for name in COLUMNS}, len(names)


def _row(text: str, columns: dict[str, int], width: int, *, path: Path, line: int) -> _Row:
    fields = [field.strip() for field in text.split("\t")]
    if len(fields) != width:
        raise _bad_format(
            f"expected {width} tab-separated fields (one per header column), found {len(fields)}",
            path=path,
            line=line,
        )
    cell = {name: fields[position] for name, position in columns.items()}
    for name, value in cell.items():
        if not value:
            raise _bad_format(f"{name} is empty (BIDS writes n/a)", path=path, line=line)
    onset = _number(cell["onset"], "onset", path=path, line=line)
    length = _number(cell["duration"], "duration", path=path, line=line)
    _check_interval(onset, length, path=path, line=line)
    label = cell["eventType"]
    event = Event(
        start=onset,
        stop=round(onset + length, 6),  # 36.89 + 200.32 is 237.20999999999998 in binary
        label=label,
        positive=_is_positive(label, path=path, line=line),
        channel=None if cell["channels"] == _NA else cell["channels"],
        confidence=_optional_number(cell["confidence"], "confidence", path=path, line=line),
        line=line,
    )
    duration = _optional_number(
        cell["recordingDuration"], "recordingDuration", path=path, line=line
    )
    if duration is not None and duration <= 0:
        raise _bad_format(f"recordingDuration {duration} is not positive", path=path, line=line)
    return _Row(event, duration, _date_time(cell["dateTime"], path=path, line=line))


def _is_positive(label: str, *, path: Path, line: int) -> bool:
    if label == HED_SCORE_BACKGROUND:
        return False
    if label in HED_SCORE_SEIZURE:
        return True
    raise AnnotationError(
        f"unknown eventType {label!r} (expected {HED_SCORE_BACKGROUND!r} or a HED-SCORE seizure "
        f"type such as 'sz', 'sz_foc_ia', 'sz_gen_m_tonicClonic'; "
        f"{len(HED_SCORE_SEIZURE)} in preflight.sources.hed_score)",
        reason=Reason.UNKNOWN_LABEL,
        path=path,
        line=line,
    )


def _check_interval(onset: float, length: float, *, path: Path, line: int) -> None:
    if not (math.isfinite(onset) and math.isfinite(length)):
        message = f"onset {onset} and duration {length} must be finite"
    elif onset < 0:
        message = f"onset {onset} < 0"
    elif length <= 0:
        message = f"duration {length} <= 0 (onset {onset})"
    elif not math.isfinite(onset + length):
        message = f"onset {onset} + duration {length} overflows"
    else:
        return
    raise AnnotationError(message, reason=Reason.BAD_INTERVAL, path=path, line=line)


def _agreed(
    rows: list[_Row], column: str, value_of: Callable[[_Row], _T | None], *, path: Path
) -> _T | None:
    """The one value every row gives for a recording-level column (``n/a`` rows abstain)."""
    agreed: tuple[_T, int] | None = None
    for row in rows:
        value = value_of(row)
        if value is None:
            continue
        if agreed is None:
            agreed = (value, row.event.line or 0)
        elif value != agreed[0]:
            raise _bad_format(
                f"{column} {value} differs from {agreed[0]} on line {agreed[1]} "
                f"(one recording per file)",
                path=path,
                line=row.event.line,
            )
    return None if agreed is None else agreed[0]


def _date_time(text: str, *, path: Path, line: int) -> datetime | None:
    """Parse ``dateTime`` (``2000-01-01 00:00:00``, ISO 8601 accepted), ``n/a`` -> None.

    A time-zone offset is dropped: the clock time as written is the recording's local start,
    which is how EDF headers give it too.
    """
    if text == _NA:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise _bad_format(
            f"dateTime {text!r} is not 'YYYY-MM-DD HH:MM:SS' or n/a", path=path, line=line
        ) from None


def _optional_number(text: str, what: str, *, path: Path, line: int) -> float | None:
    if text == _NA:
        return None
    value = _number(text, what, path=path, line=line)
    if not math.isfinite(value):
        raise _bad_format(f"{what} {text!r} is not a finite number", path=path, line=line)
    return value


def _number(text: str, what: str, *, path: Path, line: int) -> float:
    """Parse a number; ``nan``/``inf`` pass through for the interval check to reject."""
    try:
        if "_" in text:  # float() accepts `1_000`; no annotation writer does
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise _bad_format(f"{what} {text!r} is not a number", path=path, line=line) from None


def _strip_suffix(stem: str, suffix: str) -> tuple[str, bool]:
    if stem.endswith(suffix) and len(stem) > len(suffix):
        return stem[: -len(suffix)], True
    return stem, False


def _bad_format(message: str, *, path: Path, line: int | None) -> AnnotationError:
    return AnnotationError(message, reason=Reason.BAD_FORMAT, path=path, line=line)
