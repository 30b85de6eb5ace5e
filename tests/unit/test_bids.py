"""BIDS-EEG ``events.tsv`` reader, the HED-SCORE vocabulary and BIDS file-name parsing."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.errors import AnnotationError, InputError, Reason
from preflight.sources import bids
from preflight.sources.hed_score import HED_SCORE_BACKGROUND, HED_SCORE_SEIZURE
from preflight.sources.records import AnnotationFileResult, RecordingAnnotations

HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"
KEY = "sub-01_ses-01_task-szMonitoring_run-00"


def row(
    onset: str = "36.89",
    duration: str = "200.32",
    event_type: str = "sz",
    confidence: str = "1.00",
    channels: str = "n/a",
    date_time: str = "2000-01-01 00:00:00",
    recording_duration: str = "3600.00",
) -> str:
    """One events.tsv row; every cell defaults to a valid value."""
    return "\t".join(
        [onset, duration, event_type, confidence, channels, date_time, recording_duration]
    )


def write(folder: Path, *lines: str, name: str = f"{KEY}_events.tsv", ending: str = "\n") -> Path:
    """Write a header-less list of lines as a UTF-8 events.tsv (pass HEADER yourself)."""
    path = folder / name
    path.write_bytes(ending.join(lines).encode() + ending.encode())
    return path


def only_recording(result: AnnotationFileResult) -> RecordingAnnotations:
    assert len(result.recordings) == 1
    assert result.problems == ()
    return result.recordings[0]


def rejection(path: Path) -> AnnotationError:
    """Read ``path`` and return the ``AnnotationError`` the reader must raise."""
    with pytest.raises(AnnotationError) as caught:
        bids.read_events_tsv(path)
    return caught.value


# --- real files ---------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_sample_has_three_seizures_in_an_hour(realdata: Path) -> None:
    result = bids.read_events_tsv(realdata / "bids" / "sample.tsv")
    recording = only_recording(result)
    assert result.reader == bids.READER_NAME == "bids-events"
    assert (recording.key, recording.edf_name) == ("sample", None)  # no `_events` suffix
    assert recording.duration == 3600.0
    assert recording.start_time == datetime(2000, 1, 1)
    assert recording.per_channel is False
    assert [(e.start, e.stop, e.label, e.positive) for e in recording.events] == [
        (36.89, 237.21, "sz", True),
        (304.56, 425.7, "sz", True),
        (1023.45, 1047.59, "sz", True),
    ]
    assert [e.confidence for e in recording.events] == [1.0, None, 0.0]
    assert [e.channel for e in recording.events] == [None, None, None]
    assert [e.line for e in recording.events] == [2, 3, 4]


@pytest.mark.realdata
def test_real_sample_under_its_bids_name(realdata: Path, tmp_path: Path) -> None:
    path = tmp_path / f"{KEY}_events.tsv"
    shutil.copyfile(realdata / "bids" / "sample.tsv", path)
    recording = only_recording(bids.read_events_tsv(path))
    assert (recording.key, recording.edf_name) == (KEY, f"{KEY}_eeg.edf")


@pytest.mark.realdata
def test_vocabulary_matches_the_real_events_json(realdata: Path) -> None:
    described = json.loads((realdata / "bids" / "events.json").read_text(encoding="utf-8"))
    keys = {key.rstrip(":") for key in described["eventType"]["HED"]} | set(described["Levels"])
    assert {key for key in keys if key.startswith("sz")} == HED_SCORE_SEIZURE
    assert keys - HED_SCORE_SEIZURE == {HED_SCORE_BACKGROUND}
    assert len(HED_SCORE_SEIZURE) == 70


# --- valid content ------------------------------------------------------------------------------


def test_seizure_free_recording_is_one_background_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row("0.00", "3600.00", "bckg"))
    (event,) = only_recording(bids.read_events_tsv(path)).events
    assert (event.start, event.stop, event.label, event.positive) == (0.0, 3600.0, "bckg", False)


@pytest.mark.parametrize(
    "event_type", ["sz", "sz_foc_ia", "sz_gen_m_tonicClonic", "sz_gen", "sz_uo_nm_behavior"]
)
def test_hed_score_seizure_types_are_positive(tmp_path: Path, event_type: str) -> None:
    path = write(tmp_path, HEADER, row(event_type=event_type))
    assert only_recording(bids.read_events_tsv(path)).events[0].positive is True


def test_channels_are_kept_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(channels="FP1-F7,F7-T3"), row(onset="300.00"))
    events = only_recording(bids.read_events_tsv(path)).events
    assert [e.channel for e in events] == ["FP1-F7,F7-T3", None]


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    header = HEADER.replace("\tconfidence", "\tannotator\tconfidence") + "\tnotes"
    cells = row().split("\t")
    cells.insert(3, "expert-1")
    path = write(tmp_path, header, "\t".join([*cells, "clear onset"]))
    (event,) = only_recording(bids.read_events_tsv(path)).events
    assert (event.label, event.confidence) == ("sz", 1.0)


def test_header_without_rows_gives_zero_events(tmp_path: Path) -> None:
    recording = only_recording(bids.read_events_tsv(write(tmp_path, HEADER)))
    assert (recording.events, recording.duration, recording.start_time) == ((), None, None)


def test_na_date_time_and_duration(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(date_time="n/a", recording_duration="n/a"))
    recording = only_recording(bids.read_events_tsv(path))
    assert (recording.start_time, recording.duration) == (None, None)


def test_na_rows_abstain_from_recording_level_values(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(date_time="n/a", recording_duration="n/a"), row(onset="500"))
    recording = only_recording(bids.read_events_tsv(path))
    assert (recording.start_time, recording.duration) == (datetime(2000, 1, 1), 3600.0)


def test_iso_date_time_with_offset_keeps_the_written_clock_time(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(date_time="2021-03-04T05:06:07.5+02:00"))
    assert only_recording(bids.read_events_tsv(path)).start_time == datetime(
        2021, 3, 4, 5, 6, 7, 500000
    )


def test_rounding_of_recording_duration_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row("3400.01", "200.00", recording_duration="3600.00"))
    assert only_recording(bids.read_events_tsv(path)).events[0].stop == 3600.01


def test_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeff" + HEADER, row(), ending="\r\n")
    recording = only_recording(bids.read_events_tsv(path))
    assert (len(recording.events), recording.events[0].line) == (1, 2)


# --- rejected content ---------------------------------------------------------------------------


@pytest.mark.parametrize("missing", bids.COLUMNS)
def test_header_missing_a_column(tmp_path: Path, missing: str) -> None:
    header = "\t".join(name for name in bids.COLUMNS if name != missing)
    error = rejection(write(tmp_path, header, row()))
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 1)
    assert f"lacks column {missing!r}" in error.message


def test_header_with_spaces_instead_of_tabs(tmp_path: Path) -> None:
    error = rejection(write(tmp_path, HEADER.replace("\t", " "), row()))
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 1)
    assert "tab-separated" in error.message


def test_header_repeating_a_column(tmp_path: Path) -> None:
    error = rejection(write(tmp_path, HEADER + "\tonset", row() + "\t1.0"))
    assert "repeats (2 times) column 'onset'" in error.message


@pytest.mark.parametrize(
    ("line", "reason", "message"),
    [
        (row(onset="-1.00"), Reason.BAD_INTERVAL, "onset -1.0 < 0"),
        (row(duration="0.00"), Reason.BAD_INTERVAL, "duration 0.0 <= 0"),
        (row(duration="-3.00"), Reason.BAD_INTERVAL, "duration -3.0 <= 0"),
        (row(onset="nan"), Reason.BAD_INTERVAL, "must be finite"),
        (
            row(onset="1e308", duration="1e308", recording_duration="n/a"),
            Reason.BAD_INTERVAL,
            "overflows",
        ),
        (row(onset="n/a"), Reason.BAD_FORMAT, "onset 'n/a' is not a number"),
        (row(duration="1_0"), Reason.BAD_FORMAT, "duration '1_0' is not a number"),
        (row(confidence="high"), Reason.BAD_FORMAT, "confidence 'high' is not a number"),
        (row(confidence="inf"), Reason.BAD_FORMAT, "not a finite number"),
        (row(channels=""), Reason.BAD_FORMAT, "channels is empty (BIDS writes n/a)"),
        (row(date_time="yesterday"), Reason.BAD_FORMAT, "dateTime 'yesterday'"),
        (
            row(recording_duration="0.00"),
            Reason.BAD_FORMAT,
            "recordingDuration 0.0 is not positive",
        ),
        (row() + "\textra", Reason.BAD_FORMAT, "expected 7 tab-separated fields"),
        (row().replace("\t", " "), Reason.BAD_FORMAT, "found 1"),
        (row(event_type="seiz"), Reason.UNKNOWN_LABEL, "unknown eventType 'seiz'"),
        (row(event_type="SZ"), Reason.UNKNOWN_LABEL, "'bckg' or a HED-SCORE seizure type"),
        (row(event_type="sz_gen:"), Reason.UNKNOWN_LABEL, "'sz_gen:'"),
        (
            row(onset="3500.00", duration="200.00"),
            Reason.OUT_OF_RANGE,
            "> recordingDuration 3600.0",
        ),
    ],
)
def test_rejected_row(tmp_path: Path, line: str, reason: Reason, message: str) -> None:
    error = rejection(write(tmp_path, HEADER, row("0.00", "10.00", "bckg"), line))
    assert (error.reason, error.line) == (reason, 3)
    assert message in error.message


def test_rows_disagreeing_on_recording_duration(tmp_path: Path) -> None:
    error = rejection(
        write(tmp_path, HEADER, row(), row(onset="900", recording_duration="1800.00"))
    )
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 3)
    assert "recordingDuration 1800.0 differs from 3600.0 on line 2" in error.message


def test_rows_disagreeing_on_date_time(tmp_path: Path) -> None:
    error = rejection(
        write(tmp_path, HEADER, row(), row(onset="900", date_time="2000-01-02 00:00:00"))
    )
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 3)


def test_out_of_range_is_checked_against_a_later_declared_duration(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row("3500", "200", recording_duration="n/a"), row("10", "5"))
    assert (rejection(path).reason, rejection(path).line) == (Reason.OUT_OF_RANGE, 2)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / f"{KEY}_events.tsv"
    path.write_bytes(
        (HEADER + "\n" + row() + "\n").encode() + row(event_type="sz\xff").encode("latin-1")
    )
    error = rejection(path)
    assert (error.reason, error.line) == (Reason.UNDECODABLE, 3)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x_events.tsv"
    path.write_bytes(b"")
    assert rejection(path).reason is Reason.EMPTY_FILE


# --- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"sub-01/ses-01/eeg/{KEY}_events.tsv",
        f"sub-01/ses-01/eeg/{KEY}_eeg.edf",
        f"/data/bids/sub-01/ses-01/eeg/{KEY}_eeg.EDF",
        f"{KEY}_eeg.bdf",
    ],
)
def test_parse_bids_path_events_and_recording_share_a_key(path: str) -> None:
    assert bids.parse_bids_path(path) == bids.BidsLayout(
        "sub-01", "ses-01", "task-szMonitoring", "run-00", KEY
    )


def test_parse_bids_path_without_session_and_run() -> None:
    layout = bids.parse_bids_path("sub-PN00/eeg/sub-PN00_task-szMonitoring_acq-x_eeg.edf")
    assert layout == bids.BidsLayout(
        "sub-PN00", None, "task-szMonitoring", None, "sub-PN00_task-szMonitoring_acq-x"
    )


@pytest.mark.parametrize(
    "path",
    [
        "chb01/chb01_03.edf",
        "participants.tsv",
        f"{KEY}_events.json",
        f"{KEY}_eeg.tsv",
        f"{KEY}_channels.tsv",
        "ses-01_task-x_eeg.edf",
        "sub-01_task_eeg.edf",
        "sub-01_ses-01_eeg_events.tsv",
        "_events.tsv",
        "",
    ],
)
def test_parse_bids_path_rejects_other_names(path: str) -> None:
    assert bids.parse_bids_path(path) is None


# --- fuzzing: only InputError may escape ---------------------------------------------------------

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
VALID = [HEADER, row("0.00", "36.89", "bckg"), row(), row("237.21", "3362.79", "bckg")]
cell_text = st.text(alphabet=st.sampled_from(list("sz_bckg/na0123456789.-e:T +\xe9")), max_size=20)


def survives(path: Path) -> None:
    """The reader returns a result or raises an InputError; nothing else escapes."""
    try:
        result = bids.read_events_tsv(path)
    except InputError:
        return
    assert isinstance(result, AnnotationFileResult)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_fuzz_random_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "f_events.tsv"
    path.write_bytes(raw)
    survives(path)


@FUZZ
@given(data=st.data())
def test_fuzz_cell_and_line_mutations(tmp_path: Path, data: st.DataObject) -> None:
    lines = [line.split("\t") for line in VALID]
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["cell", "cell", "drop_cell", "add_cell", "drop_line"]))
        cells = lines[where]
        position = data.draw(st.integers(0, max(len(cells) - 1, 0)))
        if action == "cell" and cells:
            cells[position] = data.draw(cell_text)
        elif action == "drop_cell" and cells:
            del cells[position]
        elif action == "add_cell":
            cells.insert(position, data.draw(cell_text))
        elif len(lines) > 1:
            del lines[where]
    survives(write(tmp_path, *("\t".join(cells) for cells in lines), name="f_events.tsv"))
