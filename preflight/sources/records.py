"""The records readers return: plain frozen dataclasses, no I/O.

Readers never load signal samples. A reader either returns these records or raises an
``InputError`` subclass (see ``preflight.errors``) with a reason code, the path and, for text, the
1-based line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One annotated interval, in seconds from the start of its recording.

    Attributes:
        start: onset in seconds (>= 0).
        stop: offset in seconds (> start).
        label: the label as written in the file (``seiz``, ``fnsz``, ``sz_foc_ia``, ``bckg`` ...).
        positive: True for a seizure label, False for background.
        channel: the channel or montage pair for per-channel annotations; None for whole-recording
            (term) annotations.
        confidence: the file's confidence or probability column, if any.
        line: 1-based line in the annotation file, if it is text.
    """

    start: float
    stop: float
    label: str
    positive: bool
    channel: str | None = None
    confidence: float | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """A non-fatal remark about an annotation file: a correction applied or a default assumed.

    The recording stays usable; the note is kept in the manifest (``notes``) and shown in every
    report, so no correction is silent.

    Attributes:
        code: a stable code (``seizure_number_mismatch``, ``erratum_applied`` ...).
        message: what was read, what was used instead, and why.
        line: 1-based line of the annotation file the note is about, if any.
        origin: who stands behind the correction (``SzCORE epilepsy2bids converter``), if anyone
            but preflight's own reading rules.
    """

    code: str
    message: str
    line: int | None = None
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingAnnotations:
    """What one annotation source says about one recording.

    Attributes:
        key: the recording's key, the EDF file name without extension (``aaaaapks_s012_t001``,
            ``chb01_03``, ``PN00-1``, ``sub-01_ses-01_task-szMonitoring_run-00``).
        events: the events, in file order.
        per_channel: True when events carry a channel (TUSZ ``.csv``, ``.tse``-less ``.lbl``).
        duration: the duration the annotations declare (csv/csv_bi ``# duration``, CHB-MIT file
            start/end, Siena registration start/end, BIDS ``recordingDuration``), if any.
        start_time: wall-clock start of the recording, if the annotations give it.
        edf_name: the EDF file name the annotations refer to (``chb01_03.edf``), if given.
        line: 1-based line where this recording's block starts in a multi-recording file.
        notes: non-fatal notes about this recording's annotations (corrections, defaults).
    """

    key: str
    events: tuple[Event, ...]
    per_channel: bool = False
    duration: float | None = None
    start_time: datetime | None = None
    edf_name: str | None = None
    line: int | None = None
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class AnnotationFileResult:
    """A parsed annotation file: one entry per recording it covers.

    Single-recording formats (TUSZ, BIDS) return one entry; patient summaries (CHB-MIT, Siena)
    return one per listed file. ``problems`` holds per-recording rejections inside a
    multi-recording file (one bad block does not spoil the others), as ``(key, error)`` pairs.
    """

    reader: str
    recordings: tuple[RecordingAnnotations, ...]
    problems: tuple[tuple[str, Exception], ...] = ()
    # Patient summaries list every file of the patient (chb24 lists only its seizure files):
    # True when a file of the patient that is absent from the summary is known to be seizure-free.
    lists_all_files: bool = True


@dataclass(frozen=True, slots=True)
class EdfHeader:
    """The header of an EDF, EDF+ or BDF file, read without touching the samples.

    Attributes:
        file_type: ``EDF``, ``EDF+C``, ``EDF+D`` or ``BDF``.
        n_records: number of data records.
        record_duration: seconds per data record.
        duration: n_records * record_duration, in seconds.
        labels: signal labels in file order, excluding ``EDF Annotations`` channels.
        sampling_rates: samples per second per signal in ``labels``.
        start_time: recording start (sub-second for EDF+ when given), naive local time.
        patient: the patient identification field, stripped.
        n_annotation_signals: number of ``EDF Annotations`` signals.
        annotations: EDF+ embedded annotations (onset, duration, text), if any.
        header_bytes: size of the header in bytes.
        data_bytes: bytes the header promises for the data records.
    """

    file_type: str
    n_records: int
    record_duration: float
    duration: float
    labels: tuple[str, ...]
    sampling_rates: tuple[float, ...]
    start_time: datetime | None
    patient: str = ""
    n_annotation_signals: int = 0
    annotations: tuple[tuple[float, float | None, str], ...] = field(default=())
    header_bytes: int = 0
    data_bytes: int = 0
