"""The audit report: one model, rendered to the terminal and JSON (and later JUnit, HTML ...).

The JSON shape is the contract in the README; ``provenance`` (typed values: numbers, booleans,
the split ratios as an object) and ``scan`` are additions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, field_validator

from preflight.manifest.queries import SplitStats
from preflight.manifest.runs import RunStatus
from preflight.manifest.store import ManifestKind
from preflight.results import CheckResult, Verdict
from preflight.scanning.scan import ScanInfo

if TYPE_CHECKING:  # torch: only a training run holds monitor records
    from preflight.training.monitors import MonitorRecord


class ManifestInfo(BaseModel):
    """Where the manifest is and its fingerprint (file hashes + windowing parameters)."""

    path: str
    fingerprint: str


class Totals(BaseModel):
    """Corpus totals; ``events`` counts seizure events, ``rejected`` the inputs rejected for a
    problem of their own (files, and entries of CHB-MIT / Siena lists; follow-ons not again)."""

    recordings: int
    rejected: int
    patients: int
    positive_recordings: int = 0
    positive_patients: int = 0
    events: int
    windows: int
    positive_windows: int
    hours: float
    positive_hours: float


class RejectedInput(BaseModel):
    """An input file (or one recording inside a multi-recording file) that was not used.

    ``recording`` names the entry of a CHB-MIT / Siena list when only that entry was rejected;
    ``cause_path`` (and ``cause_recording``) name the rejection this one follows from (an EDF
    whose annotation was rejected), None for a root cause.
    """

    path: str
    reason: str
    message: str
    line: int | None = None
    recording: str | None = None
    cause_path: str | None = None
    cause_recording: str | None = None


class NoteRecord(BaseModel):
    """A non-fatal note on an annotation file: a correction applied, or a default assumed.

    ``origin`` names who stands behind a correction (an errata source); ``recording_id`` is
    the recording in the manifest, None when it was rejected for another reason.
    """

    path: str
    recording: str
    recording_id: str | None = None
    line: int | None = None
    code: str
    message: str
    origin: str | None = None


# The provenance values that are numbers, whole numbers, booleans and mappings. The manifest's
# meta table holds them as text; reports stored before they were typed hold that text too.
_FLOATS = frozenset({"window_s", "stride_s", "min_overlap_s"})
_INTS = frozenset({"split_seed"})
_BOOLS = frozenset({"labels_only", "errata"})
_JSON = frozenset({"split_ratios"})


def typed_provenance(values: dict[str, Any]) -> dict[str, Any]:
    """Provenance values as JSON numbers, booleans and objects instead of their text.

    A value that is already typed, None, or text that does not parse is kept as it is (an
    older report is rendered as it was stored rather than refused).
    """
    out = dict(values)
    for key, value in values.items():
        if not isinstance(value, str):
            continue
        try:
            if key in _FLOATS:
                out[key] = float(value)
            elif key in _INTS:
                out[key] = int(value)
            elif key in _BOOLS and value.lower() in ("true", "false"):
                out[key] = value.lower() == "true"
            elif key in _JSON:
                out[key] = json.loads(value)
        except ValueError:
            continue
    return out


class AuditReport(BaseModel):
    """The audit report (the JSON contract in the README)."""

    verdict: Verdict
    manifest: ManifestInfo
    totals: Totals
    splits: dict[str, SplitStats]
    checks: list[CheckResult]
    rejected: list[RejectedInput]
    notes: list[NoteRecord] = []
    provenance: dict[str, Any] = {}
    scan: ScanInfo | None = None

    @field_validator("provenance", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> Any:
        """New reports and stored old ones alike get typed provenance values."""
        return typed_provenance(value) if isinstance(value, dict) else value

    @property
    def kind(self) -> ManifestKind:
        """What the audited manifest describes: recordings, or Parquet tables (a row a sample)."""
        if self.provenance.get("format") == "parquet":
            return ManifestKind.TABLES
        return ManifestKind.RECORDINGS

    def to_json(self) -> str:
        """The report as indented JSON."""
        return self.model_dump_json(indent=2)


@dataclass(frozen=True)
class RunResult:
    """How a run ended.

    Attributes:
        run_id: the run's id (its row in the manifest's ``runs`` table).
        status: completed, stopped_by_monitor or gate_failed (a failure raises instead).
        message: why it ended so: the gate's failed checks, the monitor's diagnosis, or the
            best validation score.
        rank: this process's rank (0 without torchrun); only rank 0 holds the details.
        audit: the audit report whose gate decided (rank 0).
        metrics: one summary per epoch (training loss, validation metrics ...).
        monitors: every monitor record.
        checkpoints: the epoch checkpoints kept.
        best_checkpoint: ``best.pt``, or None.
        run_dir: the run's folder, or None when the gate failed.
        evaluation: a completed run's evaluation after training (``training.final``): the
            chosen checkpoint, validation's scores and the held-out splits' scores.
    """

    run_id: str
    status: RunStatus
    message: str
    rank: int = 0
    audit: AuditReport | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    monitors: list[MonitorRecord] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    best_checkpoint: str | None = None
    run_dir: Path | None = None
    evaluation: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        """0 when completed, 1 when the gate or a monitor said no, 143 when SIGTERM stopped it."""
        if self.status is RunStatus.INTERRUPTED:
            return 143  # 128 + SIGTERM, as a shell reports a process the signal ended
        return 0 if self.status is RunStatus.COMPLETED else 1


@dataclass(frozen=True)
class GateNotice:
    """What the gate decided, told before anything is built (the cache, the model, an epoch).

    Attributes:
        report: the audit whose gate decided.
        train: the split trained on (None when the gate failed before roles were set).
        validation: the splits validated on.
        held_out: the splits scored once at the end.
        refused: why a smoke run cannot go on although the gate passed (its subset), or None.
        subset: a smoke run's recordings (files for tables), or None for a whole-split run.
        resumed: for ``--resume``: the run id, the checkpoint file, its epoch and step.
    """

    report: AuditReport
    train: str | None = None
    validation: tuple[str, ...] = ()
    held_out: tuple[str, ...] = ()
    refused: str | None = None
    subset: int | None = None
    resumed: tuple[str, Path, int, int] | None = None
