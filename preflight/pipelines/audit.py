"""The audit: scan a corpus into the manifest, split it, gate it, and build the report.

The gate imports pandas and pandera (about a second; Great Expectations too, for a user suite
with expectation kinds that ``validators.direct`` leaves to it). Its records depend only on
the manifest fingerprint, the split settings, the suite and the gate config, so an audit whose
inputs all match the previous audit's reuses that audit's records instead of running the suites
again: re-auditing an unchanged corpus stays sub-second, and any change runs the gate.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from preflight._version import __version__
from preflight.config import AuditConfig, PreflightConfig
from preflight.errors import NoUsableInputError, UsageError
from preflight.manifest import audits, queries
from preflight.manifest.store import Manifest, ManifestKind, default_path
from preflight.progress import Working
from preflight.reports.model import (
    AuditReport,
    ManifestInfo,
    NoteRecord,
    RejectedInput,
    SplitStats,
    Totals,
)
from preflight.results import CheckResult, Severity, verdict
from preflight.scanning.discover import Discovery, SourceFormat, discover
from preflight.scanning.scan import ScanOptions, ScanResult, params_of, scan
from preflight.sources.parquet import ParquetOptions
from preflight.split import build_split

PROVENANCE_KEYS = (
    "window_s", "stride_s", "min_overlap_s", "overlap_rule", "format", "labels_only", "errata",
    "split_method", "split_seed", "split_ratios", "suite_name", "suite_hash",
)  # fmt: skip


def scan_options(
    config: AuditConfig, *, workers: int | None = None, progress: bool = False
) -> ScanOptions:
    """Scan options from the ``audit`` section of a config."""
    return ScanOptions(
        fmt=config.format, labels_only=config.labels_only, window=config.window_params(),
        workers=workers, progress=progress, errata=config.errata, limits=config.limits,
    )  # fmt: skip


def audit(
    source: str | Path,
    *,
    manifest: str | Path | None = None,
    options: ScanOptions | None = None,
    config: PreflightConfig | None = None,
    suite: str | Path | None = None,
) -> AuditReport:
    """Scan ``source`` into a manifest, build its split, gate it, and report.

    Args:
        source: the data root folder.
        manifest: the manifest file (default ``<source>/.preflight/manifest.duckdb``).
        options: scan options (default: from ``config.audit``).
        config: thresholds, split method and windowing (default: ``PreflightConfig()``).
        suite: an expectation suite name or file, overriding ``config.gate.suite``.

    Returns:
        The report. Its verdict fails when an error-severity check failed.

    Raises:
        UsageError: ``source`` does not exist or is not a folder; ``ConfigError`` for an invalid
            suite or split setting.
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
    cfg = config or PreflightConfig()
    options = options or scan_options(cfg.audit)
    path = Path(manifest) if manifest is not None else default_path(root)
    with Manifest.open(path) as m:
        started = datetime.now()
        # One transaction from the scan to the audit record: a kill anywhere leaves the manifest
        # as it was, or holding the new tables with their split, gate records and audit row.
        # The scan's own transaction joins this one; the gate runs inside it (one writer).
        with m.transaction():
            result = _scan(root, m, options, cfg.parquet)
            if result.files > 0:
                report = _split_gate_record(m, result, options, cfg, suite, started)
        if result.files > 0 and m.kind is ManifestKind.RECORDINGS:
            _require_windows(report, queries.longest_recording_s(m), options)
        if result.files == 0:
            what = (
                "Parquet file" if m.kind is ManifestKind.TABLES else "recording or annotation file"
            )
            raise NoUsableInputError(
                f"found no {what} to audit (is this the corpus root?)", path=root
            )
    return report


def _require_windows(report: AuditReport, longest_s: float, options: ScanOptions) -> None:
    """One clear error when recordings exist but the window is longer than all of them (rather
    than a failed check per split saying it has 0 positive and 0 negative windows).

    Raises:
        UsageError: usable recordings, and not one window.
    """
    if report.totals.recordings == 0 or report.totals.windows > 0:
        return
    window = options.window.window_s
    raise UsageError(
        f"the window ({window:g} s: --window or audit.window_s) is longer than every recording "
        f"(the longest is {longest_s:g} s), so no window fits in any; choose a window of at "
        f"most {longest_s:g} s"
    )


def require_usable(report: AuditReport, source: str | Path, *, listed: bool = True) -> None:
    """Raise when an audit found inputs but every one of them was rejected.

    Args:
        report: the audit's report.
        source: the corpus folder, for the message.
        listed: whether the rejected inputs were printed (not under ``--quiet``).

    Raises:
        NoUsableInputError: ``report`` counts no usable recording (or Parquet file).
    """
    if report.totals.recordings == 0:
        where = (
            "see the list above"
            if listed
            else f"`preflight report {report.manifest.path}` lists them"
        )
        raise NoUsableInputError(
            f"no usable recording in {source}; every input was rejected ({where})"
        )


def _split_gate_record(
    m: Manifest,
    result: ScanResult,
    options: ScanOptions,
    cfg: PreflightConfig,
    suite: str | Path | None,
    started: datetime,
) -> AuditReport:
    """After the scan: build the split, gate it, and record the audit with its report."""
    build_split(m, method=cfg.split.method, ratios=cfg.split.ratios, seed=cfg.split.seed)
    key = _gate_key(m, result, cfg, suite)
    with Working("running the gate", enabled=options.progress):
        gated = _gate(m, cfg, suite, key)
    totals = queries.totals(m)
    report = build_report(m, result, reader_checks(totals) + gated, totals)
    _record_audit(m, started, result, options, report, key, gated)
    return report


def _reads_tables(
    root: Path, options: ScanOptions, parquet: ParquetOptions, found: Discovery | None = None
) -> bool:
    """Whether ``root`` is audited as Parquet tables: ``--format parquet``, or ``auto`` and the
    folder holds Parquet files but no file an EEG reader owns (``found``: its walk, if made)."""
    if options.fmt is SourceFormat.PARQUET:
        return True
    if options.fmt is not SourceFormat.AUTO:
        return False
    found = found if found is not None else discover(root, SourceFormat.AUTO)
    if found.files:
        return False
    from preflight.scanning.parquet_scan import is_parquet_corpus  # pyarrow: Parquet only

    return is_parquet_corpus(root, parquet)


def _scan(root: Path, m: Manifest, options: ScanOptions, parquet: ParquetOptions) -> ScanResult:
    """The EEG scan, or the Parquet one (``_reads_tables``); the folder is walked once."""
    found = None if options.fmt is SourceFormat.PARQUET else discover(root, SourceFormat.AUTO)
    if found is None or _reads_tables(root, options, parquet, found):
        from preflight.scanning.parquet_scan import scan_parquet  # pyarrow: Parquet only

        return scan_parquet(root, m, parquet)
    return scan(root, m, options, found=found)


def build_report(
    m: Manifest,
    result: ScanResult,
    checks: list[CheckResult],
    totals: dict[str, Any] | None = None,
) -> AuditReport:
    """Assemble the report from the manifest's derived tables and the check records."""
    totals = queries.totals(m) if totals is None else totals
    return AuditReport(
        verdict=verdict(checks),
        manifest=ManifestInfo(path=str(m.path), fingerprint=result.fingerprint),
        totals=Totals(**totals),
        splits={k: SplitStats(**v) for k, v in queries.split_stats(m).items()},
        checks=checks,
        rejected=[RejectedInput(**r) for r in queries.rejected(m)],
        notes=[NoteRecord(**n) for n in queries.notes(m)],
        provenance={k: m.meta(k) for k in PROVENANCE_KEYS},
        scan=result.info(),
    )


def reader_checks(totals: dict[str, int | float]) -> list[CheckResult]:
    """The check an audit makes before the gate: something is usable at all."""
    usable = int(totals["recordings"])
    rejected = int(totals.get("rejected") or 0)
    see = "; see the rejected list" if rejected else ""
    return [
        CheckResult(
            name="usable_recordings",
            split=None,
            severity=Severity.ERROR,
            passed=usable > 0,
            observed=usable,
            expected=">= 1",
            message=f"{usable} usable recording(s) (needs >= 1){see}",
            reason=None if usable > 0 else "nothing_usable",
        )
    ]


def _gate(
    m: Manifest, cfg: PreflightConfig, suite: str | Path | None, key: str
) -> list[CheckResult]:
    """The gate's records: reused from an audit with the same key, else run."""
    records = audits.gate_records(m, key)
    if records is not None:
        return [CheckResult.model_validate(c) for c in json.loads(records)]
    if queries.recording_count(m) == 0:
        return []  # nothing usable: the reader check says so; there is nothing to gate
    from preflight.validators.gate import run_gate  # pandas, pandera, GX: only when needed

    result = run_gate(m, cfg.gate, suite=suite)
    m.set_meta({"suite_name": result.suite_name, "suite_hash": result.suite_hash})
    return result.checks


def _gate_key(
    m: Manifest, result: ScanResult, cfg: PreflightConfig, suite: str | Path | None
) -> str:
    """Everything the gate's records depend on, hashed."""
    digest = hashlib.blake2b(digest_size=16)
    parts = [
        __version__, result.fingerprint, cfg.gate.model_dump_json(), str(suite),
        *(str(m.meta(k)) for k in ("split_method", "split_seed", "split_ratios")),
        _suite_bytes_digest(suite or cfg.gate.suite),
    ]  # fmt: skip
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _suite_bytes_digest(suite: str | Path | None) -> str:
    """A digest of the suite file(s) that may run, read directly (no pandas, no GX)."""
    digest = hashlib.blake2b(digest_size=16)
    packaged = resources.files("preflight.expectations")
    for entry in sorted(packaged.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            digest.update(entry.read_bytes())
    if suite is not None and Path(suite).is_file():
        digest.update(Path(suite).read_bytes())
    return digest.hexdigest()


def _record_audit(
    m: Manifest,
    started: datetime,
    result: ScanResult,
    options: ScanOptions,
    report: AuditReport,
    key: str,
    gated: list[CheckResult],
) -> None:
    checks = json.dumps([c.model_dump(mode="json") for c in gated])
    audits.record_audit(
        m, started=started, finished=datetime.now(), root=result.root,
        params=json.dumps(params_of(options)), files_read=result.read,
        files_reused=result.reused, fingerprint=result.fingerprint, verdict=str(report.verdict),
        gate_key=key, checks=checks, report=report.to_json(),
    )  # fmt: skip


def last_report(m: Manifest, audit_id: int | None = None) -> AuditReport:
    """The report of the latest audit of a manifest (or of audit ``audit_id``).

    Raises:
        UsageError: the manifest holds no such audit.
    """
    stored = audits.audit_report(m, audit_id)
    if stored is None:
        which = "any audit" if audit_id is None else f"audit {audit_id}"
        raise UsageError(
            f"the manifest holds no report of {which}; run `preflight audit`", path=m.path
        )
    return AuditReport.model_validate_json(stored)
