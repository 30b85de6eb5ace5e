"""SzCORE any-overlap event scoring of one recording, per subject and pooled.

Events are scored by ``timescoring``, the SzCORE reference implementation, with the parameters
of ``SZCORE`` (named in every result). Reference seizures and predicted events are merged when
closer than 90 s and split when longer than 300 s; a reference seizure is detected when any
predicted event overlaps it widened by 30 s before and 60 s after; a predicted event touching no
detected, widened seizure is a false alarm. ``timescoring`` works on 10 Hz masks, so event times
are rounded to 0.1 s.

timescoring returns ``NaN`` for a score without a denominator; that never leaves this module.
Only its counts are kept (reference events, predicted events, detections, false alarms);
sensitivity, precision, F1 and false alarms per 24 h are recomputed from them with its formulas,
and a metric without a denominator is ``None`` with the reason in ``undefined``. Per-subject and
pooled results sum the counts of their recordings before computing the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from timescoring.annotations import Annotation
from timescoring.scoring import EventScoring

from preflight.errors import UsageError

__all__ = [
    "SZCORE",
    "Event",
    "EventMetrics",
    "PooledEventMetrics",
    "ScoringParams",
    "event_metrics",
    "pooled_event_metrics",
]

_FS = 10  # timescoring's EventScoring resamples every annotation to 10 Hz
_DAY_S = 86_400.0
Event = tuple[float, float]


@dataclass(frozen=True)
class ScoringParams:
    """The parameters of an event scorer, named so that a report can cite them.

    Attributes:
        name: the scorer's name as reports print it.
        tolerance_start_s: a reference seizure is widened by this much before its onset.
        tolerance_end_s: ... and by this much after its end.
        min_overlap: the relative overlap a detection needs (0 means any overlap).
        max_event_duration_s: longer events are split into pieces of at most this length.
        min_gap_s: events separated by less than this are merged.
    """

    name: str
    tolerance_start_s: float
    tolerance_end_s: float
    min_overlap: float
    max_event_duration_s: float
    min_gap_s: float

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict."""
        return asdict(self)


SZCORE = ScoringParams(
    name="SzCORE any-overlap",
    tolerance_start_s=30,
    tolerance_end_s=60,
    min_overlap=0,
    max_event_duration_s=300,
    min_gap_s=90,
)


@dataclass(frozen=True)
class EventMetrics:
    """Event-level scores of one recording, one subject, or a pool of recordings.

    Attributes:
        where: what was scored (``recording X``, ``subject Y``, ``pooled over N recordings``).
        subject: the subject, or None for a pool spanning subjects.
        n_recordings: recordings summed into these counts.
        duration_s: total recording time scored.
        n_reference: reference seizures after merging and splitting.
        n_predicted: predicted events after merging and splitting.
        true_positives: reference seizures detected.
        false_positives: predicted events that overlap no detected, widened seizure.
        sensitivity, precision, f1: None where undefined.
        false_alarms_per_24h: false positives per 24 h of recording.
        undefined: metric name -> why it is undefined.
        params: the scorer and its parameters.
    """

    where: str
    subject: str | None
    n_recordings: int
    duration_s: float
    n_reference: int
    n_predicted: int
    true_positives: int
    false_positives: int
    sensitivity: float | None
    precision: float | None
    f1: float | None
    false_alarms_per_24h: float
    undefined: Mapping[str, str]
    params: ScoringParams = SZCORE

    @property
    def scorer(self) -> str:
        """The scorer's name."""
        return self.params.name

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict, with ``scorer`` and its parameters."""
        return {"scorer": self.scorer, **asdict(self)}


@dataclass(frozen=True)
class PooledEventMetrics:
    """Event scores per recording, per subject (recordings summed) and pooled over all.

    Attributes:
        per_recording: one record per recording, in input order.
        per_subject: subject -> counts summed over that subject's recordings.
        pooled: counts summed over every recording.
        threshold: the window threshold the predictions came from, if known.
    """

    per_recording: tuple[EventMetrics, ...]
    per_subject: Mapping[str, EventMetrics]
    pooled: EventMetrics
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict, with the scorer and its parameters at the top."""
        return {
            "scorer": self.pooled.scorer,
            "params": self.pooled.params.to_dict(),
            "threshold": self.threshold,
            "pooled": self.pooled.to_dict(),
            "per_subject": {k: v.to_dict() for k, v in self.per_subject.items()},
            "per_recording": [m.to_dict() for m in self.per_recording],
        }


def event_metrics(
    reference: Sequence[Event],
    predicted: Sequence[Event],
    *,
    duration_s: float,
    params: ScoringParams = SZCORE,
    recording: str = "recording",
    subject: str | None = None,
) -> EventMetrics:
    """Score one recording's predicted events against its reference seizures.

    Args:
        reference: reference seizures as ``(start_s, stop_s)``.
        predicted: predicted events as ``(start_s, stop_s)``; overlapping ones are fine. Events
            of either kind must start inside the recording; their ends are clipped to it.
        duration_s: the recording's duration (s), which the false-alarm rate divides by.
        params: the scorer's parameters.
        recording: the recording's name, used in results and messages.
        subject: the recording's subject, for per-subject pooling.

    Returns:
        The counts and metrics of this recording.

    Raises:
        UsageError: a non-positive duration, or an event that is not a valid interval inside it.
    """
    if not duration_s > 0:
        raise UsageError(f"recording {recording}: duration_s {duration_s} must be > 0")
    ref = _annotation(reference, duration_s, params, f"recording {recording} reference")
    hyp = _annotation(predicted, duration_s, params, f"recording {recording} predicted")
    scoring = EventScoring(ref, hyp, _timescoring_params(params))
    counts = (len(scoring.ref.events), len(scoring.hyp.events), scoring.tp, scoring.fp)
    return _metrics(f"recording {recording}", subject, 1, float(duration_s), *counts, params=params)


def pooled_event_metrics(
    per_recording: Sequence[EventMetrics], *, threshold: float | None = None
) -> PooledEventMetrics:
    """Sum per-recording counts per subject and over all recordings, then recompute the metrics.

    Args:
        per_recording: results of ``event_metrics``, all scored with the same parameters.
        threshold: the window threshold the predictions came from, recorded in the result.

    Returns:
        Per-recording, per-subject and pooled results.

    Raises:
        UsageError: no recording, or recordings scored with different parameters.
    """
    if not per_recording:
        raise UsageError("pooled_event_metrics needs at least one recording, got 0")
    params = {m.params for m in per_recording}
    if len(params) > 1:
        raise UsageError(f"cannot pool event metrics scored with different parameters: {params}")
    subjects: dict[str, list[EventMetrics]] = {}
    for m in per_recording:
        subjects.setdefault(m.subject or "<no subject>", []).append(m)
    per_subject = {s: _sum(ms, f"subject {s}", s) for s, ms in subjects.items()}
    pooled = _sum(per_recording, f"pooled over {len(per_recording)} recordings", None)
    return PooledEventMetrics(tuple(per_recording), per_subject, pooled, threshold)


def _timescoring_params(p: ScoringParams) -> EventScoring.Parameters:
    return EventScoring.Parameters(
        toleranceStart=p.tolerance_start_s,
        toleranceEnd=p.tolerance_end_s,
        minOverlap=p.min_overlap,
        maxEventDuration=p.max_event_duration_s,
        minDurationBetweenEvents=p.min_gap_s,
    )


def _annotation(
    events: Sequence[Event], duration_s: float, params: ScoringParams, where: str
) -> Annotation:
    """A 10 Hz ``Annotation`` of sorted, disjoint events, already merged over short gaps.

    timescoring expects sorted, disjoint events and merges them with an O(n^2) list loop. The
    same merge rule (gap < ``min_gap_s``) is applied here in NumPy on the same 10 Hz times, so
    timescoring's own merge finds nothing left to do and its result is unchanged.
    """
    arr = np.asarray(events, dtype=np.float64).reshape(-1, 2)  # (E, 2)
    bad = ~np.isfinite(arr).all(axis=1) | (arr[:, 1] <= arr[:, 0]) | (arr[:, 0] < 0)
    bad |= arr[:, 0] >= duration_s
    if bad.any():
        start, stop = arr[np.argmax(bad)]
        raise UsageError(
            f"{where}: event ({start}, {stop}) is not an interval inside [0, {duration_s}) s"
        )
    n = max(1, round(duration_s * _FS))
    idx = np.clip(np.round(arr * _FS).astype(np.int64), 0, n)  # (E, 2) sample bounds
    cover = np.zeros(n + 1, dtype=np.int64)
    np.add.at(cover, idx[:, 0], 1)
    np.add.at(cover, idx[:, 1], -1)
    mask = np.cumsum(cover[:-1]) > 0  # (n,)
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1) / _FS, np.flatnonzero(edges == -1) / _FS
    if starts.size == 0:
        return Annotation([], _FS, n)
    keep = starts[1:] - stops[:-1] >= params.min_gap_s  # gap before event i+1 kept
    starts = starts[np.concatenate(([True], keep))]
    stops = stops[np.concatenate((keep, [True]))]
    merged = [(float(a), float(b)) for a, b in zip(starts, stops, strict=True)]
    return Annotation(merged, _FS, n)


def _sum(metrics: Sequence[EventMetrics], where: str, subject: str | None) -> EventMetrics:
    return _metrics(
        where,
        subject,
        sum(m.n_recordings for m in metrics),
        sum(m.duration_s for m in metrics),
        sum(m.n_reference for m in metrics),
        sum(m.n_predicted for m in metrics),
        sum(m.true_positives for m in metrics),
        sum(m.false_positives for m in metrics),
        params=metrics[0].params,
    )


def _metrics(
    where: str,
    subject: str | None,
    n_recordings: int,
    duration_s: float,
    n_ref: int,
    n_pred: int,
    tp: int,
    fp: int,
    *,
    params: ScoringParams,
) -> EventMetrics:
    """The SzCORE formulas (as timescoring's), with None and a reason instead of NaN."""
    undefined: dict[str, str] = {}
    if n_ref == 0:
        undefined["sensitivity"] = f"{where} has 0 reference seizures: sensitivity needs >= 1"
    if tp + fp == 0:
        undefined["precision"] = f"{where} has 0 predicted events: precision needs >= 1"
    if n_ref + fp == 0:
        undefined["f1"] = f"{where} has 0 reference seizures and 0 false alarms: F1 needs >= 1"
    return EventMetrics(
        where=where,
        subject=subject,
        n_recordings=n_recordings,
        duration_s=duration_s,
        n_reference=n_ref,
        n_predicted=n_pred,
        true_positives=tp,
        false_positives=fp,
        sensitivity=tp / n_ref if n_ref else None,
        precision=tp / (tp + fp) if tp + fp else None,
        f1=2 * tp / (2 * tp + fp + n_ref - tp) if n_ref + fp else None,
        false_alarms_per_24h=fp * _DAY_S / duration_s,
        undefined=undefined,
        params=params,
    )
