"""TUSZ readers (v2 ``.csv_bi`` / ``.csv``, v1.5 ``.tse`` / ``.lbl``) and the TUSZ path layout.

No real TUSZ file may enter the repository (data-use agreement), so every sample is synthetic,
written as the NEDC tools write them, quirks included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.errors import AnnotationError, InputError, Reason
from preflight.sources import tusz
from preflight.sources.records import AnnotationFileResult, RecordingAnnotations

# The 22 pairs of the TCP montage that TUSZ's per-channel labels use.
TCP_PAIRS = (
    "FP1-F7",
    "F7-T3",
    "T3-T5",
    "T5-O1",
    "FP2-F8",
    "F8-T4",
    "T4-T6",
    "T6-O2",
    "A1-T3",
    "T3-C3",
    "C3-CZ",
    "CZ-C4",
    "C4-T4",
    "T4-A2",
    "FP1-F3",
    "F3-C3",
    "C3-P3",
    "P3-O1",
    "FP2-F4",
    "F4-C4",
    "C4-P4",
    "P4-O2",
)
COLUMNS = "channel,start_time,stop_time,label,confidence"


def csv_text(*rows: str, duration: str = "2348.00 secs", extra: tuple[str, ...] = ()) -> str:
    """A v2 csv/csv_bi file as NEDC writes it: five `#` lines (one bare), columns, rows."""
    header = [
        "# version = csv_v1.0.0",
        "# bname = aaaaapks_s012_t001",
        f"# duration = {duration}",
        *extra,
        "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt",
        "#",
        COLUMNS,
    ]
    return "\n".join([*header, *rows]) + "\n"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, bytes as is) to ``folder/name``."""
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def only_recording(result: AnnotationFileResult) -> RecordingAnnotations:
    assert len(result.recordings) == 1
    assert result.problems == ()
    return result.recordings[0]


Reader = Callable[[Path], AnnotationFileResult]


def rejection(path: Path, reader: Reader = tusz.read_csv) -> AnnotationError:
    """Run ``reader`` on ``path`` and return the ``AnnotationError`` it must raise."""
    with pytest.raises(AnnotationError) as caught:
        reader(path)
    return caught.value


# --- v2 .csv_bi ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"), [("2348.00 secs", 2348.0), ("1750.2500 secs", 1750.25)]
)
def test_csv_bi_duration_with_two_or_four_decimals(
    tmp_path: Path, written: str, seconds: float
) -> None:
    path = write(
        tmp_path,
        "aaaaapks_s012_t001.csv_bi",
        csv_text("TERM,4.9724,36.3315,seiz,1.0000", duration=written),
    )
    recording = only_recording(tusz.read_csv(path))
    assert recording.duration == seconds
    assert recording.key == "aaaaapks_s012_t001"
    assert recording.per_channel is False
    (event,) = recording.events
    assert (event.start, event.stop, event.label, event.positive) == (4.9724, 36.3315, "seiz", True)
    assert (event.channel, event.confidence, event.line) == (None, 1.0, 7)


def test_csv_bi_reader_name_is_recorded(tmp_path: Path) -> None:
    path = write(tmp_path, "aaaaapks_s012_t001.csv_bi", csv_text())
    assert tusz.read_csv(path).reader == tusz.CSV_READER_NAME == "tusz-csv"


def test_csv_bi_header_with_annotation_label_file_and_other_montage(tmp_path: Path) -> None:
    extra = ("# annotation_label_file = $NEDC_NFC/lib/nedc_eas_default_labels.txt",)
    text = csv_text("TERM,0.0000,10.0000,seiz,1.0000", extra=extra).replace(
        "$NEDC_NFC/lib/nedc_eas_default_montage.txt", "/data/isip/montages/01_tcp_ar_montage.txt"
    )
    recording = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", text)))
    assert recording.events[0].line == 8


def test_csv_bi_bname_mismatch_uses_the_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "aaaaaaaa_s001_t000.csv_bi", csv_text("TERM,0,1,seiz,1"))
    assert only_recording(tusz.read_csv(path)).key == "aaaaaaaa_s001_t000"


def test_csv_bi_explicit_background_row(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv_bi", csv_text("TERM,0.0000,2348.0000,bckg,1.0000"))
    (event,) = only_recording(tusz.read_csv(path)).events
    assert (event.start, event.stop, event.label, event.positive) == (0.0, 2348.0, "bckg", False)


def test_csv_bi_interleaved_background_rows_keep_file_order(tmp_path: Path) -> None:
    rows = (
        "TERM,0.0000,100.0000,bckg,1.0000",
        "TERM,100.0000,160.5000,seiz,0.9000",
        "TERM,160.5000,2348.0000,bckg,1.0000",
    )
    events = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", csv_text(*rows)))).events
    assert [(e.label, e.positive, e.line) for e in events] == [
        ("bckg", False, 7),
        ("seiz", True, 8),
        ("bckg", False, 9),
    ]
    assert events[1].confidence == 0.9


def test_csv_bi_implicit_background_has_only_seizure_rows(tmp_path: Path) -> None:
    rows = ("TERM,10.0000,20.0000,seiz,1.0000", "TERM,500.0000,530.0000,seiz,1.0000")
    events = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", csv_text(*rows)))).events
    assert all(e.positive for e in events)
    assert len(events) == 2


def test_csv_bi_header_without_rows_gives_zero_events(tmp_path: Path) -> None:
    recording = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", csv_text())))
    assert recording.events == ()
    assert recording.duration == 2348.0


def test_csv_without_duration_key_has_no_duration(tmp_path: Path) -> None:
    text = csv_text("TERM,0,1,seiz,1").replace("# duration = 2348.00 secs\n", "")
    assert only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", text))).duration is None


def test_csv_blank_and_comment_lines_between_rows_are_skipped(tmp_path: Path) -> None:
    text = csv_text("TERM,0,1,seiz,1", "", "# a note", "TERM,2,3,seiz,1")
    events = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", text))).events
    assert [e.line for e in events] == [7, 10]


# --- v2 .csv (per channel) ---------------------------------------------------------------------


def test_csv_per_channel_with_22_tcp_pairs(tmp_path: Path) -> None:
    rows = [f"{pair},0.0000,30.0000,bckg,1.0000" for pair in TCP_PAIRS]
    rows += [f"{pair},30.0000,75.2500,fnsz,1.0000" for pair in TCP_PAIRS[:4]]
    rows += ["TERM,30.0000,75.2500,fnsz,1.0000"]
    recording = only_recording(tusz.read_csv(write(tmp_path, "x.csv", csv_text(*rows))))
    assert recording.per_channel is True
    assert len(recording.events) == 22 + 4 + 1
    assert {e.channel for e in recording.events[:22]} == set(TCP_PAIRS)
    assert [e.positive for e in recording.events[22:26]] == [True] * 4
    assert recording.events[-1].channel is None  # TERM rows in a .csv are term events


@pytest.mark.parametrize(
    "label",
    ["fnsz", "gnsz", "spsz", "cpsz", "absz", "tnsz", "cnsz", "tcsz", "atsz", "mysz", "nesz"],
)
def test_csv_per_channel_seizure_types_are_positive(tmp_path: Path, label: str) -> None:
    path = write(tmp_path, "x.csv", csv_text(f"FP1-F7,1.0000,2.0000,{label},1.0000"))
    assert only_recording(tusz.read_csv(path)).events[0].positive is True


def test_csv_uppercase_extension_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "x.CSV_BI", csv_text("TERM,0,1,seiz,1"))
    assert only_recording(tusz.read_csv(path)).per_channel is False


# --- encodings and line endings -----------------------------------------------------------------


def test_csv_crlf_line_endings(tmp_path: Path) -> None:
    text = csv_text("TERM,0.0000,10.0000,seiz,1.0000").replace("\n", "\r\n")
    (event,) = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", text))).events
    assert (event.stop, event.line) == (10.0, 7)


def test_csv_byte_order_mark(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + csv_text("TERM,0.0000,10.0000,seiz,1.0000").encode()
    recording = only_recording(tusz.read_csv(write(tmp_path, "x.csv_bi", raw)))
    assert recording.duration == 2348.0


def test_csv_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    raw = csv_text("TERM,0,1,seiz,1", "TERM,2,3,se\xe9iz,1").encode().replace("é".encode(), b"\xe9")
    error = rejection(write(tmp_path, "x.csv_bi", raw))
    assert (error.reason, error.line) == (Reason.UNDECODABLE, 8)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_csv_empty_file(tmp_path: Path, content: str) -> None:
    assert rejection(write(tmp_path, "x.csv_bi", content)).reason is Reason.EMPTY_FILE


# --- rejected content ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("TERM,30.5,12.0,seiz,1", "stop_time 12.0 <= start_time 30.5"),
        ("TERM,30.5,30.5,seiz,1", "stop_time 30.5 <= start_time 30.5"),
        ("TERM,-1.0,12.0,seiz,1", "start_time -1.0 < 0"),
        ("TERM,nan,12.0,seiz,1", "must be finite"),
        ("TERM,0,inf,seiz,1", "must be finite"),
        ("TERM,0,1e400,seiz,1", "must be finite"),
    ],
)
def test_csv_bad_interval(tmp_path: Path, row: str, message: str) -> None:
    error = rejection(write(tmp_path, "x.csv_bi", csv_text("TERM,0,1,seiz,1", row)))
    assert (error.reason, error.line) == (Reason.BAD_INTERVAL, 8)
    assert message in error.message
    assert str(error).endswith(f"x.csv_bi:8: {error.message}")


def test_csv_event_past_duration_is_out_of_range(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.csv_bi", csv_text("TERM,2300.0,2349.5,seiz,1", duration="2348.00 secs")
    )
    error = rejection(path)
    assert (error.reason, error.line) == (Reason.OUT_OF_RANGE, 7)
    assert "2349.5 > duration 2348.0 declared on line 3" in error.message


def test_csv_rounding_of_the_duration_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv_bi", csv_text("TERM,0.0000,2348.0049,bckg,1.0000"))
    assert only_recording(tusz.read_csv(path)).events[0].stop == 2348.0049


@pytest.mark.parametrize("label", ["seizure", "SEIZ", "artf", "null", ""])
def test_csv_unknown_label(tmp_path: Path, label: str) -> None:
    error = rejection(write(tmp_path, "x.csv_bi", csv_text(f"TERM,0,1,{label},1")))
    assert (error.reason, error.line) == (Reason.UNKNOWN_LABEL, 7)
    assert repr(label) in error.message
    assert "bckg" in error.message
    assert "seiz" in error.message


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        ("channel,start_time,stop_time,label", "confidence"),
        ("channel,start,stop_time,label,confidence", "start_time"),
        ("channel;start_time;stop_time;label;confidence", "channel"),
    ],
)
def test_csv_column_header_with_a_missing_column(
    tmp_path: Path, columns: str, missing: str
) -> None:
    text = csv_text("TERM,0,1,seiz,1").replace(COLUMNS, columns)
    error = rejection(write(tmp_path, "x.csv_bi", text))
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 6)
    assert f"missing {missing}" in error.message


def test_csv_data_row_where_the_column_header_belongs(tmp_path: Path) -> None:
    text = csv_text("TERM,0,1,seiz,1").replace(COLUMNS + "\n", "")
    error = rejection(write(tmp_path, "x.csv_bi", text))
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 6)


def test_csv_header_lines_only(tmp_path: Path) -> None:
    error = rejection(write(tmp_path, "x.csv_bi", "# version = csv_v1.0.0\n#\n"))
    assert error.reason is Reason.BAD_FORMAT
    assert "no column header" in error.message


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("TERM,0,1,seiz", "expected 5 comma-separated fields"),
        ("TERM,0,1,seiz,1,extra", "found 6"),
        ("TERM,zero,1,seiz,1", "start_time 'zero' is not a number"),
        ("TERM,0,1_0,seiz,1", "stop_time '1_0' is not a number"),
        ("TERM,0,1,seiz,high", "confidence 'high' is not a number"),
        ("TERM,0,1,seiz,nan", "confidence 'nan' is not a finite number"),
        (",0,1,seiz,1", "channel is empty"),
        ("FP1-F7,0,1,seiz,1", "expected TERM"),
    ],
)
def test_csv_malformed_row(tmp_path: Path, row: str, message: str) -> None:
    error = rejection(write(tmp_path, "x.csv_bi", csv_text(row)))
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 7)
    assert message in error.message


def test_csv_duration_unit_is_optional(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv_bi", csv_text(duration="2348.00"))
    assert only_recording(tusz.read_csv(path)).duration == 2348.0


@pytest.mark.parametrize("duration", ["0.00 secs", "-5 secs", "long secs", "inf secs", "1_0 secs"])
def test_csv_bad_duration(tmp_path: Path, duration: str) -> None:
    error = rejection(write(tmp_path, "x.csv_bi", csv_text(duration=duration)))
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 3)
    assert repr(duration) in error.message


def test_csv_other_extension_is_unsupported(tmp_path: Path) -> None:
    assert rejection(write(tmp_path, "x.txt", csv_text())).reason is Reason.UNSUPPORTED


def test_csv_missing_file_is_unreadable(tmp_path: Path) -> None:
    assert rejection(tmp_path / "absent.csv_bi").reason is Reason.UNREADABLE


def test_csv_fifty_thousand_rows_parse_whole(tmp_path: Path) -> None:
    """A multi-megabyte file parses completely (its speed is measured by the audit benchmark)."""
    rows = [
        f"{TCP_PAIRS[i % 22]},{i * 0.5:.4f},{i * 0.5 + 0.25:.4f},bckg,1.0000" for i in range(50_000)
    ]
    path = write(tmp_path, "x.csv", csv_text(*rows, duration="25000.00 secs"))
    assert path.stat().st_size > 1_500_000
    recording = only_recording(tusz.read_csv(path))
    assert len(recording.events) == 50_000
    assert recording.events[-1].line == 50_006


# --- v1.5 .tse / .tse_bi ------------------------------------------------------------------------

TSE = """version = tse_v1.0.0

0.0000 10.2775 bckg 1.0000
10.2775 35.1000 cpsz 1.0000
35.1000 1200.0000 bckg 1.0000
"""


@pytest.mark.parametrize(
    ("name", "text"), [("x.tse", TSE), ("x.tse_bi", TSE.replace("cpsz", "seiz"))]
)
def test_tse_and_tse_bi(tmp_path: Path, name: str, text: str) -> None:
    result = tusz.read_tse(write(tmp_path, name, text))
    recording = only_recording(result)
    assert result.reader == tusz.TSE_READER_NAME
    assert (recording.key, recording.duration, recording.per_channel) == ("x", None, False)
    assert [(e.start, e.stop, e.positive, e.line) for e in recording.events] == [
        (0.0, 10.2775, False, 3),
        (10.2775, 35.1, True, 4),
        (35.1, 1200.0, False, 5),
    ]


def test_tse_non_seizure_event_classes_are_background(tmp_path: Path) -> None:
    text = TSE + "1200.0000 1210.0000 artf 1.0000\n1210.0000 1220.0000 eyem_chew 0.8000\n"
    events = only_recording(tusz.read_tse(write(tmp_path, "x.tse", text))).events
    assert [(e.label, e.positive) for e in events[-2:]] == [("artf", False), ("eyem_chew", False)]


@pytest.mark.parametrize(
    ("text", "reason", "line"),
    [
        ("0.0 1.0 bckg 1.0\n", Reason.BAD_FORMAT, 1),
        ("version = lbl_v1.0.0\n\n0.0 1.0 bckg 1.0\n", Reason.BAD_FORMAT, 1),
        (TSE + "1200.0 1210.0 bckg\n", Reason.BAD_FORMAT, 6),
        (TSE + "1200.0 1210.0 bckg one\n", Reason.BAD_FORMAT, 6),
        (TSE + "1200.0 1100.0 bckg 1.0\n", Reason.BAD_INTERVAL, 6),
        (TSE + "1200.0 1210.0 (null) 1.0\n", Reason.UNKNOWN_LABEL, 6),
        (TSE + "1200.0 1210.0 spsw_seiz 1.0\n", Reason.UNKNOWN_LABEL, 6),
    ],
)
def test_tse_rejections(tmp_path: Path, text: str, reason: Reason, line: int) -> None:
    error = rejection(write(tmp_path, "x.tse", text), tusz.read_tse)
    assert (error.reason, error.line) == (reason, line)


# --- v1.5 .lbl ----------------------------------------------------------------------------------

SYMBOLS = (
    "{0: '(null)', 1: 'spsw', 2: 'gped', 3: 'pled', 4: 'eybl', 5: 'artf', 6: 'bckg', 7: 'seiz', "
    "8: 'fnsz', 9: 'gnsz', 10: 'spsz', 11: 'cpsz', 12: 'absz', 13: 'tnsz', 14: 'cnsz', "
    "15: 'tcsz', 16: 'atsz', 17: 'mysz', 18: 'nesz', 19: 'intr', 20: 'slow', 21: 'eyem', "
    "22: 'chew', 23: 'shiv', 24: 'musc', 25: 'elpp', 26: 'elst', 27: 'calb', 28: 'hphs', "
    "29: 'trip', 30: 'elec'}"
)


def one_hot(index: int, size: int = 31) -> str:
    return "[" + ", ".join("1.0" if i == index else "0.0" for i in range(size)) + "]"


def lbl_text(*labels: str, symbols: str = SYMBOLS) -> str:
    """A v1.5 .lbl file: version, 22 TCP montage lines, one level, a symbol table, labels."""
    montage = [
        f"montage = {i:d}, {pair}: EEG {pair.split('-')[0]}-REF -- EEG {pair.split('-')[1]}-REF"
        for i, pair in enumerate(TCP_PAIRS)
    ]
    lines = ["version = lbl_v1.0.0", "", *montage, "", "number_of_levels = 1", "level[0] = 1", ""]
    lines += [f"symbols[0] = {symbols}", "", *labels]
    return "\n".join(lines) + "\n"


FIRST_LABEL_LINE = (
    31  # 1 version + 1 blank + 22 montage + 1 blank + 2 levels + 1 blank + symbols + blank
)


def test_lbl_per_channel_labels(tmp_path: Path) -> None:
    labels = (
        f"label = {{0, 0, 0.0000, 10.2775, 0, {one_hot(6)}}}",
        f"label = {{0, 0, 10.2775, 35.1000, 21, {one_hot(11)}}}",
        f"label = {{0, 0, 10.2775, 35.1000, 3, {one_hot(1)}}}",
    )
    result = tusz.read_lbl(write(tmp_path, "00000258_s002_t000.lbl", lbl_text(*labels)))
    recording = only_recording(result)
    assert result.reader == tusz.LBL_READER_NAME
    assert (recording.key, recording.per_channel, recording.duration) == (
        "00000258_s002_t000",
        True,
        None,
    )
    assert [(e.channel, e.label, e.positive, e.line) for e in recording.events] == [
        ("FP1-F7", "bckg", False, FIRST_LABEL_LINE),
        ("P4-O2", "cpsz", True, FIRST_LABEL_LINE + 1),
        ("T5-O1", "spsw", False, FIRST_LABEL_LINE + 2),  # non-seizure event class: background
    ]
    assert recording.events[1].confidence == 1.0


def test_lbl_bi_two_class_table(tmp_path: Path) -> None:
    text = lbl_text(
        "label = {0, 0, 0.0, 5.0, 2, [0.0, 1.0]}",
        "label = {0, 0, 5.0, 9.0, 2, [1.0, 0.0]}",
        symbols="{0: 'seiz', 1: 'bckg'}",
    )
    events = only_recording(tusz.read_lbl(write(tmp_path, "x.lbl_bi", text))).events
    assert [(e.label, e.positive) for e in events] == [("bckg", False), ("seiz", True)]


def test_lbl_probability_vector_argmax_and_gapped_table(tmp_path: Path) -> None:
    gapped = "{0: '(null)', 6: 'bckg', 7: 'seiz', 100: 'eyem_chew'}"
    text = lbl_text(
        "label = {0, 0, 0.0, 5.0, 0, [0.0, 0.2, 0.7, 0.1]}",  # by position: seiz
        "label = {0, 0, 5.0, 6.0, 0, [0.0, 0.0, 0.0, 1.0]}",  # by position: eyem_chew
        symbols=gapped,
    )
    events = only_recording(tusz.read_lbl(write(tmp_path, "x.lbl", text))).events
    assert [(e.label, e.confidence) for e in events] == [("seiz", 0.7), ("eyem_chew", 1.0)]


def test_lbl_vector_longer_than_table_is_read_by_key(tmp_path: Path) -> None:
    text = lbl_text(
        f"label = {{0, 0, 0.0, 5.0, 0, {one_hot(7, size=9)}}}", symbols="{6: 'bckg', 7: 'seiz'}"
    )
    assert only_recording(tusz.read_lbl(write(tmp_path, "x.lbl", text))).events[0].label == "seiz"


@pytest.mark.parametrize(
    ("label", "reason", "message"),
    [
        (
            f"label = {{0, 0, 10.0, 5.0, 0, {one_hot(7)}}}",
            Reason.BAD_INTERVAL,
            "stop_time 5.0 <= start_time 10.0",
        ),
        (
            f"label = {{0, 0, 0.0, 5.0, 22, {one_hot(7)}}}",
            Reason.BAD_FORMAT,
            "channel 22 has no montage line",
        ),
        (f"label = {{1, 0, 0.0, 5.0, 0, {one_hot(7)}}}", Reason.BAD_FORMAT, "no symbols[1] table"),
        (f"label = {{0, 0, 0.0, 5.0, 0, {one_hot(99)}}}", Reason.BAD_FORMAT, "no positive entry"),
        (
            f"label = {{0, 0, 0.0, 5.0, 0, {one_hot(40, size=41)}}}",
            Reason.BAD_FORMAT,
            "index 40 has no symbol",
        ),
        (f"label = {{0, 0, 0.0, 5.0, 0, {one_hot(0)}}}", Reason.UNKNOWN_LABEL, "'(null)'"),
        (
            f"label = {{0, 0, 0.0, 5.0, x, {one_hot(7)}}}",
            Reason.BAD_FORMAT,
            "'x' is not a non-negative integer",
        ),
        (
            f"label = {{0, 0, 0.0, 5.0, {one_hot(7)}}}",
            Reason.BAD_FORMAT,
            "expected 'label = {level",
        ),
        ("label = {0, 0, 0.0, 5.0, 0, [1.0, nan]}", Reason.BAD_FORMAT, "not a finite number"),
        ("label = {0, 0, 0.0, 5.0, 0, []}", Reason.BAD_FORMAT, "is not a number"),
        ("start = 3", Reason.BAD_FORMAT, "unrecognised .lbl line"),
        (
            f"label = {{0, 0, 0.0, 5.0, {'9' * 5000}, [1.0]}}",
            Reason.BAD_FORMAT,
            "non-negative integer",
        ),
    ],
)
def test_lbl_rejections(tmp_path: Path, label: str, reason: Reason, message: str) -> None:
    error = rejection(write(tmp_path, "x.lbl", lbl_text(label)), tusz.read_lbl)
    assert (error.reason, error.line) == (reason, FIRST_LABEL_LINE)
    assert message in error.message


def test_lbl_malformed_symbol_table(tmp_path: Path) -> None:
    error = rejection(write(tmp_path, "x.lbl", lbl_text(symbols="{0: bckg}")), tusz.read_lbl)
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, FIRST_LABEL_LINE - 2)


def test_lbl_needs_its_version_line(tmp_path: Path) -> None:
    text = lbl_text().replace("lbl_v1.0.0", "tse_v1.0.0")
    assert rejection(write(tmp_path, "x.lbl", text), tusz.read_lbl).line == 1


# --- dispatch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "reader"),
    [
        (".csv_bi", tusz.read_csv),
        (".csv", tusz.read_csv),
        (".tse_bi", tusz.read_tse),
        (".tse", tusz.read_tse),
        (".lbl_bi", tusz.read_lbl),
        (".lbl", tusz.read_lbl),
    ],
)
def test_readers_by_extension(suffix: str, reader: Reader) -> None:
    assert tusz.READERS[suffix] is reader


# --- path layout --------------------------------------------------------------------------------

V2 = "edf/train/aaaaapks/s012_2015_06_23/01_tcp_ar/aaaaapks_s012_t001.csv_bi"
V15 = "edf/dev_test/01_tcp_ar/002/00000258/s002_2003_07_21/00000258_s002_t000.edf"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (V2, tusz.TuszLayout("train", "aaaaapks", "s012", "01_tcp_ar", "aaaaapks_s012_t001")),
        (
            "/data/tuh/v2.0.3/" + V2,
            tusz.TuszLayout("train", "aaaaapks", "s012", "01_tcp_ar", "aaaaapks_s012_t001"),
        ),
        (
            "dev/aaaaaoqq/s001_2008/03_tcp_ar_a/aaaaaoqq_s001_t000.edf",
            tusz.TuszLayout("dev", "aaaaaoqq", "s001", "03_tcp_ar_a", "aaaaaoqq_s001_t000"),
        ),
        (
            "aaaaaoqq/s001_2008/02_tcp_le/aaaaaoqq_s001_t000.csv",  # relative to edf/eval
            tusz.TuszLayout(None, "aaaaaoqq", "s001", "02_tcp_le", "aaaaaoqq_s001_t000"),
        ),
        (V15, tusz.TuszLayout("dev_test", "00000258", "s002", "01_tcp_ar", "00000258_s002_t000")),
        (
            "/corpora/train/tusz/edf/eval/aaaaaabc/s003_2010_01_02/01_tcp_ar/aaaaaabc_s003_t002.edf",
            tusz.TuszLayout("eval", "aaaaaabc", "s003", "01_tcp_ar", "aaaaaabc_s003_t002"),
        ),
        (
            "aaaaapks_s012_t001.edf",
            tusz.TuszLayout(None, "aaaaapks", "s012", None, "aaaaapks_s012_t001"),
        ),
    ],
)
def test_parse_tusz_path(path: str, expected: tusz.TuszLayout) -> None:
    assert tusz.parse_tusz_path(path) == expected
    assert tusz.parse_tusz_path(PurePosixPath(path)) == expected


@pytest.mark.parametrize(
    "path",
    [
        "chb01/chb01_03.edf",
        "PN00-1.edf",
        "sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00_eeg.edf",
        "edf/train/aaaaapks/s012_2015/01_tcp_ar/aaaaapks_s012.edf",
        "edf/train/AAAAAPKS/s012_2015/01_tcp_ar/AAAAAPKS_s012_t001.edf",
        "edf/train/aaaaapks/s012_2015/01_tcp_ar/aaaaapks_s012_t001",
        "edf/train/aaaaapk/s012_2015/01_tcp_ar/aaaaapk_s012_t001.edf",
        "",
    ],
)
def test_parse_tusz_path_rejects_other_names(path: str) -> None:
    assert tusz.parse_tusz_path(path) is None


# --- fuzzing: only InputError may escape ---------------------------------------------------------

VALID_CSV_BI = csv_text(
    "TERM,0.0000,100.0000,bckg,1.0000",
    "TERM,100.0000,160.5000,seiz,0.9000",
    "TERM,160.5,2348,bckg,1",
)
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
line_text = st.text(
    alphabet=st.sampled_from(list("TERMseizbckg#=,.-0123456789 \t\r\xe9nai")), max_size=40
)


def survives(reader: Reader, path: Path) -> None:
    """The reader returns a result or raises an InputError; nothing else escapes."""
    try:
        result = reader(path)
    except InputError:
        return
    assert isinstance(result, AnnotationFileResult)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_fuzz_random_bytes(tmp_path: Path, raw: bytes) -> None:
    for name, reader in (
        ("f.csv_bi", tusz.read_csv),
        ("f.tse", tusz.read_tse),
        ("f.lbl", tusz.read_lbl),
    ):
        survives(reader, write(tmp_path, name, raw))


@FUZZ
@given(data=st.data())
def test_fuzz_line_mutations_of_a_valid_csv_bi(tmp_path: Path, data: st.DataObject) -> None:
    lines = VALID_CSV_BI.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(lines)))
        action = data.draw(st.sampled_from(["replace", "insert", "delete", "swap"]))
        if action == "insert" or not lines:
            lines.insert(where, data.draw(line_text))
        elif action == "replace":
            lines[min(where, len(lines) - 1)] = data.draw(line_text)
        elif action == "delete":
            del lines[min(where, len(lines) - 1)]
        else:
            other = data.draw(st.integers(0, len(lines) - 1))
            first = min(where, len(lines) - 1)
            lines[first], lines[other] = lines[other], lines[first]
    survives(tusz.read_csv, write(tmp_path, "f.csv_bi", "\n".join(lines)))


@FUZZ
@given(data=st.data())
def test_fuzz_field_mutations_of_a_valid_lbl(tmp_path: Path, data: st.DataObject) -> None:
    label = f"label = {{0, 0, 0.0000, 10.2775, 0, {one_hot(7)}}}"
    text = lbl_text(label)
    where = data.draw(st.integers(0, len(text) - 1))
    cut = data.draw(st.integers(0, 5))
    text = (
        text[:where]
        + data.draw(st.text(alphabet="{}[]:,'=0123456789 .\n", max_size=5))
        + text[where + cut :]
    )
    survives(tusz.read_lbl, write(tmp_path, "f.lbl", text))


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(["TERM", "FP1-F7", "P4-O2", "term", "FP1 -F7", ""]),
    start=st.sampled_from(["0.0000", "4.9724", "12", "1e3", "-1.0", "36.3315", " 7.5"]),
    stop=st.sampled_from(["36.3315", "4.9724", "100.0000", "nan", "2348.00"]),
    label=st.sampled_from(["seiz", "bckg", "fnsz", "gnsz", "xxxx", "SEIZ"]),
    confidence=st.sampled_from(["1.0000", "0.5", "1", "2.0000", "n/a"]),
    per_channel=st.booleans(),
)
def test_fast_row_path_agrees_with_the_full_validator(
    channel: str, start: str, stop: str, label: str, confidence: str, per_channel: bool
) -> None:
    """Whenever the fast path accepts a row, the field-by-field validator gives the same event."""
    text = ",".join([channel, start, stop, label, confidence])
    fast = tusz._fast_csv_event(text, 7, per_channel)
    try:
        slow = tusz._csv_event(text, path=Path("x.csv"), line=7, per_channel=per_channel)
    except AnnotationError:
        slow = None
    if fast is not None:
        assert fast == slow
