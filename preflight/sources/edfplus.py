"""EDF+ embedded annotations as seizure labels.

EDF+ files carry free-text annotations (``Seizure``, ``Eyes closed``, ``RECORD START`` ...).
Texts in the generic seizure vocabulary become positive events and need a duration and an onset
inside the recording (else the file is rejected ``bad_interval``, naming the annotation's
position); other texts with a duration become background notes; instant markers without a
duration, and notes that start before the recording, are not intervals of it and are left out.
"""

from __future__ import annotations

import math
import re

from preflight.errors import AnnotationError, Reason
from preflight.sources.labels import GENERIC_SEIZURE
from preflight.sources.records import AnnotationFileResult, EdfHeader, Event, RecordingAnnotations

READER_NAME = "edfplus-annotations"
READER_VERSION = "3"  # 2: negative onsets rejected; 3: `Seizure onset` / `end` markers paired

# Instant markers that open and close a seizure (``Seizure onset`` ... ``Seizure end``).
_OPENS = re.compile(r"(?:seizure|sz)[\s_-]*(?:onset|start|begin)", re.IGNORECASE)
_CLOSES = re.compile(r"(?:seizure|sz)[\s_-]*(?:end|offset|stop)", re.IGNORECASE)


def is_seizure_text(text: str) -> bool:
    """True when an EDF+ annotation text names a seizure."""
    return text.strip().lower() in GENERIC_SEIZURE


def annotations_from_header(key: str, header: EdfHeader) -> AnnotationFileResult | None:
    """Turn an EDF+ header's embedded annotations into an annotation result, if it has any.

    Args:
        key: the recording key (file name without extension).
        header: the parsed header.

    Returns:
        None when the file carries no annotations; otherwise one recording whose problems list
        a seizure annotation without a duration.
    """
    if not header.annotations:
        return None
    events: list[Event] = []
    try:
        events += _marker_pairs(header.annotations)
    except AnnotationError as unpaired:
        return AnnotationFileResult(READER_NAME, (), problems=((key, unpaired),))
    for position, (onset, duration, text) in enumerate(header.annotations, start=1):
        if _OPENS.fullmatch(text.strip()) or _CLOSES.fullmatch(text.strip()):
            continue  # paired above
        positive = is_seizure_text(text)
        problem = _seizure_problem(position, onset, duration, text) if positive else None
        if problem is not None:
            err = AnnotationError(problem, reason=Reason.BAD_INTERVAL)
            return AnnotationFileResult(READER_NAME, (), problems=((key, err),))
        if duration is None or duration <= 0 or onset < 0:
            continue  # an instant marker, or a note from before the recording: not an interval
        events.append(Event(onset, onset + duration, text.strip(), positive))
    rec = RecordingAnnotations(key=key, events=tuple(events), duration=header.duration)
    return AnnotationFileResult(READER_NAME, (rec,))


def _marker_pairs(annotations: tuple[tuple[float, float | None, str], ...]) -> list[Event]:
    """``Seizure onset`` / ``Seizure end`` instant markers, in time order, as seizure intervals.

    Raises:
        AnnotationError: an onset without a following end, an end without an onset before it,
            or an end at or before its onset (``bad_interval``, naming the marker's position).
    """
    markers = sorted(
        (onset, position, bool(_OPENS.fullmatch(text.strip())), text.strip())
        for position, (onset, _, text) in enumerate(annotations, start=1)
        if _OPENS.fullmatch(text.strip()) or _CLOSES.fullmatch(text.strip())
    )
    events: list[Event] = []
    opened: tuple[float, int, str] | None = None
    for onset, position, opens, text in markers:
        where = f"annotation {position} ({text!r} at {onset:g} s)"
        if opens and opened is not None:
            raise AnnotationError(
                f"seizure marker {where} opens a seizure while annotation {opened[1]} "
                f"({opened[2]!r} at {opened[0]:g} s) has no end marker yet",
                reason=Reason.BAD_INTERVAL,
            )
        if opens:
            opened = (onset, position, text)
            continue
        if opened is None or onset <= opened[0]:
            raise AnnotationError(
                f"seizure marker {where} ends a seizure that no earlier onset marker opened",
                reason=Reason.BAD_INTERVAL,
            )
        if opened[0] < 0:
            raise AnnotationError(
                f"seizure marker annotation {opened[1]} starts before the recording",
                reason=Reason.BAD_INTERVAL,
            )
        events.append(Event(opened[0], onset, "seizure", True))
        opened = None
    if opened is not None:
        raise AnnotationError(
            f"seizure marker annotation {opened[1]} ({opened[2]!r} at {opened[0]:g} s) has no "
            "end marker after it: the seizure's end is unknown",
            reason=Reason.BAD_INTERVAL,
        )
    return events


def _seizure_problem(position: int, onset: float, duration: float | None, text: str) -> str | None:
    """Why a seizure annotation (the ``position``-th of the file) is not a usable interval."""
    where = f"annotation {position} ({text.strip()!r} at {onset:g} s)"
    if not math.isfinite(onset) or onset < 0:
        return f"seizure {where} starts before the recording (onset must be >= 0)"
    if duration is None or duration <= 0:
        return f"seizure {where} has no duration"
    if not math.isfinite(duration):
        return f"seizure {where} has a duration of {duration:g} s"
    return None
