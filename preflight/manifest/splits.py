"""Split assignments in the manifest: ``recordings.split`` and its provenance in ``meta``.

``split.build_split`` decides which split each patient goes to; the writes are here, each in one
transaction with the provenance (``split_method``, ``split_seed``, ``split_ratios``).
"""

from __future__ import annotations

import json

from preflight.manifest.store import Manifest

__all__ = ["shared_recordings", "write_declared_split", "write_patient_splits"]

# Patients linked by a recording they share (same content hash under two patient codes).
_SHARED = """
SELECT DISTINCT content_hash, patient FROM recordings
WHERE content_hash IN (
    SELECT content_hash FROM recordings WHERE content_hash IS NOT NULL
    GROUP BY content_hash HAVING count(DISTINCT patient) > 1)
ORDER BY content_hash, patient
"""


def shared_recordings(m: Manifest) -> list[tuple[str, str]]:
    """(content_hash, patient) of every recording held under more than one patient code."""
    return m.query(_SHARED)


def write_declared_split(m: Manifest, *, method: str) -> None:
    """Put every recording back in its declared split; record ``method``, forget seed and ratios."""
    with m.transaction():
        m.con.execute("UPDATE recordings SET split = declared_split")
        m.set_meta({"split_method": method})
        m.con.execute("DELETE FROM meta WHERE key IN ('split_seed', 'split_ratios')")


def write_patient_splits(
    m: Manifest,
    patients: list[str],
    splits: list[str],
    *,
    method: str,
    seed: int,
    ratios: dict[str, float],
) -> None:
    """Move each patient's recordings to its split, and record how the split was built.

    Args:
        m: a writable manifest with derived tables.
        patients: patient codes.
        splits: the split of each of ``patients``.
        method: the split method, recorded as ``split_method``.
        seed: recorded as ``split_seed``.
        ratios: recorded as ``split_ratios`` (JSON).
    """
    import pyarrow as pa  # here: the declared split, the common one, never loads it

    assignments = pa.table({
        "patient": pa.array(patients, pa.string()),
        "split": pa.array(splits, pa.string()),
    })  # fmt: skip
    with m.transaction():
        m.con.register("_split_assignments", assignments)
        try:
            m.con.execute(
                "UPDATE recordings SET split = a.split FROM _split_assignments a "
                "WHERE recordings.patient = a.patient"
            )
        finally:
            m.con.unregister("_split_assignments")
        m.set_meta({
            "split_method": method,
            "split_seed": str(seed),
            "split_ratios": json.dumps(ratios),
        })  # fmt: skip
