"""Readers for Temple University Seizure Corpus (TUSZ) annotation files, and its folder layout.

v2.x writes ``.csv_bi`` (term-based: one ``TERM`` row per event) and ``.csv`` (per channel: one row
per TCP montage pair and event) under a ``#`` header that declares the duration. The reader returns
one ``RecordingAnnotations`` keyed by the file stem, or raises ``AnnotationError`` with a reason
code and the 1-based line. The v1.5 readers (``.tse``, ``.lbl``) live in ``tusz_v15`` and are
re-exported here, so ``READERS`` dispatches every TUSZ extension.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from preflight.errors import AnnotationError, Reason
from preflight.sources._tusz_fields import (
    READER_VERSION,
    bad_format,
    check_interval,
    parse_confidence,
    parse_number,
    unknown_label,
)
from preflight.sources.labels import tusz_is_positive
from preflight.sources.records import AnnotationFileResult, Event, RecordingAnnotations
from preflight.sources.text import read_lines
from preflight.sources.tusz_v15 import LBL_READER_NAME, TSE_READER_NAME, read_lbl, read_tse

__all__ = [
    "CSV_READER_NAME",
    "LBL_READER_NAME",
    "READERS",
    "READER_VERSION",
    "TSE_READER_NAME",
    "TuszLayout",
    "parse_tusz_path",
    "read_csv",
    "read_lbl",
    "read_tse",
]

# Provenance: the manifest records which reader (and which version of it) parsed each file.
# READER_VERSION covers every TUSZ reader, v2 and v1.5 alike.
CSV_READER_NAME = "tusz-csv"

# `# duration` is written with 2 decimals and event times with 4: a stop time rounded up can pass
# the rounded-down duration by 0.005 s. 0.01 s absorbs that and float noise, and nothing more.
DURATION_TOLERANCE = 0.01

_CSV_COLUMNS = ("channel", "start_time", "stop_time", "label", "confidence")
_TERM = "TERM"
_DURATION = re.compile(r"(?P<seconds>\d+(?:\.\d*)?|\.\d+)\s*(?:secs?|s)?", re.IGNORECASE)


def read_csv(path: str | Path) -> AnnotationFileResult:
    """Read a TUSZ v2 ``.csv_bi`` (term-based) or ``.csv`` (per-channel) annotation file.

    The recording key is the file stem; the ``# bname`` header is not trusted for it, since
    renamed copies keep their old ``bname``.

    Args:
        path: the ``.csv_bi`` or ``.csv`` file; the extension decides term-based or per-channel.

    Returns:
        One recording with the ``# duration`` (None if the header has none) and the events, ``bckg``
        rows included with ``positive=False``. A header without event rows gives zero events.

    Raises:
        AnnotationError: ``unsupported`` for another extension; ``bad_format``, ``bad_interval``,
            ``out_of_range`` or ``unknown_label`` with the line; ``empty_file``, ``undecodable``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".csv_bi"):
        raise AnnotationError(
            f"extension {path.suffix!r} is neither .csv nor .csv_bi",
            reason=Reason.UNSUPPORTED,
            path=path,
        )
    per_channel = suffix == ".csv"
    lines = read_lines(path)
    header, first_row = _csv_header(lines, path)
    duration = _csv_duration(header, path)
    events: list[Event] = []
    for index in range(first_row, len(lines)):
        text = lines[index].strip()
        if text and not text.startswith("#"):  # blank and comment lines carry nothing
            event = _fast_csv_event(text, index + 1, per_channel) or _csv_event(
                text, path=path, line=index + 1, per_channel=per_channel
            )
            _check_in_range(event, duration, path=path)
            events.append(event)
    recording = RecordingAnnotations(
        key=path.stem,
        events=tuple(events),
        per_channel=per_channel,
        duration=None if duration is None else duration[0],
    )
    return AnnotationFileResult(reader=CSV_READER_NAME, recordings=(recording,))


# Extension (lower-case) -> reader, for callers that dispatch on the file name.
READERS: dict[str, Callable[[str | Path], AnnotationFileResult]] = {
    ".csv_bi": read_csv,
    ".csv": read_csv,
    ".tse_bi": read_tse,
    ".tse": read_tse,
    ".lbl_bi": read_lbl,
    ".lbl": read_lbl,
}


@dataclass(frozen=True, slots=True)
class TuszLayout:
    """Where a TUSZ file sits in the corpus, read from its path.

    Attributes:
        split: the corpus's own split folder (``train``, ``dev``, ``eval``; v1.5 ``dev_test``) as
            written, or None when the path holds no split folder.
        patient: ``aaaaapks`` (v2, 8 letters) or ``00000258`` (v1.5, 8 digits).
        session: the session id, ``s001``.
        montage: the montage folder (``01_tcp_ar``, ``02_tcp_le``, ``03_tcp_ar_a``), or None.
        key: the recording key, the file name without extension (``aaaaapks_s001_t000``).
    """

    split: str | None
    patient: str
    session: str
    montage: str | None
    key: str


_TUSZ_STEM = re.compile(r"(?P<patient>[a-z]{8}|\d{8})_(?P<session>s\d{3})_t\d{3}")
_MONTAGE = re.compile(r"\d{2}_tcp_[a-z]+(?:_[a-z]+)*")
_SPLITS = frozenset({"train", "dev", "eval", "dev_test"})


def parse_tusz_path(path: str | PurePath) -> TuszLayout | None:
    """Read split, patient, session and montage from a TUSZ file path.

    Works on absolute paths and on paths relative to any folder of the corpus (the root, ``edf/``,
    ``edf/train`` ...): the file name gives patient, session and key; the nearest folder named like
    a split and the nearest named like a montage give the rest. v2
    (``edf/train/aaaaapks/s001_2008/01_tcp_ar/aaaaapks_s001_t000.edf``) and v1.5
    (``edf/dev_test/01_tcp_ar/002/00000258/s002_2003_07_21/00000258_s002_t000.edf``) both parse.

    Args:
        path: a recording or annotation file path; the file need not exist.

    Returns:
        The layout, or None when the file name is not ``<patient>_sNNN_tNNN.<ext>``.
    """
    pure = PurePath(path)
    match = _TUSZ_STEM.fullmatch(pure.stem)
    if match is None or not pure.suffix:
        return None
    folders = pure.parts[:-1][::-1]  # nearest folder first
    split = next((part for part in folders if part in _SPLITS), None)
    montage = next((part for part in folders if _MONTAGE.fullmatch(part)), None)
    return TuszLayout(split, match["patient"], match["session"], montage, pure.stem)


def _csv_header(lines: list[str], path: Path) -> tuple[dict[str, tuple[str, int]], int]:
    """Parse the ``# key = value`` lines and the column header; return keys and first row index."""
    header: dict[str, tuple[str, int]] = {}
    for index, raw in enumerate(lines):
        text = raw.strip()
        if not text:
            continue
        if text.startswith("#"):
            key, equals, value = text[1:].partition("=")
            if equals:  # the bare `#` line and free comments carry no key
                name, said = key.strip().lower(), value.strip()
                if name in header and header[name][0] != said:
                    first, first_line = header[name]
                    raise bad_format(
                        f"a second '# {name}' line says {said!r}; line {first_line} said "
                        f"{first!r}: which one is meant?",
                        path=path,
                        line=index + 1,
                    )
                header.setdefault(name, (said, index + 1))
            continue
        columns = [column.strip().lower() for column in text.split(",")]
        if tuple(columns) != _CSV_COLUMNS:
            missing = [column for column in _CSV_COLUMNS if column not in columns]
            detail = f" (missing {', '.join(missing)})" if missing else ""
            raise bad_format(
                f"column header {text!r} is not {','.join(_CSV_COLUMNS)!r}{detail}",
                path=path,
                line=index + 1,
            )
        return header, index + 1
    raise bad_format(
        f"no column header {','.join(_CSV_COLUMNS)!r} after the '#' header lines", path=path
    )


def _csv_duration(header: dict[str, tuple[str, int]], path: Path) -> tuple[float, int] | None:
    """The ``# duration`` in seconds and its line; None when the header has no duration."""
    if "duration" not in header:
        return None
    value, line = header["duration"]
    match = _DURATION.fullmatch(value)
    seconds = float(match["seconds"]) if match else 0.0
    if not match or not math.isfinite(seconds) or seconds <= 0:
        raise bad_format(
            f"duration {value!r} is not a positive '<seconds> secs'", path=path, line=line
        )
    return seconds, line


# A well-formed row as NEDC tools write it: plain decimals, a known label. Rows that match take
# the fast path (a corpus holds hundreds of thousands of per-channel rows); every other row goes
# through _csv_event, which validates field by field and names what is wrong.
_PLAIN_ROW = re.compile(
    r"([A-Za-z0-9]+(?:-[A-Za-z0-9]+)?),(\d{1,9}\.\d{1,9}),(\d{1,9}\.\d{1,9}),([a-z]+),(\d\.\d{1,9})"
)


def _fast_csv_event(text: str, line: int, per_channel: bool) -> Event | None:
    match = _PLAIN_ROW.fullmatch(text)
    if match is None:
        return None
    channel, start_text, stop_text, label, confidence_text = match.groups()
    start, stop, confidence = float(start_text), float(stop_text), float(confidence_text)
    positive = tusz_is_positive(label)
    term = channel == _TERM
    if positive is None or stop <= start or (not per_channel and not term):
        return None  # the full validator raises with the reason
    return Event(start, stop, label, positive, None if term else channel, confidence, line)


def _csv_event(text: str, *, path: Path, line: int, per_channel: bool) -> Event:
    fields = [field.strip() for field in text.split(",")]
    if len(fields) != len(_CSV_COLUMNS):
        raise bad_format(
            f"expected {len(_CSV_COLUMNS)} comma-separated fields ({','.join(_CSV_COLUMNS)}), "
            f"found {len(fields)}",
            path=path,
            line=line,
        )
    channel, start_text, stop_text, label, confidence_text = fields
    if not channel:
        raise bad_format("channel is empty", path=path, line=line)
    if not per_channel and channel != _TERM:
        raise bad_format(
            f"channel {channel!r} in a term-based .csv_bi file (expected {_TERM})",
            path=path,
            line=line,
        )
    start = parse_number(start_text, "start_time", path=path, line=line)
    stop = parse_number(stop_text, "stop_time", path=path, line=line)
    check_interval(start, stop, path=path, line=line)
    positive = tusz_is_positive(label)
    if positive is None:
        raise unknown_label(label, path=path, line=line)
    confidence = parse_confidence(confidence_text, path=path, line=line)
    return Event(
        start, stop, label, positive, None if channel == _TERM else channel, confidence, line
    )


def _check_in_range(event: Event, duration: tuple[float, int] | None, *, path: Path) -> None:
    if duration is not None and event.stop > duration[0] + DURATION_TOLERANCE:
        raise AnnotationError(
            f"stop_time {event.stop} > duration {duration[0]} declared on line {duration[1]} "
            f"(tolerance {DURATION_TOLERANCE} s)",
            reason=Reason.OUT_OF_RANGE,
            path=path,
            line=event.line,
        )
