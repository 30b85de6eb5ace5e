"""Event-level evaluation after training: SzCORE scores and an alarm threshold.

A scoring pass (``training.validation.validate``) scores every window of some recordings once. Here
those window scores are put back in time order per recording (``window_idx * stride_s`` is a
window's start), thresholded into events, and scored against the recordings' merged seizures from
the manifest with SzCORE any-overlap (``preflight.evaluation.metrics.score_recordings``). Two
thresholds are reported: the monitors' (the one the window metrics use) and the lowest one whose
pooled false alarms per 24 h stay at or below ``validation.target_false_alarms_per_24h``
(``threshold_for_false_alarm_rate``). On the validation splits that threshold is chosen here; on
held-out splits it is given (``chosen_threshold``: the one validation chose), never chosen on the
recordings it scores. Results are per subject and pooled; the scorer's name and parameters are part
of the result so a report can cite them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from preflight.errors import UsageError
from preflight.evaluation.metrics import (
    SZCORE,
    PooledEventMetrics,
    RecordingScores,
    ScoringParams,
    score_recordings,
    threshold_for_false_alarm_rate,
)
from preflight.manifest.recordings import recordings_of, seizures_of
from preflight.manifest.store import Manifest

__all__ = ["event_evaluation", "recording_scores"]


def recording_scores(m: Manifest, ids: np.ndarray, scores: np.ndarray) -> list[RecordingScores]:
    """Window scores grouped into recordings, in time order, with their reference seizures.

    Args:
        m: the audited manifest the windows come from.
        ids: int [N, 2], ``(rec_idx, window_idx)`` of each scored window.
        scores: float [N], the window scores (probabilities).

    Returns:
        One entry per recording, ordered by ``rec_idx``. A window the pass did not score (none,
        normally) counts as score 0: it raises no alarm.
    """
    window_s = float(m.meta("window_s") or "nan")
    stride_s = float(m.meta("stride_s") or "nan")
    order = np.argsort(ids[:, 0], kind="stable")  # (N,): windows grouped by recording
    recs, starts = np.unique(ids[order, 0], return_index=True)  # (R,), (R,)
    ends = np.append(starts[1:], len(order))  # (R,)
    rows_of = {int(r): order[a:b] for r, a, b in zip(recs, starts, ends, strict=True)}
    seizures: dict[int, list[tuple[float, float]]] = {}
    for rec_idx, start, stop in seizures_of(m, recs.tolist()):
        seizures.setdefault(int(rec_idx), []).append((float(start), float(stop)))
    out: list[RecordingScores] = []
    for rec_idx, recording_id, patient, duration_s in recordings_of(m, recs.tolist()):
        mine = rows_of[int(rec_idx)]  # (W_scored,) rows of this recording
        windows = ids[mine, 1]  # (W_scored,)
        ordered = np.zeros(int(windows.max()) + 1, dtype=np.float64)  # (W,)
        ordered[windows] = scores[mine]
        out.append(
            RecordingScores(
                recording=str(recording_id), subject=str(patient), scores=ordered,
                window_s=window_s, stride_s=stride_s, duration_s=float(duration_s),
                reference=tuple(seizures.get(int(rec_idx), ())),
            )
        )  # fmt: skip
    return out


def event_evaluation(
    manifest: Path,
    ids: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float,
    target_fa_per_24h: float,
    role: str = "validation",
    chosen_threshold: float | None = None,
    chosen_on: str | None = None,
    params: ScoringParams = SZCORE,
) -> dict[str, Any]:
    """SzCORE event scores at the monitors' threshold and at the false-alarm target's threshold.

    Args:
        manifest: the manifest file (opened read-only here).
        ids: int [N, 2], ``(rec_idx, window_idx)`` of each scored window.
        scores: float [N], the window probabilities.
        threshold: the monitors' threshold.
        target_fa_per_24h: the false-alarm rate the second threshold is chosen for.
        role: what the recordings are to the run (``validation``, ``held out``), for reports.
        chosen_threshold: the false-alarm target's threshold, already chosen on other
            recordings (validation's, for held-out splits); None chooses it on these.
        chosen_on: where ``chosen_threshold`` was chosen (the validation splits).
        params: the event scorer.

    Returns:
        A JSON-ready dict: ``scorer``, ``role``, ``params``, ``recordings``, ``seizures`` (as
        the audit counts them, before the scorer merges close ones), ``hours``,
        ``at_threshold`` and ``at_target`` (each ``threshold`` plus ``pooled`` and
        ``per_subject`` scores), ``target_false_alarms_per_24h`` and ``threshold_chosen_on``
        (None: on these recordings); or ``{"scorer", "role", "undefined": reason}`` when the
        recordings cannot be scored (no window, no recording time).
    """
    if ids.size == 0:
        return {"scorer": params.name, "role": role, "undefined": f"no {role} window was scored"}
    with Manifest.open(manifest, read_only=True) as m:
        recordings = recording_scores(m, ids, scores)
    try:
        chosen = chosen_threshold
        if chosen is None:
            chosen = threshold_for_false_alarm_rate(recordings, target_fa_per_24h, params=params)
        at_threshold = score_recordings(recordings, threshold, params=params)
        at_target = score_recordings(recordings, chosen, params=params)
    except UsageError as exc:
        return {"scorer": params.name, "role": role, "undefined": str(exc)}
    return {
        "scorer": params.name,
        "role": role,
        "threshold_chosen_on": chosen_on if chosen_threshold is not None else None,
        "params": params.to_dict(),
        "recordings": len(recordings),
        "seizures": sum(len(r.reference) for r in recordings),
        "hours": sum(r.duration_s for r in recordings) / 3600,
        "target_false_alarms_per_24h": target_fa_per_24h,
        "at_threshold": _summary(at_threshold),
        "at_target": _summary(at_target),
    }


def _summary(result: PooledEventMetrics) -> dict[str, Any]:
    """Pooled and per-subject scores (the per-recording ones stay out of the run's row)."""
    keep = ("n_recordings", "n_reference", "n_predicted", "true_positives", "false_positives",
            "sensitivity", "precision", "f1", "false_alarms_per_24h", "undefined")  # fmt: skip

    def short(d: dict[str, Any]) -> dict[str, Any]:
        return {k: d[k] for k in keep}

    full = result.to_dict()
    return {
        "threshold": result.threshold,
        "pooled": short(full["pooled"]),
        "per_subject": {k: short(v) for k, v in full["per_subject"].items()},
    }
