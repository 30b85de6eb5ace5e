"""pandera schemas of the manifest tables: healthy passes, every failing row is reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from preflight.manifest.store import Manifest
from preflight.results import CheckResult, Severity
from preflight.validators.schemas import check_schemas
from preflight.validators.vocabulary import labels_match
from tests.unit.manifests import Rec, make_manifest

RECS = [
    Rec("train/p1_t0", "p1", 600.0, ((100.0, 160.0), (300.0, 330.0)), "train", "h1"),
    Rec("train/p2_t0", "p2", 305.0, (), "train", "h2"),
    Rec("dev/p3_t0", "p3", 600.0, ((50.0, 75.0),), "dev", "h3"),
]


@pytest.fixture
def manifest(tmp_path: Path) -> Iterator[Manifest]:
    """Three recordings with seizures, a background event each, TUSZ readers, 10 s windows."""
    m = make_manifest(tmp_path / "m.duckdb", RECS)
    m.con.execute(
        "INSERT INTO events SELECT recording_id, 100, label_source, 0, duration_s, 'bckg', false,"
        " NULL, 1.0, 7 FROM recordings"
    )
    m.con.execute(
        "INSERT INTO files SELECT label_source, 'tusz_csv', 1, 0, 'x', 'tusz-csv', '1', NULL, NULL,"
        " NULL FROM recordings"
    )
    m.set_meta({"window_s": "10.0", "stride_s": "10.0", "min_overlap_s": "0.0"})
    yield m
    m.close()


def by_table(m: Manifest) -> dict[str, CheckResult]:
    """The schema results keyed by table."""
    return {r.name.removeprefix("schema_"): r for r in check_schemas(m)}


def test_healthy_manifest_passes(manifest: Manifest) -> None:
    results = by_table(manifest)
    assert list(results) == ["recordings", "events", "seizures", "windows"]
    for r in results.values():
        assert r.passed, r.message
        assert (r.severity, r.split, r.observed, r.expected) == (Severity.ERROR, None, 0, 0)
    assert results["events"].message == "events: 6 rows match the schema"
    assert results["windows"].message == "windows: 3 recordings match the schema"


def test_every_failing_event_is_reported(manifest: Manifest) -> None:
    """Lazy validation: three bad rows give three failures, each naming its file and line."""
    manifest.con.execute(
        "UPDATE events SET stop_s = 700, line = 4 WHERE event_idx = 0"
        " AND recording_id = 'train/p1_t0'"
    )
    manifest.con.execute(
        "UPDATE events SET start_s = 40, stop_s = 30 WHERE recording_id = 'train/p2_t0'"
    )
    manifest.con.execute(
        "UPDATE events SET label = 'bckg' WHERE event_idx = 1 AND recording_id = 'train/p1_t0'"
    )
    result = by_table(manifest)["events"]
    assert not result.passed
    assert result.observed == 3
    assert result.reason == "schema_violation"
    message = result.message
    assert message.startswith("events: 3 failing rows of 6 (needs 0): ")
    assert "train/p1_t0.csv_bi:4: stop_s <= duration_s (stop_s=700, duration_s=600)" in message
    assert "train/p2_t0.csv_bi:7: start_s < stop_s (start_s=40, stop_s=30)" in message
    assert (
        "train/p1_t0.csv_bi event 1: label in the reader's vocabulary "
        "(label='bckg', positive=True, reader='tusz-csv')"
    ) in message


def test_event_end_within_tolerance_passes(manifest: Manifest) -> None:
    """Annotation durations are written with 2 decimals: 0.005 s past the end is not an error."""
    manifest.con.execute(
        "UPDATE events SET stop_s = r.duration_s + 0.005 FROM recordings r"
        " WHERE r.recording_id = events.recording_id AND NOT positive"
    )
    assert by_table(manifest)["events"].passed


def test_event_of_unknown_recording(manifest: Manifest) -> None:
    manifest.con.execute("UPDATE events SET recording_id = 'ghost' WHERE event_idx = 100")
    result = by_table(manifest)["events"]
    assert result.observed == 3
    assert "recording in recordings (recording_id='ghost')" in result.message


@pytest.mark.parametrize(
    ("reader", "label", "positive", "ok"),
    [
        ("tusz-csv", "seiz", True, True),
        ("tusz-csv", "fnsz", True, True),
        ("tusz-csv", "bckg", False, True),
        ("tusz-csv", "bckg", True, False),
        ("tusz-csv", "seiz", False, False),
        ("tusz-csv", "eyem", False, False),  # v2 csv has no TUH event classes
        ("tusz-tse", "eyem_chew", False, True),  # v1.5 does
        ("tusz-tse", "fnsz", False, False),
        ("bids-events", "sz_foc_ia", True, True),
        ("bids-events", "SZ_FOC_IA", True, False),  # HED-SCORE is case-sensitive
        ("bids-events", "seizure", True, False),
        ("chbmit-summary", "seizure", True, True),
        ("chbmit-summary", "bckg", False, False),
        ("siena-list", "seizure", True, True),
        ("edf-header", " Seizure ", True, True),  # EDF+ free text, case-folded
        ("edf-header", "Eyes closed", False, True),
        ("edf-header", "Eyes closed", True, False),
        (None, "sz_gen", True, True),  # unknown reader: any seizure label preflight knows
        (None, "Seizure", True, True),
        (None, "artefact", True, False),
        (None, "artefact", False, True),
    ],
)  # fmt: skip
def test_label_vocabulary(reader: str | None, label: str, positive: bool, ok: bool) -> None:
    out = labels_match(pd.Series([label]), pd.Series([positive]), pd.Series([reader], dtype=object))
    assert bool(out.iloc[0]) is ok


def test_recordings_rules(manifest: Manifest) -> None:
    manifest.con.execute(
        "UPDATE recordings SET sampling_rate = 0, patient = '' WHERE recording_id = 'dev/p3_t0'"
    )
    manifest.con.execute("UPDATE recordings SET rec_idx = 7 WHERE recording_id = 'train/p2_t0'")
    result = by_table(manifest)["recordings"]
    assert result.observed == 2
    assert "dev/p3_t0: " in result.message
    assert "greater_than(0) (sampling_rate=0)" in result.message
    assert "str_length(1, None) (patient='')" in result.message
    assert "train/p2_t0: rec_idx dense in recording_id order (rec_idx=7, rank=2)" in result.message


def test_seizures_rules(manifest: Manifest) -> None:
    manifest.con.execute(
        "INSERT INTO seizures SELECT recording_id, rec_idx, 5, 550, 700 FROM recordings"
        " WHERE recording_id = 'dev/p3_t0'"
    )
    manifest.con.execute("UPDATE seizures SET start_s = 150 WHERE seizure_idx = 1")
    result = by_table(manifest)["seizures"]
    assert result.observed == 2
    message = result.message
    assert "dev/p3_t0 seizure 5: stop_s <= duration_s (stop_s=700, duration_s=600)" in message
    assert "seizure_idx contiguous from 0 (seizure_idx=5, rank=1)" in message
    assert "train/p1_t0 seizure 1: seizures disjoint, in order" in message


def test_windows_rules(manifest: Manifest) -> None:
    """A gap, a duplicate, a lost last window, a wrong label, windows of no recording."""
    idx = dict(manifest.query("SELECT recording_id, rec_idx FROM recordings"))
    con = manifest.con
    con.execute("DELETE FROM windows WHERE rec_idx = ? AND window_idx = 3", [idx["train/p1_t0"]])
    con.execute(
        "INSERT INTO windows SELECT * FROM windows WHERE rec_idx = ? AND window_idx = 0",
        [idx["train/p2_t0"]],
    )
    con.execute("DELETE FROM windows WHERE rec_idx = ? AND window_idx = 59", [idx["dev/p3_t0"]])
    con.execute("UPDATE windows SET positive = NOT positive WHERE window_idx = 20")
    con.execute("INSERT INTO windows VALUES (99, 0, 0.0, false)")
    result = by_table(manifest)["windows"]
    assert not result.passed
    assert result.observed == 4  # failing recordings (and the orphan rec_idx)
    message = result.message
    assert "train/p1_t0: window_idx contiguous from 0 (windows=59, first_idx=0, last_idx=59)" in (
        message
    )
    assert "one row per (recording, window_idx) (windows=31, distinct_idx=30)" in message
    assert "dev/p3_t0: window count fits the duration (windows=59, expected_windows=60)" in message
    assert "positive follows the overlap rule (bad_label=1)" in message
    assert "rec_idx 99: recording in recordings" in message


def test_wrong_column_type_fails_every_row(manifest: Manifest) -> None:
    """A manifest written by another tool with text sampling rates."""
    manifest.con.execute("ALTER TABLE recordings ALTER sampling_rate TYPE VARCHAR")
    manifest.con.execute("UPDATE recordings SET sampling_rate = '256 Hz'")
    result = by_table(manifest)["recordings"]
    assert not result.passed
    assert result.observed == 3
    assert "column sampling_rate: type is number (dtype str)" in result.message


def test_labels_only_manifest_passes(manifest: Manifest) -> None:
    """Without EDF files: no path, rate, channels or hash (all-NULL columns of any dtype)."""
    manifest.con.execute(
        "UPDATE recordings SET path = NULL, sampling_rate = NULL, n_channels = NULL,"
        " content_hash = NULL"
    )
    assert all(r.passed for r in check_schemas(manifest))
