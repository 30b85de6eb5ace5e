"""Writes to the manifest's ``quarantine`` table (the batch guard's dropped windows).

The table's meaning and a query to read it are in ``validators.quarantine``; this module only
writes, in one bulk insert per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from preflight.errors import ManifestError, UsageError
from preflight.manifest.store import Manifest

if TYPE_CHECKING:  # ids may arrive as a CPU tensor; numpy reads it without importing torch here
    import torch

__all__ = ["QUARANTINE_DDL", "record_quarantine"]

QUARANTINE_DDL = """CREATE TABLE IF NOT EXISTS quarantine (
    run_id VARCHAR NOT NULL, step BIGINT NOT NULL,
    rec_idx INTEGER, window_idx INTEGER,   -- NULL when the batch's ids were unusable
    reason VARCHAR NOT NULL,               -- a GuardCheck value, or batch_quarantined
    message VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL
)"""


def record_quarantine(
    manifest: Manifest,
    run_id: str,
    step: int,
    ids: torch.Tensor | np.ndarray | None,
    reason: str | Sequence[str],
    message: str | Sequence[str],
) -> int:
    """Append quarantined windows to the manifest's ``quarantine`` table (created if absent).

    Args:
        manifest: a manifest open for writing.
        run_id: the training run.
        step: the training step of the batch.
        ids: (n, 2) (rec_idx, window_idx); None writes one row per reason with NULL ids.
        reason: a reason per row, or one for all rows.
        message: a message per row, or one for all rows.

    Returns:
        The number of rows written (one bulk insert).

    Raises:
        UsageError: a read-only manifest, or reasons/messages not matching the ids.
        ManifestError: DuckDB could not write.
    """
    if manifest.read_only:
        raise UsageError("manifest is open read-only; open it for writing", path=manifest.path)
    pairs = None if ids is None else np.asarray(ids, dtype=np.int64).reshape(-1, 2)
    n = len(pairs) if pairs is not None else (1 if isinstance(reason, str) else len(reason))
    reasons = [reason] * n if isinstance(reason, str) else list(reason)
    messages = [message] * n if isinstance(message, str) else list(message)
    if len(reasons) != n or len(messages) != n:
        raise UsageError(f"{n} ids but {len(reasons)} reasons and {len(messages)} messages")
    columns = {
        "run_id": [run_id] * n,
        "step": [step] * n,
        "rec_idx": [None] * n if pairs is None else pairs[:, 0].tolist(),
        "window_idx": [None] * n if pairs is None else pairs[:, 1].tolist(),
        "reason": reasons,
        "message": messages,
        "recorded_at": [datetime.now()] * n,
    }
    try:  # one bulk insert through Arrow; ``at`` is a keyword, hence BY NAME, not a column list
        manifest.con.execute(QUARANTINE_DDL)
        manifest.con.register("_quarantined", pa.table(columns))
        try:
            manifest.con.execute("INSERT INTO quarantine BY NAME SELECT * FROM _quarantined")
        finally:
            manifest.con.unregister("_quarantined")
    except duckdb.Error as exc:
        raise ManifestError(
            f"cannot record a quarantined batch: {exc}", path=manifest.path
        ) from exc
    return n
