"""Field parsing and errors shared by the TUSZ readers (v2 in ``tusz``, v1.5 in ``tusz_v15``).

Private to those two modules: every parser raises ``AnnotationError`` with a reason code and the
1-based line, and the error builders return one for the caller to raise.
"""

from __future__ import annotations

import math
from pathlib import Path

from preflight.errors import AnnotationError, Reason
from preflight.sources.labels import TUSZ_BACKGROUND, TUSZ_SEIZURE

__all__ = [
    "READER_VERSION",
    "bad_format",
    "check_interval",
    "parse_confidence",
    "parse_integer",
    "parse_number",
    "unknown_label",
]

# Bump when a TUSZ reader returns something different for the same file (2: two disagreeing
# header lines are rejected).
READER_VERSION = "2"


def parse_integer(text: str, *, path: Path, line: int) -> int:
    # At most 9 digits: int() refuses strings past 4300 digits with a ValueError of its own.
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise bad_format(f"{text!r} is not a non-negative integer", path=path, line=line)
    return int(text)


def parse_number(text: str, what: str, *, path: Path, line: int) -> float:
    """Parse a number; ``nan``/``inf`` pass through for the interval check to reject."""
    try:
        if "_" in text:  # float() accepts `1_000`; no annotation writer does
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise bad_format(f"{what} {text!r} is not a number", path=path, line=line) from None


def parse_confidence(text: str, *, path: Path, line: int) -> float:
    value = parse_number(text, "confidence", path=path, line=line)
    if not math.isfinite(value):
        raise bad_format(f"confidence {text!r} is not a finite number", path=path, line=line)
    return value


def check_interval(start: float, stop: float, *, path: Path, line: int | None) -> None:
    if not (math.isfinite(start) and math.isfinite(stop)):
        message = f"start_time {start} and stop_time {stop} must be finite"
    elif start < 0:
        message = f"start_time {start} < 0"
    elif stop <= start:
        message = f"stop_time {stop} <= start_time {start}"
    else:
        return
    raise AnnotationError(message, reason=Reason.BAD_INTERVAL, path=path, line=line)


def unknown_label(
    label: str, *, path: Path, line: int, also: frozenset[str] = frozenset()
) -> AnnotationError:
    allowed = ", ".join(sorted(TUSZ_BACKGROUND | TUSZ_SEIZURE | also))
    return AnnotationError(
        f"unknown label {label!r} (expected one of: {allowed})",
        reason=Reason.UNKNOWN_LABEL,
        path=path,
        line=line,
    )


def bad_format(message: str, *, path: Path, line: int | None = None) -> AnnotationError:
    return AnnotationError(message, reason=Reason.BAD_FORMAT, path=path, line=line)
