"""Window labelling in SQL against a brute-force reference (hypothesis)."""

from __future__ import annotations

import math

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.manifest.schema import create_derived_tables
from preflight.manifest.windows import EPS, WindowParams, build_seizures, build_windows


def _load(
    con: duckdb.DuckDBPyConnection, duration: float, events: list[tuple[float, float, bool]]
) -> None:
    create_derived_tables(con)
    con.execute(
        "INSERT INTO recordings (recording_id, rec_idx, annotation_paths, label_source,"
        " label_reader, patient, split, declared_split, duration_s)"
        " VALUES ('r', 0, ['r.csv_bi'], 'r.csv_bi', 'test', 'p', 'train', 'train', ?)",
        [duration],
    )
    if events:
        con.executemany(
            "INSERT INTO events (recording_id, event_idx, source_path, start_s, stop_s, label,"
            " positive) VALUES ('r', ?, 'r.csv_bi', ?, ?, ?, ?)",
            [[i, s, e, "seiz" if pos else "bckg", pos] for i, (s, e, pos) in enumerate(events)],
        )


def _reference(
    duration: float, events: list[tuple[float, float, bool]], p: WindowParams
) -> list[tuple[int, float, bool]]:
    """Brute force: per window, measure the union of positive events on a fine grid of cuts."""
    out = []
    i = 0
    while i * p.stride_s + p.window_s <= duration + EPS:
        a, b = i * p.stride_s, i * p.stride_s + p.window_s
        pieces = sorted((max(s, a), min(e, b)) for s, e, pos in events if pos and s < b and e > a)
        covered, reach = 0.0, -math.inf
        for s, e in pieces:  # union length of the clipped intervals
            if e <= reach:
                continue
            covered += e - max(s, reach)
            reach = e
        out.append((i, covered, covered > 0 and covered >= p.min_overlap_s))
        i += 1
    return out


_CON = duckdb.connect()  # one in-memory database for all examples; tables are replaced each time


def _labels(duration: float, events: list[tuple[float, float, bool]], p: WindowParams) -> list:
    con = _CON
    _load(con, duration, events)
    build_seizures(con)
    build_windows(con, p)
    return con.execute(
        "SELECT window_idx, overlap_s, positive FROM windows ORDER BY window_idx"
    ).fetchall()


# Times on a quarter-second grid keep the reference and SQL arithmetic exact.
_t = st.integers(min_value=0, max_value=400).map(lambda q: q / 4)
_event = st.tuples(_t, st.integers(min_value=1, max_value=120).map(lambda q: q / 4), st.booleans())


@settings(max_examples=200, deadline=None)
@given(
    duration=st.integers(min_value=0, max_value=480).map(lambda q: q / 4),
    raw_events=st.lists(_event, max_size=6),
    window=st.sampled_from([1.0, 2.5, 4.0, 10.0]),
    stride_ratio=st.sampled_from([0.5, 1.0, 2.0]),
    min_overlap=st.sampled_from([0.0, 0.25, 1.0]),
)
def test_window_labels_match_brute_force(duration, raw_events, window, stride_ratio, min_overlap):
    events = [(s, min(s + d, duration), pos) for s, d, pos in raw_events if s < duration]
    events = [(s, e, pos) for s, e, pos in events if e > s]
    p = WindowParams(window_s=window, stride_s=window * stride_ratio, min_overlap_s=min_overlap)
    got = _labels(duration, events, p)
    want = _reference(duration, events, p)
    assert [g[0] for g in got] == [w[0] for w in want]
    for (_, g_ov, g_pos), (_, w_ov, w_pos) in zip(got, want, strict=True):
        assert g_ov == pytest.approx(w_ov, abs=1e-9)
        assert g_pos == w_pos


def test_touching_events_merge_into_one_seizure():
    con = _CON
    _load(con, 100.0, [(10.0, 20.0, True), (20.0, 30.0, True), (50.0, 55.0, True), (0, 100, False)])
    build_seizures(con)
    assert con.execute("SELECT start_s, stop_s FROM seizures ORDER BY 1").fetchall() == [
        (10.0, 30.0),
        (50.0, 55.0),
    ]


def test_last_partial_window_is_dropped_and_boundary_is_exclusive():
    got = _labels(25.0, [(20.0, 25.0, True)], WindowParams(window_s=10, stride_s=10))
    # Windows [0,10) [10,20); [20,30) does not fit in 25 s. The seizure starting at 20 s touches
    # window 1 only at its closed end, which is not an overlap.
    assert got == [(0, 0.0, False), (1, 0.0, False)]


def test_min_overlap_threshold():
    got = _labels(
        30.0, [(8.0, 12.0, True)], WindowParams(window_s=10, stride_s=10, min_overlap_s=2.5)
    )
    assert got == [(0, 2.0, False), (1, 2.0, False), (2, 0.0, False)]
