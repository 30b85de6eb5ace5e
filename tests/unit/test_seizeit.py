"""SeizeIT1 annotation reader: rows, defaults for a missing stop, and what rejects a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.errors import AnnotationError, Reason
from preflight.scanning.discover import Kind, classify
from preflight.sources.seizeit import (
    DEFAULT_DURATION_S,
    LOW_CONFIDENCE,
    patient_from_name,
    read_annotations,
)

HEADER = (
    "# Source: SeizeIt1\n# Subject: P_ID64\n# Recording: r2\n"
    "# Seizure types: FIA focal impaired awareness, FA focal aware, F-BTC focal to bilateral\n\n\n"
)  # rows start at line 7


def _write(tmp_path: Path, rows: str, name: str = "P_ID64_r2_a1.tsv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows)
    return path


def test_rows_are_seizures_in_seconds(tmp_path: Path) -> None:
    rows = "1949\t1980\tFIA\tHem:L, Orig:Temp, bhe: 0\n2500.5\t2530\tFA\n"
    [recording] = read_annotations(_write(tmp_path, rows)).recordings
    assert (recording.key, recording.edf_name, recording.duration) == (
        "P_ID64_r2",
        "P_ID64_r2.edf",
        None,
    )
    spans = [(e.start, e.stop, e.label, e.positive, e.line) for e in recording.events]
    assert spans == [(1949.0, 1980.0, "FIA", True, 7), (2500.5, 2530.0, "FA", True, 8)]
    assert recording.notes == ()


def test_missing_stop_gets_the_default_with_low_confidence(tmp_path: Path) -> None:
    [recording] = read_annotations(_write(tmp_path, "100\t\tF-BTC\t\n")).recordings
    [event] = recording.events
    assert (event.start, event.stop) == (100.0, 100.0 + DEFAULT_DURATION_S)
    assert event.confidence == LOW_CONFIDENCE == 0.5
    [note] = recording.notes
    assert (note.code, note.line) == ("default_duration", 7)


def test_header_only_is_a_recording_without_seizures(tmp_path: Path) -> None:
    [recording] = read_annotations(_write(tmp_path, "")).recordings
    assert recording.events == ()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("100\t130\n", Reason.BAD_FORMAT),  # no type
        ("soon\t130\tFIA\n", Reason.BAD_FORMAT),
        ("\t130\tFIA\n", Reason.BAD_FORMAT),  # no start
        ("100\t130\tseizure\n", Reason.UNKNOWN_LABEL),
        ("130\t100\tFIA\n", Reason.BAD_INTERVAL),
        ("-5\t10\tFA\n", Reason.BAD_INTERVAL),
        ("nan\t10\tFA\n", Reason.BAD_INTERVAL),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row: str, reason: Reason) -> None:
    path = _write(tmp_path, "1\t2\tFA\n" + row)
    with pytest.raises(AnnotationError) as info:
        read_annotations(path)
    assert (info.value.reason, info.value.line) == (reason, 8)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("P_ID10_r1_a1.tsv", Kind.SEIZEIT_TSV),
        ("P_ID10_r12_a2.tsv", Kind.SEIZEIT_TSV),
        ("P_ID10_r1.tsv", None),
        ("sub-01_ses-01_task-szMonitoring_run-00_events.tsv", Kind.BIDS_EVENTS),
    ],
)
def test_classified_by_name(name: str, kind: Kind | None) -> None:
    assert classify(name) is kind


def test_patient_from_name() -> None:
    assert patient_from_name("P_ID10_r1_a1.tsv") == "P_ID10"
    assert patient_from_name("p_id07_r3") == "P_ID07"
    with pytest.raises(AnnotationError):
        patient_from_name("PN00-1.edf")
