"""Window scores put back in time order per recording, for the event-level evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from preflight.evaluation.events import recording_scores
from tests.unit.manifests import Rec, make_manifest


def test_scores_come_back_in_time_order_per_recording(tmp_path: Path) -> None:
    recs = [
        Rec("a", "p1", duration_s=50, seizures=((12.0, 25.0),)),
        Rec("b", "p2", duration_s=30),
    ]
    m = make_manifest(tmp_path / "m.duckdb", recs)
    m.set_meta({"window_s": "10", "stride_s": "10"})
    index = dict(m.query("SELECT recording_id, rec_idx FROM recordings"))
    a, b = index["a"], index["b"]
    # Shuffled, as a validation loader may yield them; window 3 of `a` was never scored.
    ids = np.array([[b, 2], [a, 4], [a, 0], [b, 0], [a, 2], [b, 1], [a, 1]])
    scores = np.array([0.32, 0.14, 0.10, 0.30, 0.12, 0.31, 0.11])
    got = {r.recording: r for r in recording_scores(m, ids, scores)}
    m.close()
    np.testing.assert_array_equal(got["a"].scores, [0.10, 0.11, 0.12, 0.0, 0.14])
    np.testing.assert_array_equal(got["b"].scores, [0.30, 0.31, 0.32])
    assert (got["a"].subject, got["a"].duration_s) == ("p1", 50)
    assert got["a"].reference == ((12.0, 25.0),)
    assert got["b"].reference == ()
    assert (got["b"].window_s, got["b"].stride_s) == (10.0, 10.0)
