"""Looking into a parsed summary file (CHB-MIT, Siena): recordings by key, spans, problems."""

from __future__ import annotations

from preflight.errors import AnnotationError
from preflight.sources.records import AnnotationFileResult, RecordingAnnotations


def by_key(result: AnnotationFileResult) -> dict[str, RecordingAnnotations]:
    """The file's recordings by their key."""
    return {recording.key: recording for recording in result.recordings}


def spans(recording: RecordingAnnotations) -> list[tuple[float, float]]:
    """The recording's events as ``(start, stop)`` in seconds."""
    return [(event.start, event.stop) for event in recording.events]


def problem(result: AnnotationFileResult, key: str) -> AnnotationError:
    """The one problem the file reported for ``key`` (asserts there is exactly one)."""
    errors = [error for problem_key, error in result.problems if problem_key == key]
    assert len(errors) == 1
    assert isinstance(errors[0], AnnotationError)
    return errors[0]
