"""Catalogue cases: annotation files of every format."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.reliability.bad_input import (
    ACCEPTED,
    ANNOTATION,
    BCKG_CSV,
    BCKG_EDF,
    BCKG_NAME,
    CHB02_EDF,
    CSV_REJECTS_EDF,
    LBL_EDF,
    SIENA_EDF,
    TSE_EDF,
    BadInput,
    Outcome,
    bckg_csv,
    in_manifest,
    replace,
    write,
)
from tests.reliability.corpus import (
    BIDS_HEADER,
    CHBMIT_01,
    CHBMIT_02,
    CHBMIT_02_LINE,
    CHBMIT_HEAD,
    CSV_FIRST_ROW,
    LBL_FIRST_LABEL,
    LBL_HEAD,
    SIENA_SEIZURE_END_LINE,
    TSE_FIRST_ROW,
    P,
    bids_row,
    csv_bi,
    term,
)

ROW = CSV_FIRST_ROW


def _merged_into_one(outcome: Outcome) -> None:
    rec = P.tusz_bckg
    events = in_manifest(outcome, "SELECT count(*) FROM events WHERE recording_id = ?", [rec])
    seizures = in_manifest(
        outcome, "SELECT start_s, stop_s FROM seizures WHERE recording_id = ?", [rec]
    )
    assert events == [(3,)]
    assert seizures == [(10.0, 50.0)]


def _no_events(outcome: Outcome) -> None:
    rows = in_manifest(
        outcome,
        "SELECT count(e.recording_id) FROM recordings r LEFT JOIN events e USING (recording_id)"
        " WHERE r.recording_id = ?",
        [P.tusz_bckg],
    )
    assert rows == [(0,)]


def _chbmit_numbers_disagree(root: Path) -> None:
    path = root / P.chbmit_summary
    text = path.read_text()
    text = text.replace("Seizure Start Time:", "Seizure 2 Start Time:")
    path.write_text(text.replace("Seizure End Time:", "Seizure 1 End Time:"))


def _one_note(code: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        rows = in_manifest(outcome, "SELECT code, recording_id FROM notes", [])
        assert [row[0] for row in rows] == [code]
        assert rows[0][1] is not None  # the recording was kept

    return check


def _siena_entry_without_file(root: Path) -> None:
    path = root / P.siena_list
    entry = (
        "\nSeizure n 2\nRegistration start time: 11.00.00\nRegistration end time: 11.02.00\n"
        "Seizure start time: 11.00.40\nSeizure end time: 11.01.00\n"
    )
    path.write_text(path.read_text() + entry)


BIG_ROWS = 100_000  # 3.2 MB of rows


BCKG_CHANNEL_CSV = BCKG_CSV.removesuffix("_bi")  # the per-channel sibling of the .csv_bi
CHANNEL_ROW = "FP1-F7,0.0000,100.0000,bckg,1.0000"
BOTH_FOLLOW = ((BCKG_EDF, "annotation_rejected"), (BCKG_CHANNEL_CSV, "annotation_rejected"))


def _with_channel_csv(term_rows: list[str], *, utf16: bool = False) -> Callable[[Path], None]:
    """A good per-channel ``.csv`` beside the background recording's ``.csv_bi`` of ``rows``."""

    def make(root: Path) -> None:
        write(BCKG_CHANNEL_CSV, csv_bi(BCKG_NAME, 100, [CHANNEL_ROW]))(root)
        text = csv_bi(BCKG_NAME, 100, term_rows)
        target = root / BCKG_CSV
        target.write_bytes(text.encode("utf-16") if utf16 else text.encode("utf-8"))

    return make


def _past_end_with_channel_csv(root: Path) -> None:
    write(BCKG_CHANNEL_CSV, csv_bi(BCKG_NAME, 100, [CHANNEL_ROW]))(root)
    # `# duration` within 1 s of the EDF's 100 s (no duration_mismatch), the event past its end
    bckg_csv(term(95, 100.5), duration=101)(root)


def _huge_csv(root: Path) -> None:
    """A 200 MB file (the 6-million-row case) costs nothing on disk: rows, then a hole."""
    target = root / BCKG_CSV
    bckg_csv(term(0, 100, "bckg"))(root)
    os.truncate(target, 200 * 1024 * 1024)


def _big_csv(root: Path) -> None:
    step = 100 / BIG_ROWS
    rows = [term(i * step, (i + 1) * step, "bckg") for i in range(BIG_ROWS - 1)]
    rows.append(term(40, 60))
    (root / BCKG_CSV).write_text(csv_bi(BCKG_NAME, 100, rows))
    assert (root / BCKG_CSV).stat().st_size > 3_000_000


def _big_csv_parsed(outcome: Outcome) -> None:
    rows = in_manifest(
        outcome,
        "SELECT count(*), count(*) FILTER (WHERE positive) FROM events WHERE source_path = ?",
        [BCKG_CSV],
    )
    assert rows == [(BIG_ROWS, 1)]


def _bom(root: Path) -> None:
    target = root / BCKG_CSV
    target.write_bytes(b"\xef\xbb\xbf" + target.read_bytes())


def _crlf(root: Path) -> None:
    for rel in (BCKG_CSV, P.bids_events, P.chbmit_summary):
        target = root / rel
        target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))


def _undecodable(root: Path) -> None:
    text = csv_bi(BCKG_NAME, 100, [term(0, 100, "bckg")]).encode()
    (root / BCKG_CSV).write_bytes(text.replace(b"bckg,1.0000", b"bckg\xff,1.0000"))


def _bids(*rows: str, header: str = BIDS_HEADER) -> Callable[[Path], None]:
    return write(P.bids_events, "\n".join([header, *rows]) + "\n")


CHBMIT_COUNT_LINE = CHBMIT_02_LINE + 3
CHBMIT_END_LINE = CHBMIT_02_LINE + 5
BIDS_REJECTS_EDF = ((P.bids_edf, "annotation_rejected"),)

ANNOTATION_CASES = [
    BadInput(
        id="csv_stop_before_start",
        kind=ANNOTATION,
        description="`.csv_bi` row whose stop_time < start_time",
        make=bckg_csv(term(30.5, 12.0)),
        reason="bad_interval",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="stop_time 12.0 <= start_time 30.5",
    ),
    BadInput(
        id="csv_negative_time",
        kind=ANNOTATION,
        description="`.csv_bi` row starting at -5 s",
        make=bckg_csv(term(-5, 10)),
        reason="bad_interval",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="start_time -5.0 < 0",
    ),
    BadInput(
        id="csv_nan_time",
        kind=ANNOTATION,
        description="`.csv_bi` row with start_time `nan`",
        make=bckg_csv("TERM,nan,20.0000,seiz,1.0000"),
        reason="bad_interval",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="must be finite",
    ),
    BadInput(
        id="csv_past_declared_duration",
        kind=ANNOTATION,
        description="event ends after the file's `# duration`",
        make=bckg_csv(term(0, 90, "bckg"), term(90, 150)),
        reason="out_of_range",
        line=ROW + 1,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="stop_time 150.0 > duration 100.0",
    ),
    BadInput(
        id="csv_past_recording_end",
        kind=ANNOTATION,
        description="event inside `# duration` (101 s, within 1 s of the EDF's 100 s) but past"
        " the EDF's end",
        make=bckg_csv(term(95, 100.5), duration=101),
        reason="out_of_range",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="past the recording's end at 100 s",
    ),
    BadInput(
        id="csv_duration_mismatch",
        kind=ANNOTATION,
        description="`# duration` 200 s for an EDF of 100 s (a truncated download or a wrong pair)",
        make=bckg_csv(term(150, 160), duration=200),
        reason="duration_mismatch",
        line=None,
        path=BCKG_EDF,
        also=((BCKG_CSV, "recording_rejected"),),
        delta=-1,
        needle="the EDF header gives 100 s but",
    ),
    BadInput(
        id="csv_overlapping_events",
        kind=ANNOTATION,
        description="three overlapping seizure rows (allowed: merged into one seizure)",
        make=bckg_csv(term(10, 30), term(20, 40), term(35, 50)),
        reason=ACCEPTED,
        line=None,
        path=BCKG_CSV,
        check=_merged_into_one,
    ),
    BadInput(
        id="csv_unknown_label",
        kind=ANNOTATION,
        description="label `sezure` (a typo)",
        make=bckg_csv(term(10, 20, "sezure")),
        reason="unknown_label",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="unknown label 'sezure'",
    ),
    BadInput(
        id="csv_missing_column",
        kind=ANNOTATION,
        description="column header without `confidence`",
        make=replace(BCKG_CSV, "label,confidence", "label"),
        reason="bad_format",
        line=ROW - 1,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="missing confidence",
    ),
    BadInput(
        id="csv_missing_field",
        kind=ANNOTATION,
        description="row with four of the five fields",
        make=bckg_csv("TERM,10.0000,20.0000,seiz"),
        reason="bad_format",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="found 4",
    ),
    BadInput(
        id="csv_not_a_number",
        kind=ANNOTATION,
        description="start_time `ten`",
        make=bckg_csv("TERM,ten,20.0000,seiz,1.0000"),
        reason="bad_format",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="start_time 'ten' is not a number",
    ),
    BadInput(
        id="csv_bad_duration_header",
        kind=ANNOTATION,
        description="`# duration = -5 secs`",
        make=replace(BCKG_CSV, "# duration = 100.00 secs", "# duration = -5 secs"),
        reason="bad_format",
        line=3,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="is not a positive",
    ),
    BadInput(
        id="csv_empty_file",
        kind=ANNOTATION,
        description="0-byte `.csv_bi`",
        make=write(BCKG_CSV, b""),
        reason="empty_file",
        line=None,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="file is empty",
    ),
    BadInput(
        id="csv_whitespace_only",
        kind=ANNOTATION,
        description="`.csv_bi` holding blank lines only",
        make=write(BCKG_CSV, "\n  \n\t\n"),
        reason="empty_file",
        line=None,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
    ),
    BadInput(
        id="csv_header_without_rows",
        kind=ANNOTATION,
        description="header lines, no event row (allowed: no event)",
        make=bckg_csv(),
        reason=ACCEPTED,
        line=None,
        path=BCKG_CSV,
        check=_no_events,
    ),
    BadInput(
        id="csv_byte_order_mark",
        kind=ANNOTATION,
        description="UTF-8 byte-order mark (allowed)",
        make=_bom,
        reason=ACCEPTED,
        line=None,
        path=BCKG_CSV,
    ),
    BadInput(
        id="crlf_line_endings",
        kind=ANNOTATION,
        description="CRLF line endings in csv_bi, events.tsv, summary",
        make=_crlf,
        reason=ACCEPTED,
        line=None,
        path=BCKG_CSV,
    ),
    BadInput(
        id="csv_undecodable_bytes",
        kind=ANNOTATION,
        description="byte 0xff in a row",
        make=_undecodable,
        reason="undecodable",
        line=ROW,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="byte 0xff",
    ),
    BadInput(
        id="csv_multi_megabyte",
        kind=ANNOTATION,
        description="a 3.2 MB `.csv_bi` of 100,000 rows (allowed)",
        make=_big_csv,
        reason=ACCEPTED,
        line=None,
        path=BCKG_CSV,
        check=_big_csv_parsed,
    ),
    BadInput(
        id="csv_over_the_size_limit",
        kind=ANNOTATION,
        description="a 200 MB `.csv_bi` (sparse: valid rows, then a hole); never read",
        make=_huge_csv,
        reason="too_large",
        line=None,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="audit.limits.max_annotation_mb",
        timeout_s=30.0,
    ),
    BadInput(
        id="csv_bi_utf16_beside_good_csv",
        kind=ANNOTATION,
        description="a UTF-16 `.csv_bi` beside a good per-channel `.csv`: the `.csv` is not lost",
        make=_with_channel_csv([term(0, 100, "bckg")], utf16=True),
        reason="undecodable",
        line=1,
        path=BCKG_CSV,
        also=BOTH_FOLLOW,
        delta=-1,
    ),
    BadInput(
        id="csv_bi_inf_stop_beside_good_csv",
        kind=ANNOTATION,
        description="a `.csv_bi` row stopping at `inf` beside a good `.csv`",
        make=_with_channel_csv(["TERM,0.0000,inf,bckg,1.0000"]),
        reason="bad_interval",
        line=CSV_FIRST_ROW,
        path=BCKG_CSV,
        also=BOTH_FOLLOW,
        delta=-1,
    ),
    BadInput(
        id="csv_bi_1e308_stop_beside_good_csv",
        kind=ANNOTATION,
        description="a `.csv_bi` row stopping at `1e308` beside a good `.csv`",
        make=_with_channel_csv(["TERM,0.0000,1e308,bckg,1.0000"]),
        reason="out_of_range",
        line=CSV_FIRST_ROW,
        path=BCKG_CSV,
        also=BOTH_FOLLOW,
        delta=-1,
    ),
    BadInput(
        id="csv_bi_past_edf_end_beside_good_csv",
        kind=ANNOTATION,
        description="a `.csv_bi` event past the EDF's end (inside its `# duration`) beside a "
        "good `.csv`",
        make=_past_end_with_channel_csv,
        reason="out_of_range",
        line=CSV_FIRST_ROW,
        path=BCKG_CSV,
        also=BOTH_FOLLOW,
        delta=-1,
    ),
    BadInput(
        id="csv_nul_label_beside_good_csv_bi",
        kind=ANNOTATION,
        description="a per-channel `.csv` with a NUL in a label beside a good `.csv_bi`",
        make=write(
            BCKG_CHANNEL_CSV, csv_bi(BCKG_NAME, 100, ["FP1-F7,0.0000,100.0000,bc\x00kg,1.0000"])
        ),
        reason="unknown_label",
        line=CSV_FIRST_ROW,
        path=BCKG_CHANNEL_CSV,
        also=((BCKG_EDF, "annotation_rejected"), (BCKG_CSV, "annotation_rejected")),
        delta=-1,
    ),
    BadInput(
        id="csv_two_durations",
        kind=ANNOTATION,
        description="two `# duration` lines that disagree (100 s, then 50 s)",
        make=replace(BCKG_CSV, "# montage_file", "# duration = 50.00 secs\n# montage_file"),
        reason="bad_format",
        line=4,
        path=BCKG_CSV,
        also=CSV_REJECTS_EDF,
        delta=-1,
        needle="a second '# duration' line says '50.00 secs'; line 3 said '100.00 secs'",
    ),
    BadInput(
        id="tse_bad_row",
        kind=ANNOTATION,
        description="v1.5 `.tse` row with three fields",
        make=write(P.tse, "version = tse_v1.0.0\n\n10.0000 seiz 1.0000\n"),
        reason="bad_format",
        line=TSE_FIRST_ROW,
        path=P.tse,
        also=((TSE_EDF, "annotation_rejected"),),
        delta=-1,
        needle="found 3",
    ),
    BadInput(
        id="tse_stop_before_start",
        kind=ANNOTATION,
        description="v1.5 `.tse` row whose stop < start",
        make=write(P.tse, "version = tse_v1.0.0\n\n20.0000 10.0000 seiz 1.0000\n"),
        reason="bad_interval",
        line=TSE_FIRST_ROW,
        path=P.tse,
        also=((TSE_EDF, "annotation_rejected"),),
        delta=-1,
    ),
    BadInput(
        id="tse_no_version_line",
        kind=ANNOTATION,
        description="v1.5 `.tse` without its `version =` line",
        make=write(P.tse, "10.0000 20.0000 seiz 1.0000\n"),
        reason="bad_format",
        line=1,
        path=P.tse,
        also=((TSE_EDF, "annotation_rejected"),),
        delta=-1,
        needle="is not 'version = tse_v...'",
    ),
    BadInput(
        id="lbl_unknown_symbol",
        kind=ANNOTATION,
        description="v1.5 `.lbl` label whose symbol is not a label",
        make=write(
            P.lbl,
            LBL_HEAD.replace("2: 'seiz'", "2: 'xyzw'")
            + "label = {0, 0, 5.0000, 25.0000, 0, [0.0, 0.0, 1.0]}\n",
        ),
        reason="unknown_label",
        line=LBL_FIRST_LABEL,
        path=P.lbl,
        also=((LBL_EDF, "annotation_rejected"),),
        delta=-1,
        needle="'xyzw'",
    ),
    BadInput(
        id="lbl_channel_without_montage",
        kind=ANNOTATION,
        description="v1.5 `.lbl` label on channel 7 of 2",
        make=write(P.lbl, LBL_HEAD + "label = {0, 0, 5.0000, 25.0000, 7, [0.0, 0.0, 1.0]}\n"),
        reason="bad_format",
        line=LBL_FIRST_LABEL,
        path=P.lbl,
        also=((LBL_EDF, "annotation_rejected"),),
        delta=-1,
        needle="channel 7 has no montage line",
    ),
    BadInput(
        id="chbmit_seizure_count_mismatch",
        kind=ANNOTATION,
        description="CHB-MIT block declares 2 seizures and lists 1",
        make=replace(
            P.chbmit_summary, "Number of Seizures in File: 1", "Number of Seizures in File: 2"
        ),
        reason="bad_format",
        line=CHBMIT_COUNT_LINE,
        path=P.chbmit_summary,
        also=((CHB02_EDF, "annotation_rejected"),),
        delta=-1,
        needle="chb01_02: Number of Seizures in File says 2 but 1",
    ),
    BadInput(
        id="chbmit_seizure_numbers_disagree",
        kind=ANNOTATION,
        description="CHB-MIT `Seizure 2 Start Time` closed by `Seizure 1 End Time` (allowed:"
        " paired by position, with a note)",
        make=_chbmit_numbers_disagree,
        reason=ACCEPTED,
        line=None,
        path=P.chbmit_summary,
        check=_one_note("seizure_number_mismatch"),
    ),
    BadInput(
        id="chbmit_seizure_past_file_end",
        kind=ANNOTATION,
        description="CHB-MIT seizure ends after File End Time",
        make=replace(P.chbmit_summary, "End Time: 50 seconds", "End Time: 150 seconds"),
        reason="out_of_range",
        line=CHBMIT_END_LINE,
        path=P.chbmit_summary,
        also=((CHB02_EDF, "annotation_rejected"),),
        delta=-1,
        needle="past the file's end at 120 s",
    ),
    BadInput(
        id="chbmit_lists_absent_file",
        kind=ANNOTATION,
        description="CHB-MIT summary lists an EDF that is absent",
        make=write(
            P.chbmit_summary,
            CHBMIT_HEAD
            + CHBMIT_01
            + CHBMIT_02
            + "\nFile Name: chb01_03.edf\nFile Start Time: 12:00:00\nFile End Time: 12:02:00\n"
            "Number of Seizures in File: 0\n",
        ),
        reason="missing_recording",
        line=CHBMIT_02_LINE + 7,
        path=P.chbmit_summary,
        needle="annotates chb01_03.edf, which is not present",
    ),
    BadInput(
        id="siena_seizure_past_registration_end",
        kind=ANNOTATION,
        description="Siena seizure ends after the registration end",
        make=replace(P.siena_list, "Seizure end time: 10.01.00", "Seizure end time: 10.03.00"),
        reason="out_of_range",
        line=SIENA_SEIZURE_END_LINE,
        path=P.siena_list,
        also=((SIENA_EDF, "annotation_rejected"),),
        delta=-1,
        needle="past the registration end",
    ),
    BadInput(
        id="siena_entry_without_file",
        kind=ANNOTATION,
        description="Siena entry with its own registration but no `File name:` line",
        make=_siena_entry_without_file,
        reason="bad_format",
        line=SIENA_SEIZURE_END_LINE + 2,
        path=P.siena_list,
        needle="<entry at line 11>: seizure entry names no file",
    ),
    BadInput(
        id="siena_bad_clock",
        kind=ANNOTATION,
        description="Siena seizure start time `10.61.00`",
        make=replace(P.siena_list, "Seizure start time: 10.00.40", "Seizure start time: 10.61.00"),
        reason="bad_format",
        line=SIENA_SEIZURE_END_LINE - 1,
        path=P.siena_list,
        also=((SIENA_EDF, "annotation_rejected"),),
        delta=-1,
        needle="is not a clock time",
    ),
    BadInput(
        id="bids_wrong_header",
        kind=ANNOTATION,
        description="comma-separated `events.tsv` header",
        make=_bids(bids_row(0, 120, "bckg", 120), header=BIDS_HEADER.replace("\t", ",")),
        reason="bad_format",
        line=1,
        path=P.bids_events,
        also=BIDS_REJECTS_EDF,
        delta=-1,
        needle="columns must be tab-separated",
    ),
    BadInput(
        id="bids_unknown_event_type",
        kind=ANNOTATION,
        description="eventType `seizure` (not HED-SCORE)",
        make=_bids(bids_row(0, 60, "bckg", 120), bids_row(60, 20, "seizure", 120)),
        reason="unknown_label",
        line=3,
        path=P.bids_events,
        also=BIDS_REJECTS_EDF,
        delta=-1,
        needle="unknown eventType 'seizure'",
    ),
    BadInput(
        id="bids_negative_onset",
        kind=ANNOTATION,
        description="`events.tsv` onset -1",
        make=_bids(bids_row(-1, 20, "sz", 120)),
        reason="bad_interval",
        line=2,
        path=P.bids_events,
        also=BIDS_REJECTS_EDF,
        delta=-1,
        needle="onset -1.0 < 0",
    ),
    BadInput(
        id="bids_past_recording_duration",
        kind=ANNOTATION,
        description="event ends after `recordingDuration`",
        make=_bids(bids_row(100, 40, "sz", 120)),
        reason="out_of_range",
        line=2,
        path=P.bids_events,
        also=BIDS_REJECTS_EDF,
        delta=-1,
        needle="> recordingDuration 120.0",
    ),
]
