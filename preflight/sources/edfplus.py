"""EDF+ embedded annotations as seizure labels.

EDF+ files carry free-text annotations (``Seizure``, ``Eyes closed``, ``RECORD START`` ...).
Texts in the generic seizure vocabulary become positive events and need a duration and an onset
inside the recording (else the file is rejected ``bad_interval``, naming the annotation's
position); other texts with a duration become background notes; instant markers without a
duration, and notes that start before the recording, are not intervals of it and are left out.
"""

from __future__ import annotations

import math

from preflight.errors import AnnotationError, Reason
from preflight.sources.labels import GENERIC_SEIZURE
from preflight.sources.records import AnnotationFileResult, EdfHeader, Event, RecordingAnnotations

READER_NAME = "edfplus-annotations"
READER_VERSION = "2"  # 2: EDF+ seizure annotations with a negative onset are rejected


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
    for position, (onset, duration, text) in enumerate(header.annotations, start=1):
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
