"""Cross-checking the duration an annotation file states against the EDF header's.

TUSZ ``# duration``, CHB-MIT File Start/End Time, Siena registration times and BIDS
``recordingDuration`` each state how long the recording is; the EDF header says it too (data
records x record duration). When they disagree by more than the tolerance, one of the two files
is not what it claims: a truncated download, or annotations paired with the wrong recording. The
recording is then rejected as ``duration_mismatch`` rather than labelled from a guess.

Tolerance: ``max(1 s, one data record)``. Summaries state whole seconds and an EDF writer can
only stop at a record boundary, so a difference below either is rounding, not a wrong file.
"""

from __future__ import annotations

__all__ = ["MIN_TOLERANCE_S", "disagree", "tolerance"]

MIN_TOLERANCE_S = 1.0


def tolerance(record_duration: float) -> float:
    """The largest difference accepted for an EDF whose data records last ``record_duration``."""
    return max(MIN_TOLERANCE_S, record_duration)


def disagree(stated: float, edf_duration: float, record_duration: float) -> bool:
    """True when ``stated`` and ``edf_duration`` differ by more than ``tolerance``.

    Args:
        stated: the duration the annotation file states, in seconds.
        edf_duration: the EDF header's duration, in seconds.
        record_duration: the EDF's data-record duration, in seconds.
    """
    return abs(stated - edf_duration) > tolerance(record_duration)
