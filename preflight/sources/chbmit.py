"""Reader for CHB-MIT ``chbNN-summary.txt`` files: one recording per ``File Name:`` block.

A block, as PhysioNet publishes it (see FORMATS.md, "CHB-MIT")::

    File Name: chb01_03.edf
    File Start Time: 13:43:04
    File End Time: 14:43:04
    Number of Seizures in File: 1
    Seizure Start Time: 2996 seconds
    Seizure End Time: 3036 seconds

Choices where the format says nothing:

- ``start_time`` stays None: the summary gives a clock time without a date; the EDF header
  carries the full start date and time.
- ``duration`` is File End - File Start. Hours may run past 24 (``26:02:15``); an end that is
  still before the start means the recording crossed midnight, so 24 h are added. A block with
  only one of the two lines, or neither (chb24), has no duration.
- ``lists_all_files`` is False when no block has a File Start/End Time line and every block
  holds at least one seizure (chb24): such a summary lists seizure files only, so a file of the
  patient that it omits is not known to be seizure-free.
- The first thing wrong in a block rejects that block only, as a ``(key, AnnotationError)``
  problem; a file listed twice is rejected once, as a problem, with no recording. The other
  blocks of the summary stay usable.
- Outside blocks, header and channel-list lines (and any other text) are ignored, except block
  lines (file times, seizure counts or times): with no file to belong to they are rejected alone,
  under the key ``<entry at line N>``, as is a ``File Name:`` line that names no file. Inside a
  block, a line that is not one of the block's keys rejects that block.
- Seizure start and end lines pair by position: a start, then its end. When both carry a number
  and the numbers disagree (``Seizure 2 Start Time`` closed by ``Seizure 1 End Time``, a typo in
  the published summaries) the order still says which end closes which start: the pair is kept
  with a ``seizure_number_mismatch`` note, and the block's ``Number of Seizures in File`` must
  still match. Only what the order cannot settle (two starts in a row, an end without a start, a
  start without an end, a count that disagrees) rejects the block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from preflight.errors import AnnotationError, Reason
from preflight.sources.records import AnnotationFileResult, Event, Note, RecordingAnnotations
from preflight.sources.text import read_lines

__all__ = ["READER_NAME", "READER_VERSION", "SEIZURE_LABEL", "patient_from_name", "read_summary"]

READER_NAME = "chbmit-summary"
READER_VERSION = "2"
SEIZURE_LABEL = "seizure"

_DAY = 24 * 3600
_PATIENT = re.compile(r"chb\d+", re.IGNORECASE)
_EDF_NAME = re.compile(r"\S+\.edf", re.IGNORECASE)
_CLOCK = re.compile(r"(\d{1,2}):([0-5]\d):([0-5]\d)")
_SECONDS = re.compile(r"(-?\d+(?:\.\d+)?)(?:\s*(?:seconds?|secs?|s))?", re.IGNORECASE)
_SEIZURE_KEY = re.compile(r"seizure(?: (\d+))? (start|end) time")
_CLOCK_KEYS = {"file start time": "start", "file end time": "end"}
_COUNT_KEY = "number of seizures in file"
_SECTION_KEYS = frozenset({"channels in edf files", "channels changed"})
_IGNORED_KEY = re.compile(r"data sampling rate|channel \d+")


def patient_from_name(name: str | PurePath) -> str:
    """The CHB-MIT patient of a file name or key.

    Args:
        name: a file name, key or path (``chb17a_03``, ``chb02_16+.edf``, ``chb01-summary.txt``).

    Returns:
        The patient, lower-case (``chb17``, ``chb02``, ``chb01``).

    Raises:
        AnnotationError: ``unsupported`` when the name does not start with ``chbNN``.
    """
    base = PurePath(name).name
    match = _PATIENT.match(base)
    if match is None:
        raise AnnotationError(
            f"file name {base!r} does not start with a CHB-MIT patient (chbNN)",
            reason=Reason.UNSUPPORTED,
            path=str(name),
        )
    return match.group(0).lower()


def read_summary(path: str | Path) -> AnnotationFileResult:
    """Read a CHB-MIT ``chbNN-summary.txt``: one recording per ``File Name:`` block.

    Args:
        path: the summary file.

    Returns:
        One ``RecordingAnnotations`` per good block (events labelled ``seizure``, in seconds from
        the file start); rejected blocks as ``(key, AnnotationError)`` in ``problems``.

    Raises:
        AnnotationError: for the whole file: ``unreadable``, ``empty_file``, ``undecodable``
            (with the line), or ``bad_format`` when no block can be found.
    """
    blocks = _parse_blocks(read_lines(path), path)
    if not any(block.name for block in blocks):
        raise AnnotationError(
            "no 'File Name:' line: not a CHB-MIT summary", reason=Reason.BAD_FORMAT, path=path
        )
    recordings, problems = _collect(blocks, path)
    return AnnotationFileResult(
        reader=READER_NAME,
        recordings=tuple(recordings),
        problems=tuple(problems),
        lists_all_files=_lists_all_files(blocks),
    )


@dataclass(frozen=True, slots=True)
class _Pair:
    start: float
    stop: float
    start_line: int
    stop_line: int


@dataclass(slots=True)
class _Block:
    """One ``File Name:`` block while it is being read."""

    name: str
    key: str
    line: int
    clocks: dict[str, tuple[int, int]] = field(default_factory=dict)  # start/end -> (s, line)
    has_clock_line: bool = False
    count: tuple[int, int] | None = None  # (declared seizures, line)
    pairs: list[_Pair] = field(default_factory=list)
    pending: tuple[float, int | None, int] | None = None  # open start: (s, number, line)
    error: AnnotationError | None = None
    notes: list[Note] = field(default_factory=list)


def _error(
    message: str, path: str | Path, line: int, reason: Reason = Reason.BAD_FORMAT
) -> AnnotationError:
    return AnnotationError(message, reason=reason, path=path, line=line)


def _split(text: str) -> tuple[str, str]:
    """``Key:  value`` -> (normalised lower-case key, stripped value); no colon -> ("", text)."""
    key, sep, value = text.partition(":")
    if not sep:
        return "", text.strip()
    return " ".join(key.split()).lower(), value.strip()


def _is_block_key(key: str) -> bool:
    return key in _CLOCK_KEYS or key == _COUNT_KEY or _SEIZURE_KEY.fullmatch(key) is not None


def _is_filler(text: str, key: str) -> bool:
    """Blank lines, ``*****`` rules, the sampling rate and channel lists carry nothing we keep."""
    stripped = text.strip()
    return not stripped.strip("*") or _IGNORED_KEY.fullmatch(key) is not None


def _parse_blocks(lines: list[str], path: str | Path) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    for lineno, text in enumerate(lines, start=1):
        key, value = _split(text)
        if key == "file name":
            current = _open_block(value, lineno, path)
            blocks.append(current)
        elif key in _SECTION_KEYS:
            current = None  # a channel list follows; the next block starts at `File Name:`
        elif _is_filler(text, key):
            continue
        elif current is not None:
            current.has_clock_line |= key in _CLOCK_KEYS
            if current.error is None:
                try:
                    _apply(current, key, value, text, lineno, path)
                except AnnotationError as exc:
                    current.error = exc
        elif _is_block_key(key):
            stray = _Block(name="", key=f"<entry at line {lineno}>", line=lineno)
            message = f"{text.strip()!r} stands outside any 'File Name:' block"
            stray.error = _error(message, path, lineno)
            blocks.append(stray)
    return blocks


def _open_block(value: str, lineno: int, path: str | Path) -> _Block:
    if not value:
        block = _Block(name="", key=f"<entry at line {lineno}>", line=lineno)
        block.error = _error("'File Name:' line names no file", path, lineno)
        return block
    if _EDF_NAME.fullmatch(value) is None:
        block = _Block(name=value, key=value, line=lineno)
        block.error = _error(f"file name {value!r} is not an .edf file name", path, lineno)
        return block
    return _Block(name=value, key=value[: -len(".edf")], line=lineno)


def _apply(block: _Block, key: str, value: str, text: str, lineno: int, path: str | Path) -> None:
    """Add one line to ``block``; raises ``AnnotationError`` for what rejects the block."""
    if key in _CLOCK_KEYS:
        _set_clock(block, _CLOCK_KEYS[key], value, lineno, path)
    elif key == _COUNT_KEY:
        _set_count(block, value, lineno, path)
    elif (match := _SEIZURE_KEY.fullmatch(key)) is not None:
        number = None if match.group(1) is None else int(match.group(1))
        _add_seizure_time(block, number, match.group(2), value, lineno, path)
    else:
        raise _error(
            f"unrecognised line {text.strip()!r} in the block of {block.name}", path, lineno
        )


def _set_clock(block: _Block, which: str, value: str, lineno: int, path: str | Path) -> None:
    if which in block.clocks:
        raise _error(
            f"second 'File {which.title()} Time:' line in the block of {block.name}", path, lineno
        )
    match = _CLOCK.fullmatch(value)
    if match is None:
        raise _error(
            f"File {which.title()} Time {value!r} is not a clock time H:MM:SS", path, lineno
        )
    hours, minutes, seconds = (int(group) for group in match.groups())
    block.clocks[which] = (hours * 3600 + minutes * 60 + seconds, lineno)


def _set_count(block: _Block, value: str, lineno: int, path: str | Path) -> None:
    if block.count is not None:
        raise _error(
            f"second 'Number of Seizures in File:' line in the block of {block.name}", path, lineno
        )
    if not value.isdecimal():
        raise _error(f"Number of Seizures in File {value!r} is not a whole number", path, lineno)
    block.count = (int(value), lineno)


def _add_seizure_time(
    block: _Block, number: int | None, which: str, value: str, lineno: int, path: str | Path
) -> None:
    match = _SECONDS.fullmatch(value)
    if match is None:
        raise _error(f"seizure {which} time {value!r} is not a number of seconds", path, lineno)
    seconds = float(match.group(1))
    if which == "start":
        if block.pending is not None:
            raise _error(
                f"seizure start time at line {block.pending[2]} has no end time", path, lineno
            )
        block.pending = (seconds, number, lineno)
        return
    if block.pending is None:
        raise _error("seizure end time without a start time", path, lineno)
    start, start_number, start_line = block.pending
    if number is not None and start_number is not None and number != start_number:
        block.notes.append(
            Note(
                "seizure_number_mismatch",
                f"{block.name}: 'Seizure {number} End Time' closes 'Seizure {start_number} Start"
                f" Time' (line {start_line}); paired by position",
                lineno,
            )
        )
    block.pending = None
    block.pairs.append(_Pair(start, seconds, start_line, lineno))


def _finish(block: _Block, path: str | Path) -> RecordingAnnotations | AnnotationError:
    """The block's recording, or the error that rejects it."""
    if block.error is not None:
        return block.error
    try:
        _check_count(block, path)
        duration = _duration(block, path)
        events = tuple(_event(pair, duration, path) for pair in block.pairs)
    except AnnotationError as exc:
        return exc
    return RecordingAnnotations(
        key=block.key,
        events=events,
        duration=duration,
        edf_name=block.name,
        line=block.line,
        notes=tuple(block.notes),
    )


def _check_count(block: _Block, path: str | Path) -> None:
    if block.pending is not None:
        raise _error("seizure start time has no end time", path, block.pending[2])
    if block.count is None:
        raise _error(
            f"no 'Number of Seizures in File:' line in the block of {block.name}", path, block.line
        )
    declared, line = block.count
    if declared != len(block.pairs):
        raise _error(
            f"Number of Seizures in File says {declared} but {len(block.pairs)} seizure"
            f" start/end pairs follow for {block.name}",
            path,
            line,
        )


def _duration(block: _Block, path: str | Path) -> float | None:
    """File End - File Start, plus 24 h when the end is before the start (midnight crossed)."""
    if "start" not in block.clocks or "end" not in block.clocks:
        return None
    (start, _), (end, end_line) = block.clocks["start"], block.clocks["end"]
    duration = end - start if end >= start else end - start + _DAY
    if duration == 0:
        raise _error(
            f"File End Time equals File Start Time for {block.name}",
            path,
            end_line,
            reason=Reason.BAD_INTERVAL,
        )
    return float(duration)


def _event(pair: _Pair, duration: float | None, path: str | Path) -> Event:
    if pair.start < 0:
        raise _error(
            f"seizure start {pair.start:g} s is negative",
            path,
            pair.start_line,
            reason=Reason.BAD_INTERVAL,
        )
    if pair.stop <= pair.start:
        raise _error(
            f"seizure end {pair.stop:g} s <= seizure start {pair.start:g} s"
            f" (line {pair.start_line})",
            path,
            pair.stop_line,
            reason=Reason.BAD_INTERVAL,
        )
    if duration is not None and pair.stop > duration:
        raise _error(
            f"seizure end {pair.stop:g} s is past the file's end at {duration:g} s"
            " (File End - File Start)",
            path,
            pair.stop_line,
            reason=Reason.OUT_OF_RANGE,
        )
    return Event(
        start=pair.start, stop=pair.stop, label=SEIZURE_LABEL, positive=True, line=pair.start_line
    )


def _collect(
    blocks: list[_Block], path: str | Path
) -> tuple[list[RecordingAnnotations], list[tuple[str, Exception]]]:
    """Finish every block; a key listed more than once becomes a single problem."""
    lines_of: dict[str, list[int]] = {}
    for block in blocks:
        lines_of.setdefault(block.key, []).append(block.line)
    recordings: list[RecordingAnnotations] = []
    problems: list[tuple[str, Exception]] = []
    for block in blocks:
        lines = lines_of[block.key]
        if len(lines) > 1:
            if block.line == lines[0]:
                listed = ", ".join(str(line) for line in lines)
                message = f"{block.name} is listed {len(lines)} times (lines {listed})"
                problems.append((block.key, _error(message, path, lines[1])))
            continue
        outcome = _finish(block, path)
        if isinstance(outcome, AnnotationError):
            problems.append((block.key, outcome))
        else:
            recordings.append(outcome)
    return recordings, problems


def _lists_all_files(blocks: list[_Block]) -> bool:
    """False for a chb24-style summary: no file times anywhere and a seizure in every block."""
    blocks = [block for block in blocks if block.name]  # stray lines name no file
    if any(block.has_clock_line for block in blocks):
        return True
    return not all(
        max(0 if block.count is None else block.count[0], len(block.pairs)) >= 1 for block in blocks
    )
