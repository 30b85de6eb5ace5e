"""Window metrics, SzCORE event scoring, windows to events and the false-alarm threshold."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from timescoring.annotations import Annotation
from timescoring.scoring import EventScoring

from preflight.errors import UsageError
from preflight.evaluation.metrics import (
    SZCORE,
    EventMetrics,
    RecordingScores,
    event_metrics,
    pooled_event_metrics,
    score_recordings,
    threshold_for_false_alarm_rate,
    window_metrics,
    windows_to_events,
)

HOUR = 3600.0
SEIZURE = (1000.0, 1030.0)


# --- window level -------------------------------------------------------------------------------


def test_window_metrics_match_hand_computed_values() -> None:
    # ranking 0.8(+) 0.4(-) 0.35(+) 0.1(-): 3 of 4 (pos, neg) pairs ordered -> AUROC 3/4;
    # AP = 0.5 * 1 + 0.5 * 2/3 at the two positives
    m = window_metrics([0, 1, 0, 1], [0.1, 0.8, 0.4, 0.35], threshold=0.5)
    assert m.auroc == pytest.approx(0.75)
    assert m.auprc == pytest.approx(5 / 6)
    assert (m.true_positives, m.false_negatives, m.true_negatives, m.false_positives) == (
        1,
        1,
        2,
        0,
    )
    assert (m.sensitivity, m.specificity) == (0.5, 1.0)
    assert m.undefined == {}


def test_window_threshold_is_inclusive_and_perfect_ranking_scores_one() -> None:
    m = window_metrics([0, 0, 1, 1], [0.1, 0.2, 0.4, 0.9], threshold=0.4)
    assert (m.auroc, m.auprc, m.sensitivity, m.specificity) == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("labels", "missing", "undefined"),
    [
        ([0] * 247, "positive", {"auroc", "auprc", "sensitivity"}),
        ([1] * 247, "negative", {"auroc", "auprc", "specificity"}),
    ],
)
def test_one_class_gives_undefined_with_reason(
    labels: list[int], missing: str, undefined: set[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning either
        m = window_metrics(labels, np.linspace(0, 1, 247), split="dev")
    assert set(m.undefined) == undefined
    assert all(getattr(m, name) is None for name in undefined)
    assert m.undefined["auroc"] == (f"dev has 0 {missing} windows of 247: AUROC needs both classes")
    assert "NaN" not in json.dumps(m.to_dict())


@pytest.mark.parametrize(
    ("labels", "scores"),
    [([0, 1], [0.5]), ([0, 2], [0.1, 0.2]), ([0, 1], [0.1, float("nan")])],
    ids=["shape", "labels", "nan"],
)
def test_window_metrics_reject_bad_input(labels: list[int], scores: list[float]) -> None:
    with pytest.raises(UsageError):
        window_metrics(labels, scores)


# --- SzCORE event scoring -----------------------------------------------------------------------


def score(predicted: list[tuple[float, float]], reference: tuple = (SEIZURE,)) -> EventMetrics:
    """One hour-long recording with (by default) one seizure at 1000-1030 s."""
    return event_metrics(list(reference), predicted, duration_s=HOUR, recording="r")


@pytest.mark.parametrize(
    ("predicted", "tp", "fp"),
    [
        ([(1010.0, 1012.0)], 1, 0),  # overlaps the seizure
        ([(975.0, 980.0)], 1, 0),  # ends 20 s before onset: inside the 30 s tolerance
        ([(1080.0, 1085.0)], 1, 0),  # starts 50 s after the end: inside the 60 s tolerance
        ([(955.0, 960.0)], 0, 1),  # ends 40 s before onset: a false alarm, seizure missed
        ([(1095.0, 1100.0)], 0, 1),  # starts 65 s after the end
    ],
    ids=["overlap", "20s-before", "50s-after", "40s-before", "65s-after"],
)
def test_any_overlap_with_tolerance(predicted: list[tuple[float, float]], tp: int, fp: int) -> None:
    m = score(predicted)
    assert (m.true_positives, m.false_positives, m.n_reference) == (tp, fp, 1)
    assert m.sensitivity == tp
    assert m.scorer == "SzCORE any-overlap"


def test_predictions_closer_than_min_gap_merge() -> None:
    merged = score([(100.0, 110.0), (170.0, 180.0)], reference=())  # 60 s apart
    apart = score([(100.0, 110.0), (200.0, 210.0)], reference=())  # 90 s apart
    assert (merged.n_predicted, merged.false_positives) == (1, 1)
    assert (apart.n_predicted, apart.false_positives) == (2, 2)


def test_long_prediction_split_into_events_of_at_most_300s() -> None:
    m = score([(100.0, 800.0)], reference=())  # 700 s -> 300 + 300 + 100
    assert (m.n_predicted, m.false_positives) == (3, 3)


def test_false_alarms_per_24h_from_recording_duration() -> None:
    m = score([(100.0, 110.0), (2000.0, 2010.0)])  # 2 false alarms in 1 h
    assert m.false_alarms_per_24h == pytest.approx(48.0)
    assert m.precision == 0.0
    assert m.f1 == 0.0


def test_no_events_at_all_gives_undefined_with_reasons() -> None:
    m = score([], reference=())
    assert (m.sensitivity, m.precision, m.f1) == (None, None, None)
    assert m.undefined["sensitivity"] == (
        "recording r has 0 reference seizures: sensitivity needs >= 1"
    )
    assert m.false_alarms_per_24h == 0.0


def test_scores_agree_with_timescoring_on_random_events() -> None:
    """The NumPy pre-merge before timescoring leaves its counts unchanged."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        edges = np.sort(rng.choice(np.arange(0, 36_000, 5), size=40, replace=False)) / 10
        ref = [tuple(e) for e in edges[:8].reshape(-1, 2)]
        hyp = [tuple(e) for e in edges[8:].reshape(-1, 2)]
        expected = EventScoring(Annotation(ref, 10, 36_000), Annotation(hyp, 10, 36_000))
        m = event_metrics(ref, hyp, duration_s=HOUR)
        got = (m.n_reference, m.n_predicted, m.true_positives, m.false_positives)
        assert got == (expected.refTrue, len(expected.hyp.events), expected.tp, expected.fp)


@pytest.mark.parametrize("event", [(20.0, 10.0), (-1.0, 5.0), (HOUR, HOUR + 5)])
def test_invalid_event_raises(event: tuple[float, float]) -> None:
    with pytest.raises(UsageError, match="not an interval inside"):
        score([event])


def test_pooled_sums_counts_and_per_subject_keeps_subjects_apart() -> None:
    a1 = event_metrics([SEIZURE], [(1000.0, 1010.0)], duration_s=HOUR, subject="A")
    a2 = event_metrics([SEIZURE], [(100.0, 110.0)], duration_s=HOUR, subject="A")
    b = event_metrics([], [(100.0, 110.0), (2000.0, 2010.0)], duration_s=2 * HOUR, subject="B")
    result = pooled_event_metrics([a1, a2, b], threshold=0.5)
    sa, sb, pooled = result.per_subject["A"], result.per_subject["B"], result.pooled
    assert (sa.n_recordings, sa.true_positives, sa.false_positives) == (2, 1, 1)
    assert (sa.sensitivity, sa.false_alarms_per_24h) == (0.5, pytest.approx(12.0))
    assert sb.sensitivity is None
    assert "subject B has 0 reference seizures" in sb.undefined["sensitivity"]
    # pooled sums counts (1 of 2 seizures, 3 alarms in 4 h), not an average of subjects
    assert (pooled.sensitivity, pooled.precision) == (0.5, 0.25)
    assert pooled.false_alarms_per_24h == pytest.approx(18.0)
    report = json.loads(json.dumps(result.to_dict()))
    assert report["scorer"] == "SzCORE any-overlap"
    assert report["params"] == SZCORE.to_dict()
    assert report["params"]["min_gap_s"] == 90


# --- windows to events --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "events"),
    [
        ([0.1, 0.9, 0.8, 0.2, 0.5], [(2.0, 8.0), (8.0, 12.0)]),  # threshold inclusive
        ([0.1, 0.2], []),
        ([0.6, 0.7, 0.9], [(0.0, 8.0)]),
        ([], []),
    ],
)
def test_windows_to_events_merges_runs(scores: list[float], events: list) -> None:
    assert windows_to_events(scores, window_s=4.0, stride_s=2.0, threshold=0.5) == events


# --- threshold for a target false-alarm rate ----------------------------------------------------


@pytest.fixture
def recordings() -> list[RecordingScores]:
    """Two 1 h recordings of 60 s windows: a seizure scored 0.95, alarms at 0.9, 0.85, 0.8."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 0.3, 60), rng.uniform(0, 0.3, 60)
    a[[30, 5, 15]] = 0.95, 0.9, 0.8  # window 30 is the seizure (1800-1860 s)
    b[40] = 0.85
    return [
        RecordingScores("a", "s1", a, 60.0, 60.0, HOUR, [(1800.0, 1860.0)]),
        RecordingScores("b", "s2", b, 60.0, 60.0, HOUR),
    ]


@pytest.mark.parametrize(
    ("target", "threshold"), [(0.0, 0.95), (12.0, 0.9), (30.0, 0.85), (36.0, 0.8)]
)
def test_threshold_is_lowest_meeting_target(
    recordings: list[RecordingScores], target: float, threshold: float
) -> None:
    chosen = threshold_for_false_alarm_rate(recordings, target)
    assert chosen == threshold
    assert score_recordings(recordings, chosen).pooled.false_alarms_per_24h <= target
    below = max(s for r in recordings for s in r.scores if s < chosen)
    assert score_recordings(recordings, below).pooled.false_alarms_per_24h > target


def test_threshold_is_monotone_in_target(recordings: list[RecordingScores]) -> None:
    targets = [0.0, 5.0, 12.0, 24.0, 40.0, 100.0, 1e3, 1e6]
    chosen = [threshold_for_false_alarm_rate(recordings, t) for t in targets]
    assert chosen == sorted(chosen, reverse=True)
    for t, c in zip(targets, chosen, strict=True):
        assert score_recordings(recordings, c).pooled.false_alarms_per_24h <= t


def test_threshold_rate_must_stay_under_target_above_the_choice() -> None:
    """At 0.7 two alarms 120 s apart; at 0.5 they join into one; above 0.7 none."""
    scores = np.zeros(1440)  # one day of 60 s windows
    scores[10:14] = 0.7, 0.5, 0.5, 0.7
    day = [RecordingScores("d", "s", scores, 60.0, 60.0, 86_400.0)]
    assert score_recordings(day, 0.5).pooled.false_alarms_per_24h == 1.0
    assert threshold_for_false_alarm_rate(day, 1.0) > 0.7  # 0.7 breaks the target
    assert threshold_for_false_alarm_rate(day, 2.0) == 0.5


def test_threshold_rejects_negative_target(recordings: list[RecordingScores]) -> None:
    with pytest.raises(UsageError, match="must be >= 0"):
        threshold_for_false_alarm_rate(recordings, -1.0)
