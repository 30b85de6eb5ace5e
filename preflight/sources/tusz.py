"""Readers for Temple University Seizure Corpus (TUSZ) annotation files, and its folder layout.

v2.x writes ``.csv_bi`` (term-based: one ``TERM`` row per event) and ``.csv`` (per channel: one row
per TCP montage pair and event) under a ``#`` header that declares the duration. v1.5 wrote
``.tse`` / ``.tse_bi`` (term-based, no duration) and ``.lbl`` (per channel, no duration). Each
reader returns one ``RecordingAnnotations`` keyed by the file stem, or raises ``AnnotationError``
with a reason code and the 1-based line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from preflight.errors import AnnotationError, Reason
from preflight.sources.labels import TUSZ_BACKGROUND, TUSZ_SEIZURE, tusz_is_positive
from preflight.sources.records import AnnotationFileResult, Event, RecordingAnnotations
from preflight.sources.text import read_lines

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
CSV_READER_NAME = "tusz-csv"
TSE_READER_NAME = "tusz-tse"
LBL_READER_NAME = "tusz-lbl"
READER_VERSION = "1"  # bump when a TUSZ reader returns something different for the same file

# `# duration` is written with 2 decimals and event times with 4: a stop time rounded up can pass
# the rounded-down duration by 0.005 s. 0.01 s absorbs that and float noise, and nothing more.
DURATION_TOLERANCE = 0.01

_CSV_COLUMNS = ("channel", "start_time", "stop_time", "label", "confidence")
_TERM = "TERM"
_DURATION = re.compile(r"(?P<seconds>\d+(?:\.\d*)?|\.\d+)\s*(?:secs?|s)?", re.IGNORECASE)

# TUH event classes of the v1.5 symbol tables (TUEV / TUAR vocabulary) that are not seizures:
# spike / periodic discharges, eye blinks, artefacts. A `.tse` or `.lbl` event with one of these
# labels is kept as a background-class event (positive=False) under its own label, so counts stay
# honest and a report can show what it was. `(null)`, or any other symbol, is `unknown_label`.
_TUH_NON_SEIZURE = frozenset(
    {"spsw", "gped", "pled", "eybl", "artf", "intr", "slow", "eyem", "chew", "shiv", "musc"}
    | {"elpp", "elst", "calb", "hphs", "trip", "elec"}
)


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
            event = _csv_event(text, path=path, line=index + 1, per_channel=per_channel)
            _check_in_range(event, duration, path=path)
            events.append(event)
    recording = RecordingAnnotations(
        key=path.stem,
        events=tuple(events),
        per_channel=per_channel,
        duration=None if duration is None else duration[0],
    )
    return AnnotationFileResult(reader=CSV_READER_NAME, recordings=(recording,))


def read_tse(path: str | Path) -> AnnotationFileResult:
    """Read a TUSZ v1.5 ``.tse`` or ``.tse_bi`` (two-class) term-based annotation file.

    After ``version = tse_v1.0.0`` come space-separated ``start stop label probability`` rows.

    Args:
        path: the file.

    Returns:
        One term-based recording without duration (the format declares none).

    Raises:
        AnnotationError: ``bad_format`` (missing ``version =`` line, wrong field count, non-number),
            ``bad_interval``, ``unknown_label`` with the line; ``empty_file``, ``undecodable``.
    """
    path = Path(path)
    lines = read_lines(path)
    events: list[Event] = []
    seen_version = False
    for index, raw in enumerate(lines):
        line, text = index + 1, raw.strip()
        if not text:
            continue
        if not seen_version:
            _expect_version(text, "tse_v", path=path, line=line)
            seen_version = True
            continue
        fields = text.split()
        if len(fields) != 4:
            raise _bad_format(
                f"expected 4 space-separated fields (start stop label probability), "
                f"found {len(fields)}",
                path=path,
                line=line,
            )
        start = _number(fields[0], "start", path=path, line=line)
        stop = _number(fields[1], "stop", path=path, line=line)
        _check_interval(start, stop, path=path, line=line)
        positive = _v15_positive(fields[2], path=path, line=line)
        confidence = _confidence(fields[3], path=path, line=line)
        events.append(Event(start, stop, fields[2], positive, None, confidence, line))
    recording = RecordingAnnotations(key=path.stem, events=tuple(events), per_channel=False)
    return AnnotationFileResult(reader=TSE_READER_NAME, recordings=(recording,))


def read_lbl(path: str | Path) -> AnnotationFileResult:
    """Read a TUSZ v1.5 ``.lbl`` or ``.lbl_bi`` (two-class) per-channel annotation file.

    After ``version = lbl_v1.0.0`` come ``montage = 0, FP1-F7: ...`` lines, ``symbols[0] = {...}``
    tables and ``label = {level, sublevel, start, stop, channel, [p0, p1, ...]}`` lines; a label's
    class is the symbol of its largest probability (one-hot in practice), its channel the montage
    pair of that index.

    Args:
        path: the file.

    Returns:
        One per-channel recording without duration; each event's channel is the montage pair
        name (``FP1-F7``) and its confidence the winning probability.

    Raises:
        AnnotationError: ``bad_format``, ``bad_interval``, ``unknown_label`` with the line;
            ``empty_file``, ``undecodable``.
    """
    path = Path(path)
    montage: dict[int, str] = {}
    symbols: dict[int, dict[int, str]] = {}
    labels: list[tuple[int, str, str]] = []  # resolved once every table has been read
    seen_version = False
    for index, raw in enumerate(read_lines(path)):
        line, text = index + 1, raw.strip()
        if not text:
            continue
        if not seen_version:
            _expect_version(text, "lbl_v", path=path, line=line)
            seen_version = True
        elif match := _LBL_LABEL.fullmatch(text):
            labels.append((line, match[1], match[2]))
        elif match := _LBL_MONTAGE.fullmatch(text):
            montage[int(match[1])] = match[2]
        elif match := _LBL_SYMBOLS.fullmatch(text):
            symbols[int(match[1])] = _lbl_symbols(match[2], path=path, line=line)
        elif not _LBL_LEVELS.fullmatch(text):
            raise _bad_format(f"unrecognised .lbl line {text[:80]!r}", path=path, line=line)
    events = tuple(_lbl_event(*label, montage, symbols, path=path) for label in labels)
    recording = RecordingAnnotations(key=path.stem, events=events, per_channel=True)
    return AnnotationFileResult(reader=LBL_READER_NAME, recordings=(recording,))


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
                header[key.strip().lower()] = (value.strip(), index + 1)
            continue
        columns = [column.strip().lower() for column in text.split(",")]
        if tuple(columns) != _CSV_COLUMNS:
            missing = [column for column in _CSV_COLUMNS if column not in columns]
            detail = f" (missing {', '.join(missing)})" if missing else ""
            raise _bad_format(
                f"column header {text!r} is not {','.join(_CSV_COLUMNS)!r}{detail}",
                path=path,
                line=index + 1,
            )
        return header, index + 1
    raise _bad_format(
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
        raise _bad_format(
            f"duration {value!r} is not a positive '<seconds> secs'", path=path, line=line
        )
    return seconds, line


def _csv_event(text: str, *, path: Path, line: int, per_channel: bool) -> Event:
    fields = [field.strip() for field in text.split(",")]
    if len(fields) != len(_CSV_COLUMNS):
        raise _bad_format(
            f"expected {len(_CSV_COLUMNS)} comma-separated fields ({','.join(_CSV_COLUMNS)}), "
            f"found {len(fields)}",
            path=path,
            line=line,
        )
    channel, start_text, stop_text, label, confidence_text = fields
    if not channel:
        raise _bad_format("channel is empty", path=path, line=line)
    if not per_channel and channel != _TERM:
        raise _bad_format(
            f"channel {channel!r} in a term-based .csv_bi file (expected {_TERM})",
            path=path,
            line=line,
        )
    start = _number(start_text, "start_time", path=path, line=line)
    stop = _number(stop_text, "stop_time", path=path, line=line)
    _check_interval(start, stop, path=path, line=line)
    positive = tusz_is_positive(label)
    if positive is None:
        raise _unknown_label(label, path=path, line=line)
    confidence = _confidence(confidence_text, path=path, line=line)
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


def _expect_version(text: str, prefix: str, *, path: Path, line: int) -> None:
    key, _, value = text.partition("=")
    if key.strip().lower() != "version" or not value.strip().startswith(prefix):
        raise _bad_format(
            f"first line {text!r} is not 'version = {prefix}...'", path=path, line=line
        )


def _v15_positive(label: str, *, path: Path, line: int) -> bool:
    """Seizure or not for a v1.5 label: TUSZ vocabulary plus TUH non-seizure event classes."""
    positive = tusz_is_positive(label)
    if positive is not None:
        return positive
    if all(part in _TUH_NON_SEIZURE for part in label.split("_")):  # `eyem_chew` combinations
        return False
    raise _unknown_label(label, path=path, line=line, also=_TUH_NON_SEIZURE)


_LBL_LABEL = re.compile(r"label\s*=\s*\{([^\[\]{}]*)\[([^\[\]{}]*)\]\s*\}")
_LBL_MONTAGE = re.compile(r"montage\s*=\s*(\d{1,9})\s*,\s*([^:,\s]+)\s*:.*")
_LBL_SYMBOLS = re.compile(r"symbols\[(\d{1,9})\]\s*=\s*\{(.*)\}")
_LBL_SYMBOL = re.compile(r"\s*(\d{1,9})\s*:\s*'([^']*)'\s*")
_LBL_LEVELS = re.compile(r"(?:number_of_levels|level\[\d+\])\s*=\s*\d+")


def _lbl_symbols(body: str, *, path: Path, line: int) -> dict[int, str]:
    """Parse ``0: '(null)', 1: 'spsw', ...`` (no eval: the file is untrusted)."""
    table: dict[int, str] = {}
    for item in body.split(","):
        match = _LBL_SYMBOL.fullmatch(item)
        if match is None:
            raise _bad_format(
                f"symbol entry {item.strip()!r} is not N: 'name'", path=path, line=line
            )
        table[int(match[1])] = match[2]
    return table


def _lbl_event(
    line: int,
    head: str,
    vector: str,
    montage: dict[int, str],
    symbols: dict[int, dict[int, str]],
    *,
    path: Path,
) -> Event:
    fields = [field.strip() for field in head.split(",")]
    if len(fields) != 6 or fields[5]:  # `level, sublevel, start, stop, channel,` then the vector
        raise _bad_format(
            "expected 'label = {level, sublevel, start, stop, channel, [probabilities]}'",
            path=path,
            line=line,
        )
    level, channel_index = (
        _integer(fields[0], path=path, line=line),
        _integer(fields[4], path=path, line=line),
    )
    start = _number(fields[2], "start", path=path, line=line)
    stop = _number(fields[3], "stop", path=path, line=line)
    _check_interval(start, stop, path=path, line=line)
    if level not in symbols:
        raise _bad_format(
            f"label level {level} has no symbols[{level}] table", path=path, line=line
        )
    if channel_index not in montage:
        raise _bad_format(f"channel {channel_index} has no montage line", path=path, line=line)
    probabilities = [_confidence(value, path=path, line=line) for value in vector.split(",")]
    symbol, probability = _lbl_symbol(probabilities, symbols[level], path=path, line=line)
    positive = _v15_positive(symbol, path=path, line=line)
    return Event(start, stop, symbol, positive, montage[channel_index], probability, line)


def _lbl_symbol(
    probabilities: list[float], table: dict[int, str], *, path: Path, line: int
) -> tuple[str, float]:
    """The symbol with the largest probability, and that probability."""
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    if probabilities[best] <= 0:
        raise _bad_format("probability vector has no positive entry", path=path, line=line)
    # NEDC writes one probability per symbol, in key order: with keys 0..n-1 the position is the
    # key. A table with gaps (`30: 'elec', 100: 'eyem_chew'`) is read by position when the vector
    # has one entry per symbol, and by key otherwise.
    keys = sorted(table)
    if len(probabilities) == len(keys):
        return table[keys[best]], probabilities[best]
    if best in table:
        return table[best], probabilities[best]
    raise _bad_format(
        f"probability index {best} has no symbol ({len(probabilities)} probabilities, "
        f"{len(keys)} symbols)",
        path=path,
        line=line,
    )


def _integer(text: str, *, path: Path, line: int) -> int:
    # At most 9 digits: int() refuses strings past 4300 digits with a ValueError of its own.
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise _bad_format(f"{text!r} is not a non-negative integer", path=path, line=line)
    return int(text)


def _number(text: str, what: str, *, path: Path, line: int) -> float:
    """Parse a number; ``nan``/``inf`` pass through for the interval check to reject."""
    try:
        if "_" in text:  # float() accepts `1_000`; no annotation writer does
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise _bad_format(f"{what} {text!r} is not a number", path=path, line=line) from None


def _confidence(text: str, *, path: Path, line: int) -> float:
    value = _number(text, "confidence", path=path, line=line)
    if not math.isfinite(value):
        raise _bad_format(f"confidence {text!r} is not a finite number", path=path, line=line)
    return value


def _check_interval(start: float, stop: float, *, path: Path, line: int | None) -> None:
    if not (math.isfinite(start) and math.isfinite(stop)):
        message = f"start_time {start} and stop_time {stop} must be finite"
    elif start < 0:
        message = f"start_time {start} < 0"
    elif stop <= start:
        message = f"stop_time {stop} <= start_time {start}"
    else:
        return
    raise AnnotationError(message, reason=Reason.BAD_INTERVAL, path=path, line=line)


def _unknown_label(
    label: str, *, path: Path, line: int, also: frozenset[str] = frozenset()
) -> AnnotationError:
    allowed = ", ".join(sorted(TUSZ_BACKGROUND | TUSZ_SEIZURE | also))
    return AnnotationError(
        f"unknown label {label!r} (expected one of: {allowed})",
        reason=Reason.UNKNOWN_LABEL,
        path=path,
        line=line,
    )


def _bad_format(message: str, *, path: Path, line: int | None = None) -> AnnotationError:
    return AnnotationError(message, reason=Reason.BAD_FORMAT, path=path, line=line)
