"""Readers for Temple University Seizure Corpus (TUSZ) v1.5 annotation files.

v1.5 wrote ``.tse`` / ``.tse_bi`` (term-based, no duration) and ``.lbl`` / ``.lbl_bi`` (per
channel, no duration). Each reader returns one ``RecordingAnnotations`` keyed by the file stem, or
raises ``AnnotationError`` with a reason code and the 1-based line. Besides the TUSZ vocabulary,
v1.5 symbol tables carry TUH event classes that are not seizures; those events are kept as
background. The v2 ``.csv`` / ``.csv_bi`` reader and the corpus layout live in ``tusz``.
"""

from __future__ import annotations

import re
from pathlib import Path

from preflight.sources._tusz_fields import (
    bad_format,
    check_interval,
    parse_confidence,
    parse_integer,
    parse_number,
    unknown_label,
)
from preflight.sources.labels import tusz_is_positive
from preflight.sources.records import AnnotationFileResult, Event, RecordingAnnotations
from preflight.sources.text import read_lines

__all__ = ["LBL_READER_NAME", "TSE_READER_NAME", "read_lbl", "read_tse"]

# Provenance: the manifest records which reader parsed each file (the version is READER_VERSION,
# shared with the v2 reader).
TSE_READER_NAME = "tusz-tse"
LBL_READER_NAME = "tusz-lbl"

# TUH event classes of the v1.5 symbol tables (TUEV / TUAR vocabulary) that are not seizures:
# spike / periodic discharges, eye blinks, artefacts. A `.tse` or `.lbl` event with one of these
# labels is kept as a background-class event (positive=False) under its own label, so counts stay
# honest and a report can show what it was. `(null)`, or any other symbol, is `unknown_label`.
_TUH_NON_SEIZURE = frozenset(
    {"spsw", "gped", "pled", "eybl", "artf", "intr", "slow", "eyem", "chew", "shiv", "musc"}
    | {"elpp", "elst", "calb", "hphs", "trip", "elec"}
)


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
            raise bad_format(
                f"expected 4 space-separated fields (start stop label probability), "
                f"found {len(fields)}",
                path=path,
                line=line,
            )
        start = parse_number(fields[0], "start", path=path, line=line)
        stop = parse_number(fields[1], "stop", path=path, line=line)
        check_interval(start, stop, path=path, line=line)
        positive = _v15_positive(fields[2], path=path, line=line)
        confidence = parse_confidence(fields[3], path=path, line=line)
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
            raise bad_format(f"unrecognised .lbl line {text[:80]!r}", path=path, line=line)
    events = tuple(_lbl_event(*label, montage, symbols, path=path) for label in labels)
    recording = RecordingAnnotations(key=path.stem, events=events, per_channel=True)
    return AnnotationFileResult(reader=LBL_READER_NAME, recordings=(recording,))


def _expect_version(text: str, prefix: str, *, path: Path, line: int) -> None:
    key, _, value = text.partition("=")
    if key.strip().lower() != "version" or not value.strip().startswith(prefix):
        raise bad_format(
            f"first line {text!r} is not 'version = {prefix}...'", path=path, line=line
        )


def _v15_positive(label: str, *, path: Path, line: int) -> bool:
    """Seizure or not for a v1.5 label: TUSZ vocabulary plus TUH non-seizure event classes."""
    positive = tusz_is_positive(label)
    if positive is not None:
        return positive
    if all(part in _TUH_NON_SEIZURE for part in label.split("_")):  # `eyem_chew` combinations
        return False
    raise unknown_label(label, path=path, line=line, also=_TUH_NON_SEIZURE)


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
            raise bad_format(
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
        raise bad_format(
            "expected 'label = {level, sublevel, start, stop, channel, [probabilities]}'",
            path=path,
            line=line,
        )
    level, channel_index = (
        parse_integer(fields[0], path=path, line=line),
        parse_integer(fields[4], path=path, line=line),
    )
    start = parse_number(fields[2], "start", path=path, line=line)
    stop = parse_number(fields[3], "stop", path=path, line=line)
    check_interval(start, stop, path=path, line=line)
    if level not in symbols:
        raise bad_format(f"label level {level} has no symbols[{level}] table", path=path, line=line)
    if channel_index not in montage:
        raise bad_format(f"channel {channel_index} has no montage line", path=path, line=line)
    probabilities = [parse_confidence(value, path=path, line=line) for value in vector.split(",")]
    symbol, probability = _lbl_symbol(probabilities, symbols[level], path=path, line=line)
    positive = _v15_positive(symbol, path=path, line=line)
    return Event(start, stop, symbol, positive, montage[channel_index], probability, line)


def _lbl_symbol(
    probabilities: list[float], table: dict[int, str], *, path: Path, line: int
) -> tuple[str, float]:
    """The symbol with the largest probability, and that probability."""
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    if probabilities[best] <= 0:
        raise bad_format("probability vector has no positive entry", path=path, line=line)
    # NEDC writes one probability per symbol, in key order: with keys 0..n-1 the position is the
    # key. A table with gaps (`30: 'elec', 100: 'eyem_chew'`) is read by position when the vector
    # has one entry per symbol, and by key otherwise.
    keys = sorted(table)
    if len(probabilities) == len(keys):
        return table[keys[best]], probabilities[best]
    if best in table:
        return table[best], probabilities[best]
    raise bad_format(
        f"probability index {best} has no symbol ({len(probabilities)} probabilities, "
        f"{len(keys)} symbols)",
        path=path,
        line=line,
    )
