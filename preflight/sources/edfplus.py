"""EDF+ embedded annotations as seizure labels.

EDF+ files carry free-text annotations (``Seizure``, ``Eyes closed``, ``RECORD START`` ...).
Texts in the generic seizure vocabulary become positive events and need a duration; other texts
with a duration become background notes; instant markers without a duration are not intervals
and are left out.
"""

from __future__ import annotations

from preflight.errors import AnnotationError, Reason
from preflight.sources.labels import GENERIC_SEIZURE
from preflight.sources.records import AnnotationFileResult, EdfHeader, Event, RecordingAnnotations

READER_NAME = "edfplus-annotations"
READER_VERSION = "1"


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
    for onset, duration, text in header.annotations:
        positive = is_seizure_text(text)
        if duration is None or duration <= 0:
            if positive:
                err = AnnotationError(
                    f"seizure annotation {text!r} at {onset:g} s has no duration",
                    reason=Reason.BAD_INTERVAL,
                )
                return AnnotationFileResult(READER_NAME, (), problems=((key, err),))
            continue
        events.append(Event(onset, onset + duration, text.strip(), positive))
    rec = RecordingAnnotations(key=key, events=tuple(events), duration=header.duration)
    return AnnotationFileResult(READER_NAME, (rec,))
