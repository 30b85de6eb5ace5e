"""The audit report: one model, rendered to the terminal and JSON (and later JUnit, HTML ...).

The JSON shape is the contract in ARCHITECTURE.md; ``provenance`` and ``scan`` are additions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from preflight.validators.results import CheckResult, Verdict


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


class SplitStats(BaseModel):
    """Statistics of one split."""

    recordings: int
    patients: int
    positive_recordings: int
    positive_patients: int
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


class ScanInfo(BaseModel):
    """What the scan behind the report did."""

    files: int
    read: int
    reused: int
    deleted: int
    ignored: int
    rebuilt: bool
    seconds: float


class AuditReport(BaseModel):
    """The audit report of ARCHITECTURE.md."""

    verdict: Verdict
    manifest: ManifestInfo
    totals: Totals
    splits: dict[str, SplitStats]
    checks: list[CheckResult]
    rejected: list[RejectedInput]
    notes: list[NoteRecord] = []
    provenance: dict[str, Any] = {}
    scan: ScanInfo | None = None

    def to_json(self) -> str:
        """The report as indented JSON."""
        return self.model_dump_json(indent=2)
