"""The ``quarantine`` table: where the batch guard's dropped windows are recorded.

One row per window of a quarantined batch, so nothing is dropped without a trace::

    quarantine (run_id VARCHAR, step BIGINT, rec_idx INTEGER, window_idx INTEGER,
                reason VARCHAR, message VARCHAR, recorded_at TIMESTAMP)

``reason`` is the failing check (``non_finite``, ``shape`` ...; ``batch_guard.GuardCheck``) for
the windows a check named, and ``batch_quarantined`` for the healthy windows dropped with their
batch. ``rec_idx`` / ``window_idx`` join the manifest's ``windows`` and ``recordings``; they are
NULL when the batch's ids themselves were unusable. Find a run's quarantines with::

    SELECT q.step, r.recording_id, q.window_idx, q.reason, q.message
    FROM quarantine q JOIN recordings r USING (rec_idx) WHERE q.run_id = ? ORDER BY q.step
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from preflight.manifest.quarantine import QUARANTINE_DDL, record_quarantine
from preflight.manifest.store import Manifest
from preflight.validators.batch_guard import GuardResult

__all__ = [
    "BATCH_QUARANTINED",
    "QUARANTINE_DDL",
    "ManifestRecorder",
    "QuarantineRows",
    "quarantine_rows",
    "record_quarantine",
]

BATCH_QUARANTINED = "batch_quarantined"  # reason of a healthy window dropped with its batch


def quarantine_rows(result: GuardResult) -> tuple[np.ndarray | None, list[str], list[str]]:
    """The ``quarantine`` rows of a failed batch: every window, with why it was dropped.

    A window an error names gets that error's check and message (one row per error); the other
    windows of the batch get ``batch_quarantined``. Without usable ids, one row per error.

    Returns:
        ``(ids, reasons, messages)``: int64 (n, 2) or None, and n reasons and messages.
    """
    errors = result.errors
    if result.ids is None or not all(e.ids for e in errors):
        return None, [str(e.check) for e in errors], [e.message for e in errors]
    rows = [r for e in errors for r in e.rows]
    reasons = [str(e.check) for e in errors for _ in e.rows]
    messages = [e.message for e in errors for _ in e.rows]
    bystanders = sorted(set(range(result.batch_size)) - set(rows))
    rows += bystanders
    reasons += [BATCH_QUARANTINED] * len(bystanders)
    names = ", ".join(str(e.check) for e in errors)
    messages += [f"dropped with its batch ({names})"] * len(bystanders)
    return result.ids.numpy()[rows].astype(np.int64), reasons, messages


# One quarantined batch as the recorder keeps it: (step, ids (n, 2) or None, reasons, messages).
QuarantineRows = tuple[int, np.ndarray | None, list[str], list[str]]


class ManifestRecorder:
    """A guard recorder writing each quarantined batch into the manifest: the one writer of the
    ``quarantine`` table, for a user's loop (``GuardedLoader``) and for ``preflight train``.

    Args:
        manifest: an open, writable ``Manifest``; or the path of one, opened (waiting for its
            lock) for each write and closed again, so several processes (torchrun ranks) can
            share one manifest file while none holds it open.
        run_id: the training run the rows belong to.
        buffered: keep the rows until ``write`` instead of writing each batch at once (the
            trainer gathers every rank's rows and writes them in one transaction per epoch).
    """

    def __init__(
        self, manifest: Manifest | str | Path, run_id: str, *, buffered: bool = False
    ) -> None:
        self.manifest = manifest
        self.run_id = run_id
        self.buffered = buffered
        self.pending: list[QuarantineRows] = []

    def __call__(self, step: int, result: GuardResult) -> None:
        self._add((step, *quarantine_rows(result)))

    def dropped(self, step: int, ids: torch.Tensor) -> None:
        """A healthy batch skipped because another rank quarantined its batch at this step."""
        pairs = ids.numpy().astype(np.int64).reshape(-1, 2)
        message = "dropped: another rank quarantined its batch at this step"
        self._add((step, pairs, [BATCH_QUARANTINED] * len(pairs), [message] * len(pairs)))

    def take(self) -> list[QuarantineRows]:
        """The rows kept since the last ``take``, which are forgotten here."""
        rows, self.pending = self.pending, []
        return rows

    def write(self, rows: Sequence[QuarantineRows]) -> int:
        """Write ``rows`` into the ``quarantine`` table in one transaction; returns the count."""
        if not rows:
            return 0
        if isinstance(self.manifest, Manifest):
            return self._write(self.manifest, rows)
        with Manifest.open(self.manifest) as manifest:
            return self._write(manifest, rows)

    def _add(self, rows: QuarantineRows) -> None:
        if self.buffered:
            self.pending.append(rows)
        else:
            self.write([rows])

    def _write(self, manifest: Manifest, rows: Sequence[QuarantineRows]) -> int:
        with manifest.transaction():
            return sum(record_quarantine(manifest, self.run_id, *row) for row in rows)
