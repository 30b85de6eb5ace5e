"""Evaluation: window metrics, events from window scores, SzCORE scores, an alarm threshold.

* ``window_metrics``: AUROC and AUPRC (scikit-learn) over per-window scores, sensitivity and
  specificity at a threshold, under the scorer name ``window-level``. A window is positive when
  ``score >= threshold``, here and in ``windows_to_events``.
* ``score_recordings``: thresholds each recording's window scores into events and scores them
  with SzCORE any-overlap (``preflight.evaluation.szcore``, re-exported here), per recording,
  per subject and pooled.
* ``threshold_for_false_alarm_rate``: candidates are the pooled window scores that leave
  ``k`` windows positive, for up to ``max_candidates`` values of ``k`` spaced geometrically from
  1 to all windows (dense in the top tail, where low false-alarm rates are decided), plus one
  value above the highest score (no alarm at all). The chosen
  threshold is the lowest candidate at which the pooled false alarms per 24 h, at that candidate
  and at every higher one, are at or below the target. False alarms are not monotone in the
  threshold (raising it can split one merged alarm in two), so the rule asks that the rate
  *stays* under the target above the choice; the search walks down from the highest candidate
  and stops at the first one over the target.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from preflight.errors import UsageError
from preflight.evaluation.szcore import (
    SZCORE,
    Event,
    EventMetrics,
    PooledEventMetrics,
    ScoringParams,
    event_metrics,
    pooled_event_metrics,
)

__all__ = [
    "SZCORE",
    "EventMetrics",
    "PooledEventMetrics",
    "RecordingScores",
    "ScoringParams",
    "WindowMetrics",
    "event_metrics",
    "pooled_event_metrics",
    "score_recordings",
    "threshold_for_false_alarm_rate",
    "window_metrics",
    "windows_to_events",
]

_DAY_S = 86_400.0


@dataclass(frozen=True)
class WindowMetrics:
    """Per-window metrics of one split; an undefined metric is None with its reason.

    Attributes:
        split: the split or set the windows came from, as named in messages.
        threshold: a window is predicted positive when its score is >= this.
        n_windows, n_positive, n_negative: window counts by true label.
        true_positives, false_positives, true_negatives, false_negatives: at ``threshold``.
        auroc, auprc, sensitivity, specificity: the metrics, None where undefined.
        undefined: metric name -> why it is undefined.
        scorer: the scorer's name.
    """

    split: str
    threshold: float
    n_windows: int
    n_positive: int
    n_negative: int
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int
    auroc: float | None
    auprc: float | None
    sensitivity: float | None
    specificity: float | None
    undefined: Mapping[str, str] = field(default_factory=dict)
    scorer: str = "window-level"

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class RecordingScores:
    """One recording's per-window scores and reference seizures.

    Attributes:
        recording: an identifier used in results.
        subject: the subject (patient) the recording belongs to.
        scores: float [W], the score of window ``i`` spanning ``[i*stride_s, i*stride_s+window_s)``.
        window_s: window length (s).
        stride_s: window stride (s).
        duration_s: the recording's duration (s).
        reference: the reference seizures as ``(start_s, stop_s)``.
    """

    recording: str
    subject: str
    scores: np.ndarray
    window_s: float
    stride_s: float
    duration_s: float
    reference: Sequence[Event] = ()


# --- window level -------------------------------------------------------------------------------


def window_metrics(
    y_true: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    *,
    threshold: float = 0.5,
    split: str = "input",
) -> WindowMetrics:
    """AUROC, AUPRC, sensitivity and specificity of per-window scores.

    Args:
        y_true: [N] true labels (bool or 0/1).
        scores: [N] scores; higher means more likely a seizure.
        threshold: a window is predicted positive when ``score >= threshold``.
        split: the split's name, used in the reasons for undefined metrics.

    Returns:
        The metrics; one that needs a class the input lacks is None, with the reason.

    Raises:
        UsageError: shapes differ, labels are not binary, or a score is not finite.
    """
    # scikit-learn's metrics take ~2 s to import: only paid when a metric is computed
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, s = _check_windows(y_true, scores, split)
    pred = s >= threshold
    n, n_pos = int(y.size), int(y.sum())
    n_neg = n - n_pos
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = n_pos - tp, n_neg - fp
    both = n_pos > 0 and n_neg > 0
    return WindowMetrics(
        split=split,
        threshold=float(threshold),
        n_windows=n,
        n_positive=n_pos,
        n_negative=n_neg,
        true_positives=tp,
        false_positives=fp,
        true_negatives=tn,
        false_negatives=fn,
        auroc=float(roc_auc_score(y, s)) if both else None,
        auprc=float(average_precision_score(y, s)) if both else None,
        sensitivity=tp / n_pos if n_pos else None,
        specificity=tn / n_neg if n_neg else None,
        undefined=_undefined_window_metrics(n_pos, n_neg, split),
    )


def _undefined_window_metrics(n_pos: int, n_neg: int, split: str) -> dict[str, str]:
    """Metric name -> why it is undefined, for the classes the windows lack."""
    undefined: dict[str, str] = {}
    for count, label, metric in (
        (n_pos, "positive", "sensitivity"),
        (n_neg, "negative", "specificity"),
    ):
        if count == 0:
            why = f"{split} has 0 {label} windows of {n_pos + n_neg}"
            undefined |= {
                "auroc": f"{why}: AUROC needs both classes",
                "auprc": f"{why}: AUPRC needs both classes",
                metric: f"{why}: {metric} needs >= 1",
            }
    return undefined


def _check_windows(
    y_true: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, split: str
) -> tuple[np.ndarray, np.ndarray]:
    y, s = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or y.shape != s.shape:
        raise UsageError(f"{split}: y_true shape {y.shape} != scores shape {s.shape} (need [N])")
    if not np.isin(y, (0, 1)).all():
        raise UsageError(f"{split}: y_true has values other than 0/1: {np.unique(y)[:5]}")
    if not np.isfinite(s).all():
        bad = int((~np.isfinite(s)).sum())
        raise UsageError(f"{split}: {bad} of {s.size} scores are NaN or infinite")
    return y.astype(bool), s


# --- event level --------------------------------------------------------------------------------


def windows_to_events(
    scores_per_window: Sequence[float] | np.ndarray,
    window_s: float,
    stride_s: float,
    threshold: float,
) -> list[Event]:
    """Turn one recording's per-window scores into predicted events.

    Window ``i`` spans ``[i*stride_s, i*stride_s + window_s)`` and is positive when its score is
    >= ``threshold``; each run of consecutive positive windows becomes one event from the first
    window's start to the last window's end.

    Args:
        scores_per_window: [W] scores in window order.
        window_s: window length (s).
        stride_s: window stride (s).
        threshold: the decision threshold.

    Returns:
        The events as ``(start_s, stop_s)``, in time order.

    Raises:
        UsageError: ``window_s`` or ``stride_s`` is not positive.
    """
    if window_s <= 0 or stride_s <= 0:
        raise UsageError(f"window_s {window_s} and stride_s {stride_s} must both be > 0")
    pos = np.asarray(scores_per_window, dtype=np.float64) >= threshold
    edges = np.diff(np.concatenate(([0], pos.astype(np.int8), [0])))  # (W+1,)
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [
        (float(a * stride_s), float(b * stride_s + window_s))
        for a, b in zip(first, last, strict=True)
    ]


def score_recordings(
    recordings: Sequence[RecordingScores], threshold: float, *, params: ScoringParams = SZCORE
) -> PooledEventMetrics:
    """Threshold each recording's window scores and score the events, per subject and pooled.

    Args:
        recordings: the recordings' window scores and reference seizures.
        threshold: the decision threshold (a window is positive when ``score >= threshold``).
        params: the scorer's parameters.

    Returns:
        Per-recording, per-subject and pooled results.
    """
    per_recording = [
        event_metrics(
            r.reference,
            windows_to_events(r.scores, r.window_s, r.stride_s, threshold),
            duration_s=r.duration_s,
            params=params,
            recording=r.recording,
            subject=r.subject,
        )
        for r in recordings
    ]
    return pooled_event_metrics(per_recording, threshold=float(threshold))


# --- threshold for a target false-alarm rate ----------------------------------------------------


def threshold_for_false_alarm_rate(
    recordings: Sequence[RecordingScores],
    target_fa_per_24h: float,
    *,
    params: ScoringParams = SZCORE,
    max_candidates: int = 128,
) -> float:
    """The lowest threshold whose pooled false alarms per 24 h stay at or below a target.

    Candidates are the ``k``-th highest pooled window scores for up to ``max_candidates``
    values of ``k`` spaced geometrically from 1 to all windows, plus one value above the
    highest score. Walking down from the highest, the search
    stops at the first candidate over the target and returns the one above it, so the pooled
    rate is at or below the target there and at every higher candidate.

    Args:
        recordings: the recordings' window scores and reference seizures.
        target_fa_per_24h: the highest acceptable pooled false alarms per 24 h.
        params: the scorer's parameters.
        max_candidates: at most this many scores are tried (plus the no-alarm value).

    Returns:
        The threshold; above every score (no alarm) if no candidate meets the target.

    Raises:
        UsageError: no recording, no recording time, or a negative target.
    """
    if not target_fa_per_24h >= 0:
        raise UsageError(f"target_fa_per_24h {target_fa_per_24h} must be >= 0")
    total_s = sum(r.duration_s for r in recordings)
    if not total_s > 0:
        raise UsageError(f"{len(recordings)} recordings with {total_s} s in total: need time")
    candidates = _candidates(recordings, max_candidates)  # ascending; the last one alarms never
    chosen = float(candidates[-1])
    fps = _false_alarms_descending(recordings, candidates, params)
    for thr, fp in zip(candidates[::-1], fps, strict=False):  # stop at the first miss
        if fp * _DAY_S / total_s > target_fa_per_24h:
            break
        chosen = float(thr)
    return chosen


def _candidates(recordings: Sequence[RecordingScores], max_candidates: int) -> np.ndarray:
    scores = np.concatenate([np.asarray(r.scores, dtype=np.float64).ravel() for r in recordings])
    if scores.size == 0:
        raise UsageError(f"{len(recordings)} recordings hold 0 window scores: nothing to threshold")
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise UsageError(f"{bad} of {scores.size} window scores are NaN or infinite")
    desc = np.sort(scores)[::-1]
    # k-th highest scores for k spaced geometrically over 1..N: dense in the top tail, where
    # the thresholds for low false-alarm rates lie
    k = np.unique(np.geomspace(1, desc.size, max(2, max_candidates)).round().astype(np.int64))
    return np.append(np.unique(desc[k - 1]), np.nextafter(desc[0], np.inf))


def _false_alarms_descending(
    recordings: Sequence[RecordingScores], candidates: np.ndarray, params: ScoringParams
) -> Iterator[int]:
    """Pooled false-alarm counts at each candidate, highest candidate first.

    Positive windows at a higher threshold are a subset of those at a lower one, so a recording
    whose positive-window count did not change between two candidates keeps its count of false
    alarms and is not scored again.
    """
    sorted_scores = [np.sort(np.asarray(r.scores, dtype=np.float64)) for r in recordings]
    n_positive = np.stack(  # (R, C): positive windows per recording and candidate
        [s.size - np.searchsorted(s, candidates, side="left") for s in sorted_scores]
    )
    last_count = np.full(len(recordings), -1)
    last_fp = np.zeros(len(recordings), dtype=np.int64)
    for c in range(len(candidates) - 1, -1, -1):
        for i in map(int, np.flatnonzero(n_positive[:, c] != last_count)):
            r = recordings[i]
            predicted = windows_to_events(r.scores, r.window_s, r.stride_s, candidates[c])
            m = event_metrics(
                r.reference,
                predicted,
                duration_s=r.duration_s,
                params=params,
                recording=r.recording,
            )
            last_fp[i], last_count[i] = m.false_positives, n_positive[i, c]
        yield int(last_fp.sum())
