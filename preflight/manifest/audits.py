"""The audit history: one ``audits`` row per audit, with its gate records and its report.

An audit whose gate inputs all match an earlier audit's (the same ``gate_key``) reuses that
audit's check records; ``preflight report`` renders the stored report again.
"""

from __future__ import annotations

from datetime import datetime

from preflight.manifest.store import Manifest

__all__ = ["audit_report", "gate_records", "last_audit_id", "last_audit_root", "record_audit"]


def gate_records(m: Manifest, gate_key: str) -> str | None:
    """The check records (JSON) of the latest audit with ``gate_key``, or None."""
    row = m.query(
        "SELECT checks FROM audits WHERE gate_key = ? AND checks IS NOT NULL"
        " ORDER BY audit_id DESC LIMIT 1",
        [gate_key],
    )
    return str(row[0][0]) if row else None


def record_audit(
    m: Manifest,
    *,
    started: datetime,
    finished: datetime,
    root: str,
    params: str,
    files_read: int,
    files_reused: int,
    fingerprint: str,
    verdict: str,
    gate_key: str,
    checks: str,
    report: str,
) -> None:
    """Append an audit to the history, numbered after the latest.

    Args:
        m: a writable manifest.
        started: when the audit started.
        finished: when it finished.
        root: the data root it scanned.
        params: the scan options (JSON).
        files_read: files read by the scan.
        files_reused: files the scan took from the parse cache.
        fingerprint: the manifest fingerprint after the scan.
        verdict: the audit's verdict.
        gate_key: hash of everything the gate's records depend on.
        checks: the gate's check records (JSON).
        report: the whole audit report (JSON).
    """
    m.con.execute(
        "INSERT INTO audits SELECT coalesce(max(audit_id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
        " FROM audits",
        [
            started, finished, root, params, files_read, files_reused, fingerprint, verdict,
            gate_key, checks, report,
        ],
    )  # fmt: skip


def audit_history(m: Manifest) -> list[tuple[int, datetime, str]]:
    """``(audit_id, finished, verdict)`` of every audit with a stored report, oldest first."""
    rows = m.query(
        "SELECT audit_id, finished_at, verdict FROM audits WHERE report IS NOT NULL"
        " ORDER BY audit_id"
    )
    return [(int(a), f, str(v)) for a, f, v in rows]


def audit_report(m: Manifest, audit_id: int | None = None) -> str | None:
    """The stored report (JSON) of audit ``audit_id`` (default: the latest), or None."""
    row = m.query(
        "SELECT report FROM audits WHERE report IS NOT NULL AND (? IS NULL OR audit_id = ?)"
        " ORDER BY audit_id DESC LIMIT 1",
        [audit_id, audit_id],
    )
    return str(row[0][0]) if row else None


def last_audit_root(m: Manifest) -> str | None:
    """The data root of the latest audit, or None when no audit is recorded."""
    rows = m.query("SELECT root FROM audits ORDER BY audit_id DESC LIMIT 1")
    return str(rows[0][0]) if rows else None


def last_audit_id(m: Manifest) -> int | None:
    """The id of the latest audit, or None when no audit is recorded."""
    return m.query("SELECT max(audit_id) FROM audits")[0][0]
