"""What a synthetic corpus is asked to be (``SynthSpec``) and what was written (``SynthCorpus``).

The truth side is exact by construction: every number in it is the number written into the EDF
headers and annotation files, so the audit's statistics can be compared with it for equality.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from preflight.errors import Reason, UsageError

__all__ = [
    "TRUTH_FILE",
    "Corruption",
    "Defect",
    "Layout",
    "SynthCorpus",
    "SynthEvent",
    "SynthRecording",
    "SynthSpec",
]

TRUTH_FILE = "synth_truth.json"
TRUTH_VERSION = 1
_E = TypeVar("_E", bound=StrEnum)


class Layout(StrEnum):
    """The folder tree and annotation format a synthetic corpus imitates."""

    TUSZ = "tusz"
    CHBMIT = "chbmit"
    BIDS = "bids"


class Defect(StrEnum):
    """A planted fault; each one makes the corpus fail a gate check."""

    NO_DEV_POSITIVES = "no_dev_positives"  # the dev split holds no seizure (TUSZ only)
    ONE_CLASS = "one_class"  # every recording is seizure-free
    PATIENT_LEAK = "patient_leak"  # one patient id in both train and dev (TUSZ only)
    DUPLICATE_RECORDING = "duplicate_recording"  # a byte-identical EDF under another name
    CORRUPT_FILES = "corrupt_files"  # unreadable EDFs and annotation files, see ``Corruption``


class Corruption(StrEnum):
    """The broken inputs ``Defect.CORRUPT_FILES`` plants, one recording each."""

    TRUNCATED_EDF = "truncated_edf"  # the EDF is shorter than its header promises
    NOT_EDF = "not_edf"  # a text file named ``.edf``
    BAD_INTERVAL = "bad_interval"  # an annotated event with stop < start
    UNKNOWN_LABEL = "unknown_label"  # an event label outside the format's vocabulary
    ORPHAN_ANNOTATIONS = "orphan_annotations"  # annotations whose EDF does not exist
    MISSING_ANNOTATIONS = "missing_annotations"  # an EDF without annotations


# The reason an audit should give the broken file.
CORRUPTION_REASON: dict[Corruption, Reason] = {
    Corruption.TRUNCATED_EDF: Reason.EDF_TRUNCATED,
    Corruption.NOT_EDF: Reason.NOT_EDF,
    Corruption.BAD_INTERVAL: Reason.BAD_INTERVAL,
    Corruption.UNKNOWN_LABEL: Reason.UNKNOWN_LABEL,
    Corruption.ORPHAN_ANNOTATIONS: Reason.MISSING_RECORDING,
    Corruption.MISSING_ANNOTATIONS: Reason.MISSING_ANNOTATIONS,
}
SPLIT_DEFECTS = frozenset({Defect.NO_DEV_POSITIVES, Defect.PATIENT_LEAK})
SEIZURE_MARGIN_S = 10  # seconds kept free around every seizure (recording edges, neighbours)


@dataclass(frozen=True)
class SynthSpec:
    """The shape of a synthetic corpus; the defaults write about 3 hours in a few seconds.

    Raises:
        UsageError: a value is out of range or a defect does not apply to the layout.
    """

    # Which real corpus to imitate: the readers and the audit are tested on each layout.
    layout: Layout = Layout.TUSZ
    # Patients per TUSZ split folder; layouts without a declared split get their sum, unsplit.
    train_patients: int = 6
    dev_patients: int = 3
    eval_patients: int = 3
    # Several recordings per patient, so that patient-grouped splitting matters.
    recordings_per_patient: int = 2
    # Whole seconds: EDF data records last 1 s, so header durations are exact.
    min_duration_s: int = 300
    max_duration_s: int = 600
    # Fraction of recordings that hold seizures (per split; at least one each when > 0).
    seizure_rate: float = 0.5
    # Seizures per positive recording, inclusive range.
    seizures_per_recording: tuple[int, int] = (1, 2)
    # Seizure length in seconds, inclusive range; times fall on a 0.25 s grid (1 s for CHB-MIT).
    seizure_duration_s: tuple[float, float] = (20.0, 60.0)
    # Per-recording rate is drawn from these (TUSZ mixes 250 and 256 Hz); one record is 1 s.
    sampling_rates: tuple[int, ...] = (256,)
    # Number of EDF signals; None keeps the layout's default montage (23 TUSZ, 24 CHB-MIT, 19 BIDS).
    n_channels: int | None = None
    # Same spec and seed give byte-identical files.
    seed: int = 0
    # Header-only EDFs whose data area is a file hole: for scan benchmarks of thousands of files.
    sparse: bool = False
    # Planted faults, see ``Defect``.
    defects: frozenset[Defect] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", _enum(Layout, self.layout, "layout"))
        object.__setattr__(
            self, "defects", frozenset(_enum(Defect, d, "defect") for d in self.defects)
        )
        object.__setattr__(self, "sampling_rates", tuple(self.sampling_rates))
        object.__setattr__(self, "seizures_per_recording", tuple(self.seizures_per_recording))
        object.__setattr__(self, "seizure_duration_s", tuple(self.seizure_duration_s))
        self._check_counts()
        self._check_times()
        self._check_defects()

    @property
    def split_patients(self) -> dict[str | None, int]:
        """Patients per split: ``train/dev/eval`` for TUSZ, one unsplit (None) group otherwise."""
        counts: dict[str | None, int] = {
            "train": self.train_patients,
            "dev": self.dev_patients,
            "eval": self.eval_patients,
        }
        if self.layout is Layout.TUSZ:
            return counts
        return {None: sum(counts.values())}

    def _check_counts(self) -> None:
        counts = (self.train_patients, self.dev_patients, self.eval_patients)
        if min(counts) < 0 or sum(counts) < 1:
            raise UsageError(f"patients per split {counts} must be >= 0 and hold at least one")
        if self.recordings_per_patient < 1:
            raise UsageError(
                f"recordings per patient is {self.recordings_per_patient} (needs >= 1)"
            )
        if self.layout is not Layout.TUSZ and sum(counts) > 99:
            raise UsageError(f"{self.layout} corpora hold at most 99 patients, not {sum(counts)}")
        if self.n_channels is not None and not 1 <= self.n_channels <= 256:
            raise UsageError(f"channels is {self.n_channels} (needs 1 to 256)")
        if not self.sampling_rates or any(not 1 <= fs <= 4096 for fs in self.sampling_rates):
            raise UsageError(f"sampling rates {self.sampling_rates} must be 1 to 4096 Hz")

    def _check_times(self) -> None:
        if not 1 <= self.min_duration_s <= self.max_duration_s:
            raise UsageError(
                f"duration range {self.min_duration_s}-{self.max_duration_s} s is empty or < 1 s"
            )
        if not 0.0 <= self.seizure_rate <= 1.0:
            raise UsageError(f"seizure rate {self.seizure_rate} is outside [0, 1]")
        if len(self.seizures_per_recording) != 2 or len(self.seizure_duration_s) != 2:
            raise UsageError("seizures per recording and seizure duration are (low, high) pairs")
        low, high = self.seizures_per_recording
        if not 1 <= low <= high:
            raise UsageError(f"seizures per recording {low}-{high} must be 1 <= low <= high")
        short, long = self.seizure_duration_s
        if not 1.0 <= short <= long:
            raise UsageError(f"seizure duration range {short}-{long} s must be 1 <= low <= high")
        needed = high * (math.ceil(long) + 2 * SEIZURE_MARGIN_S + 1)  # + 1 s for the time grid
        if self.seizure_rate > 0 and self.min_duration_s < needed:
            raise UsageError(
                f"min duration {self.min_duration_s} s cannot hold {high} seizures of {long} s "
                f"with {SEIZURE_MARGIN_S} s margins (needs >= {needed:g} s)"
            )

    def _check_defects(self) -> None:
        split_only = ", ".join(sorted(self.defects & SPLIT_DEFECTS))
        if split_only and self.layout is not Layout.TUSZ:
            raise UsageError(f"defect {split_only} needs a declared split (layout tusz)")
        if Defect.PATIENT_LEAK in self.defects and min(self.train_patients, self.dev_patients) < 1:
            raise UsageError("defect patient_leak needs >= 1 train and >= 1 dev patient")
        if Defect.DUPLICATE_RECORDING in self.defects:
            if self.layout is Layout.TUSZ and min(self.train_patients, self.dev_patients) < 1:
                raise UsageError("defect duplicate_recording needs >= 1 train and >= 1 dev patient")
            if self.layout is not Layout.TUSZ and sum(self.split_patients.values()) < 2:
                raise UsageError("defect duplicate_recording needs >= 2 patients")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (defects sorted) that ``from_dict`` reads back."""
        data = asdict(self)
        data["layout"] = str(self.layout)
        data["defects"] = sorted(str(d) for d in self.defects)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SynthSpec:
        """Build a spec from ``to_dict`` output (lists become tuples)."""
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        values["defects"] = frozenset(values.get("defects", ()))
        return cls(**values)


def _enum(kind: type[_E], value: object, what: str) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise UsageError(f"unknown {what} {value!r} (choose from {choices})") from None


@dataclass(frozen=True)
class SynthEvent:
    """One seizure as written, in seconds from the start of its recording.

    Attributes:
        start: onset (s).
        stop: offset (s); smaller than ``start`` only in a planted ``bad_interval``.
        label: the seizure type written where the format has one (TUSZ ``.csv`` ``fnsz``, BIDS
            ``sz_foc_ia``); TUSZ ``.csv_bi`` always says ``seiz``; CHB-MIT has no label (``seiz``).
    """

    start: float
    stop: float
    label: str


@dataclass(frozen=True)
class SynthRecording:
    """The truth about one recording (or, for orphan annotations, one missing recording).

    Attributes:
        key: the file stem (``aaaaaaab_s001_t000``, ``chb01_03``,
            ``sub-01_ses-01_task-szMonitoring_run-00``).
        edf: the EDF path relative to the corpus root; None when it was deliberately not written.
        annotations: annotation files (relative) that describe it; empty when deliberately absent.
        split: ``train``/``dev``/``eval`` for TUSZ, None for layouts without a declared split.
        patient: patient id as the layout spells it (``aaaaaaab``, ``chb01``, ``01``).
        session: ``s001`` (TUSZ), ``01`` (BIDS) or None (CHB-MIT).
        start: wall-clock start written in the EDF header (and CHB-MIT/BIDS annotations).
        duration: seconds; EDF records x 1 s, equal to the annotations' declared duration.
        sampling_rate: Hz, every signal.
        n_channels: EDF signals.
        events: the seizures, in time order.
        background: TUSZ ``.csv_bi`` background style, else None: ``explicit`` (one ``bckg``
            row), ``implicit`` (no ``bckg`` row) or ``interleaved`` (``bckg`` rows in the gaps).
        rejected: True when an audit must reject it (a planted corrupt file).
        reason: the reason code of the broken file, when rejected.
        defect: the planted defect this recording carries, if any.
        corruption: which broken input it is, for ``corrupt_files``.
        copy_of: for ``duplicate_recording``, the key of the recording whose EDF bytes it copies.
    """

    key: str
    edf: str | None
    annotations: tuple[str, ...]
    split: str | None
    patient: str
    session: str | None
    start: datetime
    duration: float
    sampling_rate: float
    n_channels: int
    events: tuple[SynthEvent, ...]
    background: str | None = None
    rejected: bool = False
    reason: Reason | None = None
    defect: Defect | None = None
    corruption: Corruption | None = None
    copy_of: str | None = None

    @property
    def positive(self) -> bool:
        """True when the recording holds at least one seizure."""
        return bool(self.events)

    @property
    def seizure_seconds(self) -> float:
        """Total annotated seizure time (s)."""
        return sum(event.stop - event.start for event in self.events)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}  # no deep copies
        data["start"] = self.start.isoformat()
        data["annotations"] = list(self.annotations)
        data["events"] = [asdict(event) for event in self.events]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SynthRecording:
        """Read back ``to_dict`` output."""
        values = dict(data)
        values["start"] = datetime.fromisoformat(values["start"])
        values["annotations"] = tuple(values["annotations"])
        values["events"] = tuple(SynthEvent(**event) for event in values["events"])
        for name, kind in (("defect", Defect), ("corruption", Corruption), ("reason", Reason)):
            values[name] = None if values[name] is None else kind(values[name])
        return cls(**values)


@dataclass(frozen=True)
class SynthCorpus:
    """What ``synthesize`` wrote, also saved as ``<root>/synth_truth.json``.

    Attributes:
        root: the corpus folder.
        spec: the spec it was written from.
        channels: EDF signal labels, the same for every recording, in file order.
        recordings: every planted recording, rejected ones included, in writing order.
        files: every file written, relative to ``root`` (the truth file excluded).
    """

    root: Path
    spec: SynthSpec
    channels: tuple[str, ...]
    recordings: tuple[SynthRecording, ...]
    files: tuple[str, ...] = field(default=())

    @property
    def truth_path(self) -> Path:
        """Where the truth JSON lives."""
        return self.root / TRUTH_FILE

    def accepted(self, split: str | None = None) -> tuple[SynthRecording, ...]:
        """Recordings an audit must accept, optionally of one split."""
        return tuple(
            rec
            for rec in self.recordings
            if not rec.rejected and (split is None or rec.split == split)
        )

    def summary(self) -> dict[str, Any]:
        """Totals and per-split statistics of the accepted recordings (audit JSON key names)."""
        splits = dict.fromkeys(rec.split for rec in self.accepted() if rec.split is not None)
        return {
            "totals": _stats(self.accepted())
            | {"rejected": len(self.recordings) - len(self.accepted())},
            "splits": {name: _stats(self.accepted(name)) for name in splits},
        }

    def to_json(self) -> str:
        """The truth document: deterministic text (no absolute paths, no clock)."""
        document = {
            "format": "preflight-synth-truth",
            "version": TRUTH_VERSION,
            "spec": self.spec.to_dict(),
            "channels": list(self.channels),
            "summary": self.summary(),
            "recordings": [rec.to_dict() for rec in self.recordings],
            "files": list(self.files),
        }
        return json.dumps(document, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, root: Path) -> SynthCorpus:
        """Read a truth document written by ``to_json``.

        Raises:
            UsageError: the text is not a truth document of this version.
        """
        try:
            document = json.loads(text)
            if document.get("format") != "preflight-synth-truth" or document["version"] != 1:
                raise ValueError("not a preflight synth truth document of version 1")
            return cls(
                root=root,
                spec=SynthSpec.from_dict(document["spec"]),
                channels=tuple(document["channels"]),
                recordings=tuple(SynthRecording.from_dict(r) for r in document["recordings"]),
                files=tuple(document["files"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise UsageError(f"unreadable synth truth: {error}", path=root / TRUTH_FILE) from None


def _stats(recordings: Iterable[SynthRecording]) -> dict[str, Any]:
    recs = list(recordings)
    positive = [rec for rec in recs if rec.positive]
    return {
        "recordings": len(recs),
        "patients": len({rec.patient for rec in recs}),
        "positive_recordings": len(positive),
        "positive_patients": len({rec.patient for rec in positive}),
        "events": sum(len(rec.events) for rec in recs),
        "hours": sum(rec.duration for rec in recs) / 3600.0,
        "positive_hours": sum(rec.seizure_seconds for rec in recs) / 3600.0,
    }
