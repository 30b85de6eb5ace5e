"""Catalogue cases: EDF, EDF+ and BDF recordings."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.reliability.bad_input import (
    ACCEPTED,
    BCKG_CSV,
    BCKG_EDF,
    BCKG_NAME,
    EDF,
    EDF_REJECTS_CSV,
    BadInput,
    Outcome,
    in_manifest,
    patch_bckg,
    truncate,
    write,
)
from tests.reliability.corpus import (
    HEADER_BYTES_AT,
    N_RECORDS_AT,
    N_SIGNALS_AT,
    RECORD_DURATION_AT,
    P,
    edf_bytes,
    edfplus_bytes,
    patch,
    signal_field,
)

BCKG_DATA = 100 * 2 * 16 * 2  # bytes of data: 100 records x 2 signals x 16 samples x 2 bytes


def _comma_onset(root: Path) -> None:
    """The 30.5 s seizure's TAL rewritten with a comma (same length, so the record holds)."""
    raw = edfplus_bytes("rec01", ((30.5, 20.0, "Seizure"),))
    assert raw.count(b"+30.5\x1520\x14") == 1
    write(P.edfplus, raw.replace(b"+30.5\x1520\x14", b"+30,5\x1520\x14"))(root)


def _seizure_is(interval: tuple[float, float]) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        rows = in_manifest(
            outcome,
            "SELECT s.start_s, s.stop_s FROM seizures s JOIN recordings r USING (rec_idx)"
            " WHERE r.path = ?",
            [P.edfplus],
        )
        assert rows == [interval]

    return check


def _longer_than_a_week(root: Path) -> None:
    """700,000 records of 1 s at 16 Hz: every field plausible but the length (a sparse file)."""
    target = root / BCKG_EDF
    patch(target, N_RECORDS_AT, 700000)
    header = len(target.read_bytes()) - BCKG_DATA
    os.truncate(target, header + 700000 * 2 * 16 * 2)


def _same_stem(suffix: str, *, bdf: bool = False) -> Callable[[Path], None]:
    """A second recording file with the background recording's stem (sorted before it)."""

    def make(root: Path) -> None:
        other = (root / BCKG_EDF).with_suffix(suffix)
        other.write_bytes(edf_bytes(BCKG_NAME + suffix, 100, bdf=bdf))

    return make


def _zero_signals(root: Path) -> None:
    target = root / BCKG_EDF
    target.write_bytes(target.read_bytes()[:256])
    patch(target, N_SIGNALS_AT, 0)
    patch(target, HEADER_BYTES_AT, 256)


def _non_ascii_label(root: Path) -> None:
    target = root / BCKG_EDF
    raw = bytearray(target.read_bytes())
    offset, _ = signal_field(2, 0, 16, 1)
    raw[offset : offset + 16] = "EEG F7-Réf".encode().ljust(16)
    target.write_bytes(bytes(raw))


def _backtracking(root: Path) -> None:
    """24 signals (CHB-MIT has 23) whose last digital maximum is malformed."""
    labels = tuple(f"EEG {i}-REF" for i in range(24))
    target = root / BCKG_EDF
    target.write_bytes(edf_bytes(BCKG_NAME, 100, labels=labels))
    patch(target, signal_field(24, 128, 8, 23), "3276x")


def _bdf(truncated: bool) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / BCKG_EDF).unlink()
        raw = edf_bytes(BCKG_NAME, 100, bdf=True)
        (root / (P.tusz_bckg + ".bdf")).write_bytes(raw[:2000] if truncated else raw)

    return make


def _patient_is_latin1(outcome: Outcome) -> None:
    rows = in_manifest(outcome, "SELECT patient FROM recordings WHERE path = ?", [P.edfplus])
    assert rows == [("Pü01",)]


EDF_CASES = [
    BadInput(
        id="edf_truncated",
        kind=EDF,
        description="EDF cut short inside its data records",
        make=truncate(BCKG_EDF, 768 + BCKG_DATA // 2 + 10),
        reason="edf_truncated",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="but the file holds 3210 bytes of data",
    ),
    BadInput(
        id="edf_more_records_than_held",
        kind=EDF,
        description="header claims 1000 data records, the file holds 100",
        make=patch_bckg(N_RECORDS_AT, 1000),
        reason="edf_truncated",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="header says 1000 data records",
    ),
    BadInput(
        id="edf_header_cut",
        kind=EDF,
        description="file ends inside the signal headers",
        make=truncate(BCKG_EDF, 600),
        reason="edf_truncated",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="(768 header bytes) but the file holds 600 bytes",
    ),
    BadInput(
        id="edf_zero_records",
        kind=EDF,
        description="header says 0 data records",
        make=patch_bckg(N_RECORDS_AT, 0),
        reason="edf_empty",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="no data record",
    ),
    BadInput(
        id="edf_zero_signals",
        kind=EDF,
        description="header lists 0 signals",
        make=_zero_signals,
        reason="edf_empty",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="0 signals",
    ),
    BadInput(
        id="edf_only_annotation_signal",
        kind=EDF,
        description="EDF+ whose only signal is `EDF Annotations`",
        make=write(P.edfplus, edfplus_bytes("rec01", labels=())),
        reason="edf_empty",
        line=None,
        path=P.edfplus,
        delta=-1,
        needle="all 1 signals are EDF Annotations",
    ),
    BadInput(
        id="edf_non_ascii_label",
        kind=EDF,
        description="signal label holds UTF-8 bytes (labels must be ASCII)",
        make=_non_ascii_label,
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="0xc3",
    ),
    BadInput(
        id="edf_non_ascii_patient",
        kind=EDF,
        description="Latin-1 patient field (free text: allowed)",
        make=write(P.edfplus, edfplus_bytes("rec01", patient=b"P\xfc01 M 01-JAN-2000 M\xfcller")),
        reason=ACCEPTED,
        line=None,
        path=P.edfplus,
        check=_patient_is_latin1,
    ),
    BadInput(
        id="edf_absurd_sampling_rate",
        kind=EDF,
        description="99,999,999 samples per 1 s record",
        make=patch_bckg(signal_field(2, 216, 8, 0), 99999999),
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="more than the 100000 Hz",
    ),
    BadInput(
        id="edf_malformed_last_range_field",
        kind=EDF,
        description="24 signals, the last one's digital maximum reads `3276x`",
        make=_backtracking,
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="digital maximum of signal 24 holds b'3276x   ', not a number",
        timeout_s=60.0,  # a hang fails the case; the audit itself takes seconds
    ),
    BadInput(
        id="edf_negative_record_duration",
        kind=EDF,
        description="data record duration -1 s",
        make=patch_bckg(RECORD_DURATION_AT, -1),
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="data record duration is -1.0 s",
    ),
    BadInput(
        id="edf_zero_record_duration",
        kind=EDF,
        description="data record duration 0 s",
        make=patch_bckg(RECORD_DURATION_AT, 0),
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="not > 0",
    ),
    BadInput(
        id="edf_non_numeric_field",
        kind=EDF,
        description="number of data records reads `ten`",
        make=patch_bckg(N_RECORDS_AT, "ten"),
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="number of data records field holds",
    ),
    BadInput(
        id="edf_header_bytes_mismatch",
        kind=EDF,
        description="header size field disagrees with the signal count",
        make=patch_bckg(HEADER_BYTES_AT, 512),
        reason="edf_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="header says 512 header bytes",
    ),
    BadInput(
        id="edf_not_edf",
        kind=EDF,
        description="an HTML page saved as .edf",
        make=write(BCKG_EDF, "<html><body>404 Not Found</body></html>\n" * 10),
        reason="not_edf",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="file starts with b'<html><b'",
    ),
    BadInput(
        id="edf_255_bytes",
        kind=EDF,
        description="255 bytes: shorter than the fixed header",
        make=truncate(BCKG_EDF, 255),
        reason="not_edf",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="file holds 255 bytes",
    ),
    BadInput(
        id="edf_empty_file",
        kind=EDF,
        description="0 bytes",
        make=write(BCKG_EDF, b""),
        reason="not_edf",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="holds 0 bytes",
    ),
    BadInput(
        id="bdf_valid",
        kind=EDF,
        description="a BDF (24-bit) recording in place of the EDF (allowed)",
        make=_bdf(truncated=False),
        reason=ACCEPTED,
        line=None,
        path=P.tusz_bckg + ".bdf",
    ),
    BadInput(
        id="bdf_truncated",
        kind=EDF,
        description="a BDF cut short inside its data records",
        make=_bdf(truncated=True),
        reason="edf_truncated",
        line=None,
        path=P.tusz_bckg + ".bdf",
        also=((BCKG_CSV, "recording_rejected"),),
        delta=-1,
        needle="of 96 bytes",
    ),
    BadInput(
        id="edfplus_undecodable_annotation",
        kind=EDF,
        description="EDF+ annotation text that is not UTF-8",
        make=write(P.edfplus, edfplus_bytes("rec01", ((30.0, 20.0, b"Seizure \xff\xfe"),))),
        reason="undecodable",
        line=None,
        path=P.edfplus,
        delta=-1,
        needle="is not valid UTF-8",
    ),
    BadInput(
        id="edfplus_seizure_past_end",
        kind=EDF,
        description="EDF+ seizure annotation ending after the recording",
        make=write(P.edfplus, edfplus_bytes("rec01", ((50.0, 20.0, "Seizure"),))),
        reason="out_of_range",
        line=None,
        path=P.edfplus,
        delta=-1,
        needle="past the recording's end at 60 s",
    ),
    BadInput(
        id="edfplus_seizure_without_duration",
        kind=EDF,
        description="EDF+ seizure annotation without a duration",
        make=write(P.edfplus, edfplus_bytes("rec01", ((30.0, None, "Seizure"),))),
        reason="bad_interval",
        line=None,
        path=P.edfplus,
        delta=-1,
        needle="has no duration",
    ),
    BadInput(
        id="edfplus_negative_onset",
        kind=EDF,
        description="EDF+ seizure annotation at -5 s",
        make=write(P.edfplus, edfplus_bytes("rec01", ((-5.0, 10.0, "Seizure"),))),
        reason="bad_interval",
        line=None,
        path=P.edfplus,
        delta=-1,
        needle="annotation 1 ('Seizure' at -5 s) starts before the recording",
    ),
    BadInput(
        id="edf_absurd_record_duration",
        kind=EDF,
        description="data record duration 99,999,999 s (billions of windows)",
        make=patch_bckg(RECORD_DURATION_AT, 99999999),
        reason="implausible_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="audit.limits",
        timeout_s=60.0,
    ),
    BadInput(
        id="edf_absurd_low_rate",
        kind=EDF,
        description="16 samples per 6,250 s record: 0.00256 Hz, 173 h",
        make=patch_bckg(RECORD_DURATION_AT, 6250),
        reason="implausible_header",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="0.00256 Hz",
    ),
    BadInput(
        id="edf_longer_than_a_week",
        kind=EDF,
        description="a plausible rate over 700,000 one-second records (8.1 days, sparse file)",
        make=_longer_than_a_week,
        reason="implausible_duration",
        line=None,
        path=BCKG_EDF,
        also=EDF_REJECTS_CSV,
        delta=-1,
        needle="8.1 days",
        timeout_s=60.0,
    ),
    BadInput(
        id="edf_same_stem_upper_case",
        kind=EDF,
        description="`x.EDF` beside `x.edf`: two files for one recording",
        make=_same_stem(".EDF"),
        reason="duplicate_recording",
        line=None,
        path=BCKG_EDF,
        needle=BCKG_NAME + ".EDF",
    ),
    BadInput(
        id="edf_same_stem_bdf",
        kind=EDF,
        description="`x.bdf` beside `x.edf`: two files for one recording",
        make=_same_stem(".bdf", bdf=True),
        reason="duplicate_recording",
        line=None,
        path=BCKG_EDF,
        needle=BCKG_NAME + ".bdf",
    ),
    BadInput(
        id="edfplus_comma_decimal_onset",
        kind=EDF,
        description="EDF+ seizure TAL `+30,5` (a comma decimal, as some recorders write)",
        make=_comma_onset,
        reason=ACCEPTED,
        line=None,
        path=P.edfplus,
        check=_seizure_is((30.5, 50.5)),
    ),
    BadInput(
        id="edfplus_onset_end_markers",
        kind=EDF,
        description="EDF+ instant markers `Seizure onset` at 30 s, `Seizure end` at 50 s",
        make=write(
            P.edfplus,
            edfplus_bytes("rec01", ((30.0, None, "Seizure onset"), (50.0, None, "Seizure end"))),
        ),
        reason=ACCEPTED,
        line=None,
        path=P.edfplus,
        check=_seizure_is((30.0, 50.0)),
    ),
    BadInput(
        id="edfplus_onset_without_end",
        kind=EDF,
        description="EDF+ `Seizure onset` marker with no `Seizure end` after it",
        make=write(P.edfplus, edfplus_bytes("rec01", ((30.0, None, "Seizure onset"),))),
        reason="bad_interval",
        line=None,
        path=P.edfplus,
        delta=-1,
        needle="has no end marker after it",
    ),
]
