"""Seizure intervals and window labels, computed in SQL from event intervals.

No window is ever loaded. Windows and seizures are keyed by the recordings' dense integer
``rec_idx`` (joins on integers are ten times faster than on path strings at 1.5 M windows); the
``window_labels`` view adds recording ids and times for people. For a recording of duration ``D``,
window ``i`` spans
``[i * stride, i * stride + window)`` and exists when ``i * stride + window <= D``. Its positive
overlap is the length of its intersection with the recording's *seizures*: the union of the
positive events of its label source, so overlapping or duplicated annotations are never counted
twice. A window is positive when that overlap is greater than zero and at least ``min_overlap_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from preflight.manifest.store import Manifest

if TYPE_CHECKING:
    import numpy as np

# Float tolerance for "the window lies entirely inside the recording": durations such as
# 2348.0 s read from text and multiplied out from data records must not lose their last window.
EPS = 1e-9

# Events may end this far past a recording's end: `# duration` is written with two decimals.
END_TOLERANCE_S = 0.01


@dataclass(frozen=True, slots=True)
class WindowParams:
    """How recordings are cut into windows; recorded in the manifest as provenance.

    Attributes:
        window_s: window length in seconds.
        stride_s: step between window starts in seconds.
        min_overlap_s: seizure overlap (seconds) a window needs to be positive; 0 means any
            overlap greater than zero.
    """

    window_s: float = 10.0
    stride_s: float = 10.0
    min_overlap_s: float = 0.0

    def overlap_rule(self) -> str:
        """The labelling rule in words, for reports and provenance."""
        if self.min_overlap_s <= 0:
            return "positive if seizure overlap > 0 s"
        return f"positive if seizure overlap >= {self.min_overlap_s:g} s"


_SEIZURES = """
CREATE OR REPLACE TABLE seizures AS
WITH pos AS (
    SELECT e.recording_id, e.start_s, e.stop_s, e.event_idx
    FROM events e JOIN recordings r
      ON r.recording_id = e.recording_id AND r.label_source = e.source_path
    WHERE e.positive
), ordered AS (
    -- A total order (event_idx breaks ties between identical intervals): both window passes
    -- must see the rows in the same order, or identical events split a seizure at random.
    SELECT *, max(stop_s) OVER (
        PARTITION BY recording_id ORDER BY start_s, stop_s, event_idx
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM pos
), grouped AS (
    SELECT *, sum(CASE WHEN reach IS NULL OR start_s > reach THEN 1 ELSE 0 END) OVER (
        PARTITION BY recording_id ORDER BY start_s, stop_s, event_idx
        ROWS UNBOUNDED PRECEDING) AS grp
    FROM ordered
)
SELECT g.recording_id, any_value(r.rec_idx) AS rec_idx, CAST(grp - 1 AS INTEGER) AS seizure_idx,
       min(g.start_s) AS start_s, max(g.stop_s) AS stop_s
FROM grouped g JOIN recordings r USING (recording_id)
GROUP BY g.recording_id, grp
"""

_WINDOWS = """
CREATE OR REPLACE TABLE windows AS
WITH w AS (
    SELECT r.rec_idx, CAST(t.i AS INTEGER) AS window_idx
    FROM recordings r,
         range(0, CAST(floor((r.duration_s - $window + $eps) / $stride) AS BIGINT) + 1) t(i)
    WHERE r.duration_s + $eps >= $window
), ov AS (
    -- Only the windows a seizure can touch: i * stride < stop and i * stride + window > start.
    SELECT s.rec_idx, CAST(t.i AS INTEGER) AS window_idx,
           sum(least(s.stop_s, t.i * $stride + $window) - greatest(s.start_s, t.i * $stride))
               AS overlap_s
    FROM seizures s,
         range(greatest(0, CAST(floor((s.start_s - $window) / $stride) AS BIGINT)),
               CAST(ceil(s.stop_s / $stride) AS BIGINT) + 1) t(i)
    WHERE t.i * $stride < s.stop_s AND t.i * $stride + $window > s.start_s
    GROUP BY ALL
)
SELECT w.rec_idx, w.window_idx,
       coalesce(ov.overlap_s, 0.0) AS overlap_s,
       coalesce(ov.overlap_s, 0.0) > 0 AND coalesce(ov.overlap_s, 0.0) >= $min_overlap AS positive
FROM w LEFT JOIN ov USING (rec_idx, window_idx)
"""

# Window times are derived, not stored: start = window_idx * stride. Literals are safe here:
# they are floats formatted by repr, never text from a data file.
_VIEW = """
CREATE OR REPLACE VIEW window_labels AS
SELECT r.recording_id, r.split, w.rec_idx, w.window_idx,
       w.window_idx * {stride!r} AS start_s, w.window_idx * {stride!r} + {window!r} AS stop_s,
       w.overlap_s, w.positive
FROM windows w JOIN recordings r USING (rec_idx)
"""


# The windows of some splits with a seizure id and a patient code each (see ``window_rows``).
_WINDOW_ROWS = """
WITH pos AS (  -- the first seizure each positive window overlaps, for per-event spreading
    SELECT w.rec_idx, w.window_idx, min(s.seizure_gid) AS seizure_gid
    FROM windows w
    JOIN (SELECT rec_idx, start_s, stop_s,
                 CAST(row_number() OVER (ORDER BY rec_idx, seizure_idx) - 1 AS INTEGER)
                     AS seizure_gid
          FROM seizures) s
      ON s.rec_idx = w.rec_idx
     AND w.window_idx * $stride < s.stop_s AND w.window_idx * $stride + $window > s.start_s
    WHERE w.positive
    GROUP BY ALL
)
SELECT w.rec_idx, w.window_idx, w.positive,
       coalesce(pos.seizure_gid, -1) AS seizure,
       CAST(dense_rank() OVER (ORDER BY r.patient) - 1 AS INTEGER) AS patient
FROM windows w
JOIN recordings r USING (rec_idx)
LEFT JOIN pos USING (rec_idx, window_idx)
WHERE list_contains($splits, r.split)
ORDER BY w.rec_idx, w.window_idx
"""


def build_seizures(con: duckdb.DuckDBPyConnection) -> None:
    """Merge each recording's positive events (from its label source) into disjoint seizures."""
    con.execute(_SEIZURES)


def build_windows(con: duckdb.DuckDBPyConnection, params: WindowParams) -> None:
    """Create the ``windows`` table (one row per window) and the ``window_labels`` view."""
    con.execute(
        _WINDOWS,
        {
            "window": params.window_s,
            "stride": params.stride_s,
            "min_overlap": params.min_overlap_s,
            "eps": EPS,
        },
    )
    con.execute(_VIEW.format(stride=float(params.stride_s), window=float(params.window_s)))


def window_rows(
    m: Manifest, splits: Sequence[str], *, window_s: float, stride_s: float
) -> dict[str, np.ndarray]:
    """Every window of ``splits``, in (recording, window) order, as arrays.

    Args:
        m: an audited manifest of recordings (a ``windows`` table).
        splits: split names.
        window_s: window length (s) the windows were cut with.
        stride_s: their stride (s).

    Returns:
        ``rec_idx``, ``window_idx``, ``positive``; ``seizure``: a manifest-wide id of the first
        seizure a positive window overlaps (-1 when negative); ``patient``: a dense patient code.
    """
    return m.con.execute(
        _WINDOW_ROWS, {"splits": list(splits), "window": window_s, "stride": stride_s}
    ).fetchnumpy()
