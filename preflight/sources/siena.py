"""Reader for Siena ``Seizures-list-PNxx.txt`` files: seizure blocks grouped per EDF file.

A block, as PhysioNet publishes it (see FORMATS.md, "Siena")::

    Seizure n 1
    File name: PN00-1.edf
    Registration start time: 19.39.33
    Registration end time:  20.22.58
    Seizure start time: 19.58.36
    Seizure end time: 19.59.46

Times are wall-clock ``HH.MM.SS`` or ``HH:MM:SS``; the space after the colon may be missing or
doubled, ``Start time:``/``End time:`` stand for the seizure lines and ``(in sleep)`` may follow
the seizure number.

Choices where the format says nothing:

- Offsets are seizure time - registration start and the duration is registration end -
  registration start, each taken modulo 24 h (a negative difference means midnight was crossed).
- ``start_time`` stays None: the list gives a clock time without a date; the EDF header carries
  the full start date and time.
- ``lists_all_files`` is False: the list is organised per seizure, so a file without a seizure
  cannot appear in it and its absence says nothing.
- The first thing wrong with any block of a file rejects that file only, as a
  ``(key, AnnotationError)`` problem; the other files of the list stay usable. A block that names
  no file and cannot continue the previous one (see below) is rejected alone, under the key
  ``<entry at line N>``. Header lines (patient, sampling rate, channels) and unknown text before
  the first block are ignored; an unknown line inside a block rejects the block's file.
- A seizure entry that names no file and gives no registration times (``Seizure n 2`` followed
  directly by ``Seizure start time:``, or a second start/end pair inside one block, as in PN01 and
  PN12) is another seizure of the previous entry's file, under its registration: read so, with a
  ``continues_previous_entry`` note, as the SzCORE converter reads it.
- With ``errata=True`` (the default), the published errata of ``preflight.sources.errata`` are
  applied where the list holds the exact published text, each recorded as a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePath

from preflight.errors import AnnotationError, Reason
from preflight.sources import errata as errata_table
from preflight.sources.records import AnnotationFileResult, Event, Note, RecordingAnnotations
from preflight.sources.text import read_lines

__all__ = [
    "READER_NAME",
    "READER_VERSION",
    "SEIZURE_LABEL",
    "patient_from_name",
    "read_seizure_list",
]

READER_NAME = "siena-list"
READER_VERSION = "2"
SEIZURE_LABEL = "seizure"

_DAY = 24 * 3600
_PATIENT = re.compile(r"(?:seizures-list-)?(pn\d+)", re.IGNORECASE)
_EDF_NAME = re.compile(r"\S+\.edf", re.IGNORECASE)
# `Seizure n 1`, `Seizure n 2 (in sleep)`: what follows the number is a note.
_BLOCK_HEADER = re.compile(r"seizure\s+n[.°º]?\s*\d+(?:\D.*)?", re.IGNORECASE)
_CLOCK = re.compile(r"(\d{1,2})[.:]([0-5]\d)[.:]([0-5]\d)")
_IGNORED_KEY = re.compile(r"data sampling rate|channels in edf files|channel \d+")
# Normalised key -> the block field it sets.
_TIME_KEYS = {
    "registration start time": "reg_start",
    "registration end time": "reg_end",
    "seizure start time": "sz_start",
    "start time": "sz_start",
    "seizure end time": "sz_end",
    "end time": "sz_end",
}
_LABELS = {
    "reg_start": "registration start",
    "reg_end": "registration end",
    "sz_start": "seizure start",
    "sz_end": "seizure end",
}


def patient_from_name(name: str | PurePath) -> str:
    """The Siena patient of a file name or key.

    Args:
        name: a file name, key or path (``PN00-1``, ``PN00-1.edf``, ``Seizures-list-PN00.txt``).

    Returns:
        The patient, upper-case (``PN00``).

    Raises:
        AnnotationError: ``unsupported`` when the name holds no ``PNxx`` patient.
    """
    base = PurePath(name).name
    match = _PATIENT.match(base)
    if match is None:
        raise AnnotationError(
            f"file name {base!r} does not start with a Siena patient (PNxx)",
            reason=Reason.UNSUPPORTED,
            path=str(name),
        )
    return match.group(1).upper()


def read_seizure_list(path: str | Path, *, errata: bool = True) -> AnnotationFileResult:
    """Read a Siena ``Seizures-list-PNxx.txt``: one recording per EDF file it names.

    Args:
        path: the seizure list.
        errata: apply the published corrections of ``preflight.sources.errata`` (each one
            becomes a note on its recording).

    Returns:
        One ``RecordingAnnotations`` per file, in order of first mention, with its seizures in
        file order (seconds from the registration start) and the registration length as
        duration; rejected files as ``(key, AnnotationError)`` in ``problems``.

    Raises:
        AnnotationError: for the whole file: ``unreadable``, ``empty_file``, ``undecodable``
            (with the line), or ``bad_format`` when it holds no seizure block.
    """
    patient = _list_patient(path) if errata else None
    blocks = _parse_blocks(read_lines(path), path, patient)
    if not any(block.name is not None for block in blocks):
        raise AnnotationError(
            "no 'Seizure n' / 'File name:' block: not a Siena seizure list",
            reason=Reason.BAD_FORMAT,
            path=path,
        )
    _continue_entries(blocks)
    grouped: dict[str, list[_Seizure | AnnotationError]] = {}
    notes: dict[str, list[Note]] = {}
    for block in blocks:
        key, outcome = _finish(block, path)
        grouped.setdefault(key, []).append(outcome)
        notes.setdefault(key, []).extend(block.notes)
    recordings: list[RecordingAnnotations] = []
    problems: list[tuple[str, Exception]] = []
    for key, outcomes in grouped.items():
        try:
            recordings.append(_recording(key, outcomes, tuple(notes[key]), path))
        except AnnotationError as exc:
            problems.append((key, exc))
    return AnnotationFileResult(
        reader=READER_NAME,
        recordings=tuple(recordings),
        problems=tuple(problems),
        lists_all_files=False,
    )


@dataclass(slots=True)
class _Block:
    """One seizure block while it is being read."""

    line: int
    name: str | None = None
    listed: str | None = None  # the file name as published (before any erratum)
    times: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # field -> (s, line, raw)
    error: AnnotationError | None = None
    notes: list[Note] = field(default_factory=list)
    patient: str | None = None  # the list's patient, when errata apply

    def complete(self) -> bool:
        """Whether the block holds a whole seizure (start and end)."""
        return "sz_start" in self.times and "sz_end" in self.times


@dataclass(frozen=True, slots=True)
class _Seizure:
    """A finished block: one seizure of one file."""

    edf_name: str
    line: int
    registration: tuple[int, int]  # (start, end) clock seconds modulo 24 h
    registration_lines: tuple[int, int]
    duration: float
    event: Event


def _error(
    message: str, path: str | Path, line: int, reason: Reason = Reason.BAD_FORMAT
) -> AnnotationError:
    return AnnotationError(message, reason=reason, path=path, line=line)


def _split(text: str) -> tuple[str, str]:
    """``Key:value`` -> (normalised lower-case key, stripped value); no colon -> ("", text)."""
    key, sep, value = text.partition(":")
    if not sep:
        return "", text.strip()
    return " ".join(key.split()).lower(), value.strip()


def _parse_blocks(lines: list[str], path: str | Path, patient: str | None) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None

    def open_block(lineno: int) -> _Block:
        blocks.append(_Block(line=lineno, patient=patient))
        return blocks[-1]

    for lineno, text in enumerate(lines, start=1):
        key, value = _split(text)
        if _BLOCK_HEADER.fullmatch(text.strip()):
            current = open_block(lineno)
        elif key == "file name":
            if current is None or current.name is not None:  # a block without `Seizure n`
                current = open_block(lineno)
            _guard(current, partial(_set_name, current, value, lineno, path))
        elif key in _TIME_KEYS:
            name = _TIME_KEYS[key]
            # A time before any block, or a second seizure after a whole one, opens an entry
            # that may continue the previous one (see the module docstring).
            if current is None or (name == "sz_start" and current.complete()):
                current = open_block(lineno)
            _guard(current, partial(_set_time, current, name, value, lineno, path))
        elif current is not None and text.strip() and not _IGNORED_KEY.fullmatch(key):
            message = f"unrecognised line {text.strip()!r} in the seizure block of line"
            error = _error(f"{message} {current.line}", path, lineno)
            current.error = current.error or error
    return blocks


def _list_patient(path: str | Path) -> str | None:
    """The list's patient (``PN00``) for the errata lookup; None for a list named otherwise."""
    try:
        return patient_from_name(path)
    except AnnotationError:
        return None


def _continue_entries(blocks: list[_Block]) -> None:
    """Give an entry without a file name the file and registration of the entry before it.

    Only when the entry gives no registration time of its own and the one before it named a
    file; anything else stays without a name and is rejected alone.
    """
    previous: _Block | None = None
    for block in blocks:
        if block.name is None and block.error is None and previous is not None:
            own = [name for name in ("reg_start", "reg_end") if name in block.times]
            if not own:
                block.name, block.listed = previous.name, previous.listed
                for name in ("reg_start", "reg_end"):
                    if name in previous.times:
                        block.times[name] = previous.times[name]
                block.notes.append(
                    Note(
                        "continues_previous_entry",
                        f"the seizure entry at line {block.line} names no file or registration:"
                        f" read as another seizure of {previous.name} (entry at line"
                        f" {previous.line})",
                        block.line,
                    )
                )
        if block.name is not None:
            previous = block


def _guard(block: _Block, step: Callable[[], None]) -> None:
    """Run ``step`` unless the block is already rejected; keep the first rejection."""
    if block.error is not None:
        return
    try:
        step()
    except AnnotationError as exc:
        block.error = exc


def _set_name(block: _Block, value: str, lineno: int, path: str | Path) -> None:
    if not value:
        raise _error("'File name:' line names no file", path, lineno)
    block.listed = value
    value = _corrected(block, "file name", value, lineno)
    block.name = value
    if _EDF_NAME.fullmatch(value) is None:
        raise _error(f"file name {value!r} is not an .edf file name", path, lineno)


def _set_time(block: _Block, name: str, value: str, lineno: int, path: str | Path) -> None:
    label = _LABELS[name]
    if name in block.times:
        raise _error(f"second {label} time in the seizure block of line {block.line}", path, lineno)
    value = _corrected(block, f"{label} time", value, lineno)
    match = _CLOCK.fullmatch(value)
    if match is None:
        raise _error(f"{label} time {value!r} is not a clock time HH.MM.SS", path, lineno)
    hours, minutes, seconds = (int(group) for group in match.groups())
    block.times[name] = (hours * 3600 + minutes * 60 + seconds, lineno, value)


def _corrected(block: _Block, field_name: str, value: str, lineno: int) -> str:
    """``value``, or its published correction (recorded as a note on the block)."""
    if block.patient is None or block.listed is None:
        return value
    erratum = errata_table.find("siena", block.patient, block.listed, field_name, value)
    if erratum is None:
        return value
    block.notes.append(erratum.note(lineno))
    return erratum.corrected


def _finish(block: _Block, path: str | Path) -> tuple[str, _Seizure | AnnotationError]:
    """The block's key and seizure, or the error that rejects that key."""
    if block.name is None:
        key = f"<entry at line {block.line}>"
        return key, block.error or _error(
            "seizure entry names no file ('File name:' line) and does not continue the entry"
            " before it",
            path,
            block.line,
        )
    stem = block.name[: -len(".edf")] if block.name.lower().endswith(".edf") else block.name
    if block.error is not None:
        return stem, block.error
    missing = [label for name, label in _LABELS.items() if name not in block.times]
    if missing:
        message = f"seizure block of {block.name} has no {' or '.join(missing)} time"
        return stem, _error(message, path, block.line)
    try:
        return stem, _seizure(block, block.name, path)
    except AnnotationError as exc:
        return stem, exc


def _seizure(block: _Block, edf_name: str, path: str | Path) -> _Seizure:
    """Offsets from the registration start, modulo 24 h (a recording may cross midnight)."""
    reg_start, reg_start_line, _ = block.times["reg_start"]
    reg_end, reg_end_line, reg_end_raw = block.times["reg_end"]
    sz_start, start_line, start_raw = block.times["sz_start"]
    sz_end, end_line, end_raw = block.times["sz_end"]
    duration = (reg_end - reg_start) % _DAY
    start = (sz_start - reg_start) % _DAY
    stop = (sz_end - reg_start) % _DAY
    if duration == 0:
        raise _error(
            f"registration end {reg_end_raw} equals its start",
            path,
            reg_end_line,
            reason=Reason.BAD_INTERVAL,
        )
    if stop <= start:
        raise _error(
            f"seizure end {end_raw} ({stop} s) <= seizure start {start_raw} ({start} s)",
            path,
            end_line,
            reason=Reason.BAD_INTERVAL,
        )
    if stop > duration:
        raise _error(
            f"seizure end {end_raw} ({stop} s) is past the registration end"
            f" {reg_end_raw} ({duration} s)",
            path,
            end_line,
            reason=Reason.OUT_OF_RANGE,
        )
    event = Event(
        start=float(start), stop=float(stop), label=SEIZURE_LABEL, positive=True, line=start_line
    )
    registration = (reg_start % _DAY, reg_end % _DAY)
    lines = (reg_start_line, reg_end_line)
    return _Seizure(edf_name, block.line, registration, lines, float(duration), event)


def _recording(
    key: str, outcomes: list[_Seizure | AnnotationError], notes: tuple[Note, ...], path: str | Path
) -> RecordingAnnotations:
    """Merge one file's seizures; raises the first error or a registration-time conflict."""
    seizures: list[_Seizure] = []
    for outcome in outcomes:
        if isinstance(outcome, AnnotationError):
            raise outcome
        seizures.append(outcome)
    first = seizures[0]
    for other in seizures[1:]:
        if other.registration != first.registration:
            differs = 0 if other.registration[0] != first.registration[0] else 1
            raise _error(
                f"registration times of {first.edf_name} differ from those of the block at"
                f" line {first.line}",
                path,
                other.registration_lines[differs],
            )
    return RecordingAnnotations(
        key=key,
        events=tuple(seizure.event for seizure in seizures),
        duration=first.duration,
        edf_name=first.edf_name,
        line=first.line,
        notes=notes,
    )
