"""EDF/EDF+/BDF header reader: real files against MNE and edfio, corruptions, never reading data."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import edfio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.errors import InputError, Reason, RecordingError
from preflight.sources import edf, edfplus
from preflight.sources.edf import READER_NAME, READER_VERSION, content_fingerprint, read_header
from preflight.sources.records import EdfHeader

REAL_FILES = (
    "PN00-1.edf",
    "chb01_01_sample.edf",
    "duplicate_channel_labels.edf",
    "test.edf",
    "test_edf_stim_channel.edf",
    "test_generator.edf",
    "test_subsecond.edf",
    "test_uneven_samp.edf",
    "test_utf8.edf",
)

# Fixed-header fields: (offset, width).
N_SIGNALS, HEADER_BYTES, N_RECORDS, DURATION = (252, 4), (184, 8), (236, 8), (244, 8)
START_DATE, START_TIME, PATIENT, RESERVED = (168, 8), (176, 8), (8, 80), (192, 44)
# Signal-header fields: (offset in units of the number of signals, width).
LABEL, PHYS_MIN, DIG_MAX, SAMPLES = (0, 16), (104, 8), (128, 8), (216, 8)

RATE, SECONDS = 256, 4  # the synthetic recordings: 3 signals at 256 Hz, 4 one-second records


def _signals(
    rates: tuple[int, ...] = (RATE,) * 3, labels: tuple[str, ...] = ()
) -> list[edfio.EdfSignal]:
    """Zero-valued edfio signals, ``SECONDS`` long, one per rate."""
    labels = labels or tuple(f"EEG {i}-REF" for i in range(len(rates)))
    return [
        edfio.EdfSignal(np.zeros(r * SECONDS), sampling_frequency=r, label=label)
        for r, label in zip(rates, labels, strict=True)
    ]


def _write(path: Path, signals: list[edfio.EdfSignal], **kwargs: Any) -> Path:
    """Write an EDF with edfio (a real writer) and return its path."""
    kwargs.setdefault("recording", edfio.Recording(startdate=dt.date(2020, 1, 24)))
    kwargs.setdefault("starttime", dt.time(4, 5, 56))
    edfio.Edf(signals, **kwargs).write(path)
    return path


def _patch(path: Path, offset: int, value: bytes) -> None:
    """Overwrite bytes of ``path`` in place."""
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(value)


def _set(path: Path, field: tuple[int, int], value: str | bytes) -> None:
    """Overwrite a fixed-header field, space padded."""
    raw = value.encode("latin-1") if isinstance(value, str) else value
    _patch(path, field[0], raw.ljust(field[1]))


def _set_signal(path: Path, field: tuple[int, int], signal: int, value: str | bytes) -> None:
    """Overwrite a signal-header field of one signal, space padded."""
    ns = int(path.read_bytes()[252:256])
    raw = value.encode("latin-1") if isinstance(value, str) else value
    _patch(path, 256 + field[0] * ns + field[1] * signal, raw.ljust(field[1]))


@pytest.fixture
def edf_path(tmp_path: Path) -> Path:
    """A plain EDF (no annotation signal): 3 signals at 256 Hz, 4 records of 1 s."""
    return _write(tmp_path / "plain.edf", _signals())


@pytest.fixture
def edfplus_path(tmp_path: Path) -> Path:
    """An EDF+C with a sub-second start and three annotations, one of them UTF-8."""
    annotations = [
        edfio.EdfAnnotation(0.5, None, "start"),
        edfio.EdfAnnotation(1.25, 2.0, "seiz"),
        edfio.EdfAnnotation(3.0, None, "中文 é"),
    ]
    return _write(
        tmp_path / "plus.edf",
        _signals(),
        starttime=dt.time(4, 5, 56, 394531),
        annotations=annotations,
    )


def _reason(path: Path) -> Reason:
    """The reason code ``read_header`` rejects ``path`` with."""
    with pytest.raises(RecordingError) as info:
        read_header(path)
    assert info.value.path == str(path)
    return info.value.reason


# --- valid files ---------------------------------------------------------------------------------


def test_reader_identity() -> None:
    assert (READER_NAME, READER_VERSION) == ("edf-header", "3")
    assert set(edf.__all__) == {
        "READER_NAME",
        "READER_VERSION",
        "content_fingerprint",
        "read_header",
    }


def test_plain_edf(edf_path: Path) -> None:
    header = read_header(edf_path)
    assert header.file_type == "EDF"
    assert (header.n_records, header.record_duration, header.duration) == (SECONDS, 1.0, SECONDS)
    assert header.labels == ("EEG 0-REF", "EEG 1-REF", "EEG 2-REF")
    assert header.sampling_rates == (RATE,) * 3
    assert header.start_time == dt.datetime(2020, 1, 24, 4, 5, 56)
    assert (header.n_annotation_signals, header.annotations) == (0, ())
    assert header.header_bytes == 256 * 4
    assert header.data_bytes == SECONDS * 3 * RATE * 2
    assert edf_path.stat().st_size == header.header_bytes + header.data_bytes


def test_edfplus_annotations_and_subsecond_start(edfplus_path: Path) -> None:
    header = read_header(edfplus_path)
    assert header.file_type == "EDF+C"
    assert header.labels == ("EEG 0-REF", "EEG 1-REF", "EEG 2-REF")
    assert header.n_annotation_signals == 1
    assert header.start_time == dt.datetime(2020, 1, 24, 4, 5, 56, 394531)
    onsets, durations, texts = zip(*header.annotations, strict=True)
    assert onsets == pytest.approx((0.5, 1.25, 3.0), abs=1e-6)  # from the first sample
    assert durations == (None, 2.0, None)
    assert texts == ("start", "seiz", "中文 é")


def test_edfplus_discontinuous(edfplus_path: Path) -> None:
    _set(edfplus_path, RESERVED, "EDF+D")
    assert read_header(edfplus_path).file_type == "EDF+D"


def test_without_annotations_reads_only_the_header(edfplus_path: Path) -> None:
    header = read_header(edfplus_path, with_annotations=False)
    assert header.annotations == ()
    assert header.n_annotation_signals == 1
    assert header.start_time == dt.datetime(2020, 1, 24, 4, 5, 56)  # the header's whole second


def test_uneven_rates_and_duplicate_labels(tmp_path: Path) -> None:
    signals = _signals((256, 128, 256), ("T8-P8", "ECG", "T8-P8"))
    header = read_header(_write(tmp_path / "uneven.edf", signals))
    assert header.labels == ("T8-P8", "ECG", "T8-P8")
    assert header.sampling_rates == (256.0, 128.0, 256.0)
    assert header.data_bytes == SECONDS * (256 + 128 + 256) * 2


def test_bdf(tmp_path: Path) -> None:
    path = tmp_path / "rec.bdf"
    signal = edfio.BdfSignal(np.zeros(512 * SECONDS), sampling_frequency=512, label="Fp1")
    edfio.Bdf([signal], starttime=dt.time(10, 0, 0)).write(path)
    header = read_header(path)
    assert header.file_type == "BDF"
    assert (header.labels, header.sampling_rates, header.duration) == (("Fp1",), (512.0,), SECONDS)
    assert header.data_bytes == SECONDS * 512 * 3 == path.stat().st_size - header.header_bytes


@pytest.mark.parametrize(
    ("date", "year"), [("31.12.84", 2084), ("01.01.85", 1985), ("24.01.20", 2020)]
)
def test_edf_year_rule(edf_path: Path, date: str, year: int) -> None:
    _set(edf_path, START_DATE, date)
    start = read_header(edf_path).start_time
    assert start is not None
    assert start.year == year


@pytest.mark.parametrize("date", ["xx.xx.xx", "31.02.20", "        "])
def test_invalid_start_date_gives_none(edf_path: Path, date: str) -> None:
    _set(edf_path, START_DATE, date)
    assert read_header(edf_path).start_time is None


def test_free_text_patient_field_may_be_latin1(edf_path: Path) -> None:
    _set(edf_path, PATIENT, "X M 01-JAN-1970 Müller".encode("latin-1"))
    assert read_header(edf_path).patient == "X M 01-JAN-1970 Müller"


def test_recording_in_progress_counts_records_from_file_size(edf_path: Path) -> None:
    _set(edf_path, N_RECORDS, "-1")
    with edf_path.open("ab") as f:
        f.write(b"\x00" * 100)  # a partial record being written
    header = read_header(edf_path)
    assert (header.n_records, header.duration) == (SECONDS, SECONDS)


def test_recording_in_progress_without_a_whole_record_is_empty(edf_path: Path) -> None:
    _set(edf_path, N_RECORDS, "-1")
    os.truncate(edf_path, read_header(edf_path).header_bytes + 10)
    assert _reason(edf_path) == Reason.EDF_EMPTY


def test_file_longer_than_promised_is_accepted(edf_path: Path) -> None:
    with edf_path.open("ab") as f:
        f.write(b"\x00" * 1000)
    assert read_header(edf_path).n_records == SECONDS


# --- corruptions ---------------------------------------------------------------------------------


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size - 1)


def _only_annotation_signals(path: Path) -> None:
    for signal in range(3):
        _set_signal(path, LABEL, signal, "EDF Annotations")


CORRUPTIONS: dict[str, tuple[Callable[[Path], object], Reason]] = {
    "truncated": (_truncate, Reason.EDF_TRUNCATED),
    "more records than held": (lambda p: _set(p, N_RECORDS, "3600"), Reason.EDF_TRUNCATED),
    "header cut short": (lambda p: os.truncate(p, 600), Reason.EDF_TRUNCATED),
    "zero records": (lambda p: _set(p, N_RECORDS, "0"), Reason.EDF_EMPTY),
    "zero signals": (lambda p: _set(p, N_SIGNALS, "0"), Reason.EDF_EMPTY),
    "only annotation signals": (_only_annotation_signals, Reason.EDF_EMPTY),
    "non-ascii record count": (lambda p: _set(p, N_RECORDS, b"4\xc3\xa9"), Reason.EDF_HEADER),
    "non-ascii label": (lambda p: _set_signal(p, LABEL, 1, b"EEG \xb5V"), Reason.EDF_HEADER),
    "non-numeric record count": (lambda p: _set(p, N_RECORDS, "four"), Reason.EDF_HEADER),
    "negative record count": (lambda p: _set(p, N_RECORDS, "-2"), Reason.EDF_HEADER),
    "negative signal count": (lambda p: _set(p, N_SIGNALS, "-3"), Reason.EDF_HEADER),
    "header bytes mismatch": (lambda p: _set(p, HEADER_BYTES, "768"), Reason.EDF_HEADER),
    "absurd sampling rate": (
        lambda p: _set_signal(p, SAMPLES, 0, "99999999"),
        Reason.EDF_HEADER,
    ),
    "absurd record duration": (lambda p: _set(p, DURATION, "0.0001"), Reason.EDF_HEADER),
    "zero samples per record": (lambda p: _set_signal(p, SAMPLES, 2, "0"), Reason.EDF_HEADER),
    "negative record duration": (lambda p: _set(p, DURATION, "-1"), Reason.EDF_HEADER),
    "zero record duration": (lambda p: _set(p, DURATION, "0"), Reason.EDF_HEADER),
    "non-numeric physical minimum": (
        lambda p: _set_signal(p, PHYS_MIN, 1, "abc"),
        Reason.EDF_HEADER,
    ),
    "overflowing duration": (lambda p: _set(p, DURATION, "1e308"), Reason.EDF_HEADER),
    "text file": (lambda p: p.write_text("hello, not an EDF\n" * 20), Reason.NOT_EDF),
    "255-byte file": (lambda p: p.write_bytes(p.read_bytes()[:255]), Reason.NOT_EDF),
    "empty file": (lambda p: p.write_bytes(b""), Reason.NOT_EDF),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_rejected_with_its_reason(edf_path: Path, name: str) -> None:
    corrupt, reason = CORRUPTIONS[name]
    corrupt(edf_path)
    assert _reason(edf_path) == reason


def test_truncation_message_names_both_sides(edf_path: Path) -> None:
    _set(edf_path, N_RECORDS, "3600")
    with pytest.raises(RecordingError, match=r"3600 data records of 1536 bytes \(5529600 bytes\)"):
        read_header(edf_path)
    with pytest.raises(RecordingError, match=r"the file holds 6144 bytes of data"):
        read_header(edf_path)


def test_rate_message_names_signal_and_rate(edf_path: Path) -> None:
    _set_signal(edf_path, SAMPLES, 1, "200000")
    with pytest.raises(RecordingError, match=r"'EEG 1-REF' has 200000 samples .* 200000 Hz"):
        read_header(edf_path)


def test_field_message_names_field_and_signal(edf_path: Path) -> None:
    _set_signal(edf_path, PHYS_MIN, 2, "1.2.3")
    with pytest.raises(RecordingError, match=r"physical minimum of signal 3 holds b'1.2.3   '"):
        read_header(edf_path)


def test_undecodable_annotation_text(edfplus_path: Path) -> None:
    raw = edfplus_path.read_bytes()
    _patch(edfplus_path, raw.index(b"seiz"), b"s\xffiz")
    assert _reason(edfplus_path) == Reason.UNDECODABLE
    assert read_header(edfplus_path, with_annotations=False).n_records == SECONDS


def test_directory_is_unreadable(tmp_path: Path) -> None:
    assert _reason(tmp_path) == Reason.UNREADABLE


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    assert _reason(tmp_path / "absent.edf") == Reason.UNREADABLE


def test_symlink_loop_is_unreadable(tmp_path: Path) -> None:
    loop = tmp_path / "loop.edf"
    loop.symlink_to(loop)
    assert _reason(loop) == Reason.UNREADABLE


def test_permission_denied_is_unreadable(edf_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(edf.os, "open", denied)  # root can read any mode
    with pytest.raises(RecordingError, match="Permission denied") as info:
        read_header(edf_path)
    assert info.value.reason == Reason.UNREADABLE


# --- never reading the data ----------------------------------------------------------------------


@pytest.fixture
def sparse_path(tmp_path: Path) -> Path:
    """A 3-signal EDF header promising 4,000,000 records (24 GB), the data a sparse hole."""
    path = _write(tmp_path / "huge.edf", _signals())
    header = read_header(path)
    _set(path, N_RECORDS, "4000000")
    os.truncate(path, header.header_bytes + 4_000_000 * 3 * RATE * 2)
    return path


def _count_pread(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every ``os.pread`` the module makes."""
    sizes: list[int] = []
    real = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        sizes.append(n)
        return real(fd, n, offset)

    monkeypatch.setattr(edf.os, "pread", pread)
    return sizes


def test_huge_sparse_file_reads_only_its_header(
    sparse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _count_pread(monkeypatch)
    header = read_header(sparse_path)
    assert header.duration == 4_000_000
    assert sum(sizes) == header.header_bytes


def test_data_area_content_does_not_matter(edf_path: Path) -> None:
    before = read_header(edf_path)
    data = np.random.default_rng(0).integers(0, 256, before.data_bytes, dtype=np.uint8)
    _patch(edf_path, before.header_bytes, data.tobytes())
    assert read_header(edf_path) == before


# --- content fingerprint -------------------------------------------------------------------------


def test_fingerprint_reads_kilobytes_of_a_huge_file(
    sparse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _count_pread(monkeypatch)
    header_bytes = read_header(sparse_path).header_bytes
    sizes.clear()
    digest = content_fingerprint(sparse_path, header_bytes)
    assert re.fullmatch(r"[0-9a-f]{32}", digest)
    assert sum(sizes) <= header_bytes + 2 * 64 * 1024


def test_fingerprint_same_content_same_digest(edf_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.edf"
    copy.write_bytes(edf_path.read_bytes())
    assert content_fingerprint(copy, 1024) == content_fingerprint(edf_path, 1024)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: _set(p, START_TIME, "04.05.57"),  # header
        lambda p: _patch(p, 1024 + 10, b"\x01"),  # first data bytes
        lambda p: _patch(p, p.stat().st_size - 3, b"\x01"),  # last data bytes
        lambda p: os.truncate(p, p.stat().st_size + 1),  # size
    ],
    ids=["header", "data head", "data tail", "size"],
)
def test_fingerprint_changes_with_content(edf_path: Path, change: Callable[[Path], object]) -> None:
    before = content_fingerprint(edf_path, 1024)
    change(edf_path)
    assert content_fingerprint(edf_path, 1024) != before


def test_fingerprint_of_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError) as info:
        content_fingerprint(tmp_path / "absent.edf", 1024)
    assert info.value.reason == Reason.UNREADABLE


# --- hypothesis: any header mutation returns a header or raises InputError ----------------------

NUMERIC_FIELDS = [N_SIGNALS, HEADER_BYTES, N_RECORDS, DURATION, START_DATE, START_TIME]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flips=st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 255)), max_size=6),
    fields=st.lists(
        st.tuples(
            st.sampled_from(NUMERIC_FIELDS),
            st.text(alphabet="0123456789+-.eE :", max_size=8),
        ),
        max_size=3,
    ),
    signal_field=st.tuples(
        st.sampled_from([(104, 8), (112, 8), (120, 8), (128, 8), SAMPLES]),
        st.integers(0, 3),
        st.text(alphabet="0123456789+-.e |", max_size=8),
    ),
)
def test_header_mutations_return_or_raise_input_error(
    edfplus_path: Path,
    flips: list[tuple[int, int]],
    fields: list[tuple[tuple[int, int], str]],
    signal_field: tuple[tuple[int, int], int, str],
) -> None:
    original = edfplus_path.read_bytes()
    mutated = edfplus_path.with_suffix(".mutated.edf")
    raw = bytearray(original)
    for (offset, width), value in fields:
        raw[offset : offset + width] = value.encode()[:width].ljust(width)
    (offset, width), signal, value = signal_field
    start = 256 + offset * 4 + width * signal
    raw[start : start + width] = value.encode()[:width].ljust(width)
    for position, byte in flips:
        raw[position] = byte
    mutated.write_bytes(bytes(raw))
    try:
        header = read_header(mutated)
    except InputError:
        return
    assert header.n_records > 0
    assert header.duration > 0
    assert len(header.labels) == len(header.sampling_rates) > 0


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1))
def test_annotation_mutations_return_or_raise_input_error(
    edfplus_path: Path, flips: list[tuple[int, int]]
) -> None:
    raw = bytearray(edfplus_path.read_bytes())
    ns, record = 4, 3 * RATE * 2 + int(raw[256 + 216 * 4 + 8 * 3 : 256 + 216 * 4 + 8 * 4]) * 2
    width = record - 3 * RATE * 2  # the annotation signal's bytes in each record
    for position, byte in flips:
        n, at = divmod(position, width)
        raw[256 * (ns + 1) + (n % SECONDS) * record + 3 * RATE * 2 + at] = byte
    mutated = edfplus_path.with_suffix(".mutated.edf")
    mutated.write_bytes(bytes(raw))
    try:
        header = read_header(mutated)
    except InputError:
        return
    assert header.n_records == SECONDS


# --- real files: agreement with MNE and edfio ----------------------------------------------------


def _mne_raw(path: Path) -> Any:
    """The file opened by MNE, samples not loaded."""
    mne = pytest.importorskip("mne")
    return mne.io.read_raw_edf(path, preload=False, verbose="error")


def _same_modulo_mne_renaming(ours: tuple[str, ...], theirs: list[str]) -> bool:
    """MNE renames duplicate labels ``X`` to ``X-0``, ``X-1`` ...; compare modulo that."""
    if len(ours) != len(theirs):
        return False
    duplicated = {label for label in ours if ours.count(label) > 1}
    return all(
        a == b or (a in duplicated and re.fullmatch(re.escape(a) + r"-\d+", b) is not None)
        for a, b in zip(ours, theirs, strict=True)
    )


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_FILES)
def test_real_file_agrees_with_mne(realdata: Path, name: str) -> None:
    path = realdata / "edf" / name
    header = read_header(path)
    raw = _mne_raw(path)
    sfreq = raw.info["sfreq"]
    assert abs(header.duration - raw.n_times / sfreq) <= 1 / sfreq
    assert _same_modulo_mne_renaming(header.labels, raw.ch_names)
    assert max(header.sampling_rates) == sfreq
    assert len(header.annotations) == len(raw.annotations)
    for (onset, _, text), theirs in zip(header.annotations, raw.annotations, strict=True):
        assert onset == pytest.approx(theirs["onset"], abs=1e-5)
        assert text == theirs["description"]
    assert header.start_time is not None
    # MNE drops the EDF+ sub-second start; we keep it.
    assert header.start_time.replace(microsecond=0) == raw.info["meas_date"].replace(tzinfo=None)


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_FILES)
def test_real_file_agrees_with_edfio(realdata: Path, name: str) -> None:
    path = realdata / "edf" / name
    header = read_header(path)
    theirs = edfio.read_edf(path, lazy_load_data=True)
    assert header.labels == tuple(s.label for s in theirs.signals)
    assert header.sampling_rates == tuple(s.sampling_frequency for s in theirs.signals)
    assert (header.n_records, header.record_duration) == (
        theirs.num_data_records,
        theirs.data_record_duration,
    )
    assert header.start_time is not None
    assert header.start_time.time() == theirs.starttime
    assert [(a.text, a.duration) for a in theirs.annotations] == [
        (text, duration) for _, duration, text in header.annotations
    ]
    assert header.data_bytes + header.header_bytes <= path.stat().st_size


@pytest.mark.realdata
def test_real_subsecond_start_and_utf8_annotation(realdata: Path) -> None:
    utf8 = read_header(realdata / "edf" / "test_utf8.edf")
    assert utf8.start_time == dt.datetime(2020, 1, 24, 4, 5, 56, 394531)
    # the TAL says +120 s from the header second; the first record starts 0.3945312 s after it
    assert utf8.annotations[2] == (pytest.approx(119.6054688), None, "中文测试八个字")
    uneven = read_header(realdata / "edf" / "test_uneven_samp.edf")
    assert uneven.sampling_rates == (100.0, 12.8)
    assert uneven.duration == 110.0


def test_malformed_last_range_field_is_rejected_without_backtracking(tmp_path: Path) -> None:
    """Regression: `\\d+\\.?\\d*` backtracked exponentially when the last of many fields was bad.

    24 signals whose last field of the range block (the digital maximum of signal 24) reads
    `3276x` never finished before the fix. The regex runs in C, where no signal handler can
    interrupt it, so the header is read in a subprocess that is killed if it hangs (a hang fails
    the test instead of the whole run).
    """
    path = _write(tmp_path / "many.edf", _signals(rates=(RATE,) * 24))
    _set_signal(path, DIG_MAX, 23, "3276x")
    code = (
        "import sys; from preflight.sources.edf import read_header\n"
        "from preflight.errors import RecordingError\n"
        "try:\n    read_header(sys.argv[1])\nexcept RecordingError as e:\n    print(e.reason)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("read_header backtracked on a malformed range field (killed after 120 s)")
    assert done.stdout.strip() == Reason.EDF_HEADER, done.stderr


# --- EDF+ annotations as labels ------------------------------------------------------------------


def _header(*annotations: tuple[float, float | None, str]) -> EdfHeader:
    return EdfHeader("EDF+C", 60, 1.0, 60.0, ("Fp1",), (256.0,), None, annotations=annotations)


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        (((-5.0, 10.0, "Seizure"),), "annotation 1 ('Seizure' at -5 s) starts before"),
        (((1.0, 2.0, "Eyes closed"), (30.0, None, "seizure")), "annotation 2 ('seizure' at 30 s)"),
        (((30.0, 0.0, "Seizure"),), "has no duration"),
    ],
)
def test_a_seizure_annotation_that_is_no_interval_is_bad(
    annotations: tuple[tuple[float, float | None, str], ...], message: str
) -> None:
    result = edfplus.annotations_from_header("rec", _header(*annotations))
    assert result is not None
    assert result.recordings == ()
    [(key, error)] = result.problems
    assert key == "rec"
    assert isinstance(error, InputError)
    assert error.reason is Reason.BAD_INTERVAL
    assert message in error.message


def test_notes_from_before_the_recording_are_left_out() -> None:
    result = edfplus.annotations_from_header(
        "rec", _header((-3.0, 5.0, "Eyes closed"), (0.0, None, "RECORD START"), (10.0, 5.0, "Sz"))
    )
    assert result is not None
    assert result.problems == ()
    [rec] = result.recordings
    assert [(e.start, e.stop, e.positive) for e in rec.events] == [(10.0, 15.0, True)]
