"""preflight's exceptions and reason codes.

Hierarchy::

    PreflightError                 base of everything preflight raises on purpose
    ├── UsageError                 bad arguments or configuration (exit code 2)
    │   └── ConfigError            a config file or value is invalid
    ├── InputError                 one input file cannot be used (becomes a rejected record)
    │   ├── RecordingError         an EDF/BDF header is unusable
    │   └── AnnotationError        an annotation file or one of its lines is unusable
    ├── ManifestError              the manifest database cannot be opened, locked or migrated
    ├── SchedulerError             a Slurm command is missing or refused (exit code 2)
    └── NoUsableInputError         nothing usable remained after scanning (exit code 2)

Every error carries its context as keyword arguments (``path``, ``line``, ``reason``) so callers
decide from data, never by parsing a message. ``Reason`` lists the reason codes of rejected inputs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

__all__ = [
    "AnnotationError",
    "ConfigError",
    "InputError",
    "ManifestError",
    "NoUsableInputError",
    "PreflightError",
    "Reason",
    "RecordingError",
    "SchedulerError",
    "UsageError",
]


class Reason(StrEnum):
    """Why an input file was rejected; stable strings used in reports and the manifest."""

    NOT_EDF = "not_edf"  # the file does not start with an EDF/BDF header
    EDF_HEADER = "edf_header"  # header fields unreadable or inconsistent
    EDF_TRUNCATED = "edf_truncated"  # file shorter than the header says
    EDF_EMPTY = "edf_empty"  # zero data records or zero signals
    UNREADABLE = "unreadable"  # permissions, I/O error, symlink loop
    UNDECODABLE = "undecodable"  # text that is not valid UTF-8 (or the format's encoding)
    EMPTY_FILE = "empty_file"  # an annotation file with no content
    BAD_FORMAT = "bad_format"  # malformed line, missing column, missing header key
    BAD_INTERVAL = "bad_interval"  # stop <= start, negative or non-finite time
    OUT_OF_RANGE = "out_of_range"  # an event past the end of its recording
    UNKNOWN_LABEL = "unknown_label"  # a label outside the format's vocabulary
    MISSING_ANNOTATIONS = "missing_annotations"  # a recording with no annotation source
    MISSING_RECORDING = "missing_recording"  # annotations whose recording is absent
    NO_DURATION = "no_duration"  # labels-only audit and the annotations give no duration
    DURATION_MISMATCH = "duration_mismatch"  # annotation and EDF header disagree on the length
    ANNOTATION_REJECTED = "annotation_rejected"  # the recording's annotations were rejected
    RECORDING_REJECTED = "recording_rejected"  # the annotation's recording was rejected
    UNSUPPORTED = "unsupported"  # a file the chosen format does not read
    MISSING_CHANNELS = "missing_channels"  # a recording lacks channels the montage needs
    IMPLAUSIBLE_HEADER = "implausible_header"  # a rate outside audit.limits
    IMPLAUSIBLE_DURATION = "implausible_duration"  # a duration past audit.limits (or not finite)
    TOO_LARGE = "too_large"  # an annotation file past audit.limits.max_annotation_mb: not read
    DUPLICATE_RECORDING = "duplicate_recording"  # a second file for the same recording stem
    INTERNAL_ERROR = "internal_error"  # preflight failed on this file (a bug): the rest goes on


class PreflightError(Exception):
    """Base class of preflight's errors.

    Args:
        message: what went wrong, naming both sides and the place.
        path: the file concerned, if any.
        line: the 1-based line in ``path``, if any.
        reason: a reason code, if the error rejects an input.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        reason: Reason | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        return f"{where}{self.message}"


class UsageError(PreflightError):
    """Bad arguments or configuration; the CLI exits with code 2."""


class ConfigError(UsageError):
    """A config file or value is invalid."""


class InputError(PreflightError):
    """One input file cannot be used; scanning records it as rejected and goes on."""

    def __init__(
        self,
        message: str,
        *,
        reason: Reason,
        path: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message, path=path, line=line, reason=reason)
        self.reason: Reason = reason


class RecordingError(InputError):
    """An EDF/BDF header is unusable."""


class AnnotationError(InputError):
    """An annotation file, or one of its lines, is unusable."""


class ManifestError(PreflightError):
    """The manifest database cannot be opened, locked, read or migrated."""


class SchedulerError(PreflightError):
    """A scheduler command (``sbatch``, ``scancel`` ...) is missing or refused; exit code 2."""


class NoUsableInputError(PreflightError):
    """Scanning found no usable recording; the CLI exits with code 2."""
