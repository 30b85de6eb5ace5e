"""The audit: scan a corpus into the manifest, measure it, check it, and build the report."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from preflight.errors import NoUsableInputError, UsageError
from preflight.manifest import queries
from preflight.manifest.store import Manifest, default_path
from preflight.pipelines.scan import ScanOptions, ScanResult, params_of, scan
from preflight.reports.model import (
    AuditReport,
    ManifestInfo,
    RejectedInput,
    ScanInfo,
    SplitStats,
    Totals,
)
from preflight.validators.results import CheckResult, Severity, verdict

PROVENANCE_KEYS = ("window_s", "stride_s", "min_overlap_s", "overlap_rule", "format", "labels_only")


def audit(
    source: str | Path, *, manifest: str | Path | None = None, options: ScanOptions | None = None
) -> AuditReport:
    """Scan ``source`` into a manifest and report its statistics and checks.

    Args:
        source: the data root folder.
        manifest: the manifest file (default ``<source>/.preflight/manifest.duckdb``).
        options: scan options.

    Returns:
        The report. Its verdict fails when an error-severity check failed.

    Raises:
        UsageError: ``source`` does not exist or is not a folder.
        NoUsableInputError: ``source`` holds no recording or annotation file at all. (A corpus
            whose files were all rejected gives a report whose ``usable_recordings`` check
            failed; the CLI exits 2 for it.)
        ManifestError: the manifest cannot be opened or is locked by another process.
    """
    root = Path(source)
    if not root.exists():
        raise UsageError("no such file or folder", path=root)
    if not root.is_dir():
        raise UsageError("SOURCE must be a folder holding recordings and annotations", path=root)
    options = options or ScanOptions()
    path = Path(manifest) if manifest is not None else default_path(root)
    with Manifest.open(path) as m:
        started = datetime.now()
        result = scan(root, m, options)
        if result.files == 0:
            raise NoUsableInputError(
                "found no recording or annotation file to audit (is this the corpus root?)",
                path=root,
            )
        report = build_report(m, result)
        _record_audit(m, started, result, options, report)
    return report


def build_report(m: Manifest, result: ScanResult) -> AuditReport:
    """Assemble the report from the manifest's derived tables."""
    totals = queries.totals(m)
    checks = reader_checks(totals)
    return AuditReport(
        verdict=verdict(checks),
        manifest=ManifestInfo(path=str(m.path), fingerprint=result.fingerprint),
        totals=Totals(**totals),
        splits={k: SplitStats(**v) for k, v in queries.split_stats(m).items()},
        checks=checks,
        rejected=[RejectedInput(**r) for r in queries.rejected(m)],
        provenance={k: m.meta(k) for k in PROVENANCE_KEYS},
        scan=ScanInfo(
            files=result.files,
            read=result.read,
            reused=result.reused,
            deleted=result.deleted,
            ignored=result.ignored,
            rebuilt=result.rebuilt,
            seconds=round(result.seconds, 3),
        ),
    )


def reader_checks(totals: dict[str, int | float]) -> list[CheckResult]:
    """The checks an audit makes before any gate: something is usable, nothing was rejected."""
    n = int(totals["rejected"])
    usable = int(totals["recordings"])
    return [
        CheckResult(
            name="usable_recordings",
            split=None,
            severity=Severity.ERROR,
            passed=usable > 0,
            observed=usable,
            expected=">= 1",
            message=f"{usable} usable recording(s) (needs >= 1); see the rejected list",
            reason=None if usable > 0 else "nothing_usable",
        ),
        CheckResult(
            name="no_rejected_inputs",
            split=None,
            severity=Severity.ERROR,
            passed=n == 0,
            observed=n,
            expected=0,
            message=f"{n} input file(s) rejected (allowed: 0); see the rejected list",
            reason=None if n == 0 else "rejected_inputs",
        ),
    ]


def _record_audit(
    m: Manifest, started: datetime, result: ScanResult, options: ScanOptions, report: AuditReport
) -> None:
    m.con.execute(
        "INSERT INTO audits SELECT coalesce(max(audit_id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?"
        " FROM audits",
        [
            started, datetime.now(), result.root, json.dumps(params_of(options)), result.read,
            result.reused, result.fingerprint, str(report.verdict),
        ],
    )  # fmt: skip
