"""The audit report: one model, rendered to the terminal and JSON (and later JUnit, HTML ...).

The JSON shape is the contract in ARCHITECTURE.md; ``provenance`` and ``scan`` are additions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from preflight.manifest.queries import SplitStats
from preflight.manifest.store import ManifestKind
from preflight.results import CheckResult, Verdict


class ManifestInfo(BaseModel):
    """Where the manifest is and its fingerprint (file hashes + windowing parameters)."""

    path: str
    fingerprint: str


class Totals(BaseModel):
    """Corpus totals; ``events`` counts seizure events."""

    recordings: int
    rejected: int
    patients: int
    events: int
    windows: int
    positive_windows: int
    hours: float
    positive_hours: float


class RejectedInput(BaseModel):
    """An input file (or one recording inside a multi-recording file) that was not used."""

    path: str
    reason: str
    message: str
    line: int | None = None


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
    provenance: dict[str, Any] = {}
    scan: ScanInfo | None = None

    @property
    def kind(self) -> ManifestKind:
        """What the audited manifest describes: recordings, or Parquet tables (a row a sample)."""
        if self.provenance.get("format") == "parquet":
            return ManifestKind.TABLES
        return ManifestKind.RECORDINGS

    def to_json(self) -> str:
        """The report as indented JSON."""
        return self.model_dump_json(indent=2)
