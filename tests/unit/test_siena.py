"""Siena seizure-list reader: the real PN00 list, synthetic quirks and a mutation fuzz."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.errors import AnnotationError, InputError, Reason
from preflight.sources.errata import ERRATA, SZCORE
from preflight.sources.siena import (
    READER_NAME,
    READER_VERSION,
    patient_from_name,
    read_seizure_list,
)
from tests.unit import line_mutations
from tests.unit.summaries import by_key, problem, spans

# Line numbers below refer to this text: blocks start at lines 9, 16 and 23. PN07-1 crosses
# midnight and holds two seizures; the second block uses `HH:MM:SS`, a missing space after a
# colon, `(in sleep)` and the short `Start time:` / `End time:` keys.
VALID = """PN07

Data Sampling Rate: 512 Hz

Channels in EDF files:
Channel 1: Fp1
Channel 2: F3

Seizure n 1
File name: PN07-1.edf
Registration start time: 23.50.00
Registration end time: 00.40.00
Seizure start time: 23.55.10
Seizure end time: 23.56.00

Seizure n 2 (in sleep)
File name: PN07-1.edf
Registration start time: 23:50:00
Registration end time:00.40.00
Start time: 00.05.00
End time: 00.06.30

Seizure n 3
File name: PN07-2.edf
Registration start time: 10.00.00
Registration end time: 11.00.00
Seizure start time: 10.30.00
Seizure end time: 10.31.00
"""


def _write(tmp_path: Path, text: str, *, newline: str = "\n", bom: bool = False) -> Path:
    """Write ``text`` as a seizure list with the given line ending and optional UTF-8 BOM."""
    path = tmp_path / "Seizures-list-PN07.txt"
    raw = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    return path


# --- the real PN00 list ---------------------------------------------------------------------


@pytest.mark.realdata
def test_pn00_offsets_from_the_registration_start(realdata: Path) -> None:
    result = read_seizure_list(realdata / "siena" / "Seizures-list-PN00.txt")
    recordings = by_key(result)
    assert result.reader == READER_NAME == "siena-list"
    assert READER_VERSION == "2"
    assert result.lists_all_files is False
    assert list(recordings) == ["PN00-1", "PN00-2", "PN00-3", "PN00-4", "PN00-5"]
    pn00_1 = recordings["PN00-1"]
    assert (pn00_1.edf_name, pn00_1.line, pn00_1.start_time) == ("PN00-1.edf", 39, None)
    assert pn00_1.duration == 2605.0  # 20:22:58 - 19:39:33 = 43 min 25 s
    # 19:58:36 - 19:39:33 = 19 min 3 s = 1143 s; 19:59:46 - 19:39:33 = 20 min 13 s = 1213 s
    assert spans(pn00_1) == [(1143.0, 1213.0)]
    event = pn00_1.events[0]
    assert (event.label, event.positive, event.line) == ("seizure", True, 43)
    # `Registration start time:  02.18.17` (two spaces): 02:56:19 - 02:18:17 = 38 min 2 s
    assert recordings["PN00-2"].duration == 2282.0
    # 02:38:37 - 02:18:17 = 20 min 20 s = 1220 s; 02:39:31 - 02:18:17 = 21 min 14 s = 1274 s
    assert spans(recordings["PN00-2"]) == [(1220.0, 1274.0)]
    assert recordings["PN00-4"].duration == 2082.0  # 21:26:25 - 20:51:43 = 34 min 42 s
    # 21:08:29 - 20:51:43 = 16 min 46 s = 1006 s; 21:09:43 - 20:51:43 = 18 min = 1080 s
    assert spans(recordings["PN00-4"]) == [(1006.0, 1080.0)]
    assert recordings["PN00-5"].duration == 2123.0  # 22:57:27 - 22:22:04 = 35 min 23 s
    # 22:37:08 - 22:22:04 = 15 min 4 s = 904 s; 22:38:15 - 22:22:04 = 16 min 11 s = 971 s
    assert spans(recordings["PN00-5"]) == [(904.0, 971.0)]


@pytest.mark.realdata
def test_pn00_3_seizure_end_typo_is_corrected_with_a_note(realdata: Path) -> None:
    """The published list ends PN00-3's seizure at 19.29.29 (after the registration end 18.57.13);
    the erratum reads 18.29.29: 18:28:29 - 18:15:44 = 765 s to 18:29:29 - 18:15:44 = 825 s."""
    result = read_seizure_list(realdata / "siena" / "Seizures-list-PN00.txt")
    pn00_3 = by_key(result)["PN00-3"]
    assert result.problems == ()
    assert spans(pn00_3) == [(765.0, 825.0)]
    assert pn00_3.duration == 2489.0  # 18:57:13 - 18:15:44 = 41 min 29 s
    [note] = pn00_3.notes
    assert (note.code, note.line, note.origin) == ("erratum_applied", 58, SZCORE)
    assert "'19.29.29' read as '18.29.29'" in note.message
    assert all(not r.notes for r in result.recordings if r.key != "PN00-3")


@pytest.mark.realdata
def test_pn00_3_raw_reading_without_errata(realdata: Path) -> None:
    """``errata=False``: the published end is read as written and PN00-3 alone is rejected."""
    result = read_seizure_list(realdata / "siena" / "Seizures-list-PN00.txt", errata=False)
    error = problem(result, "PN00-3")
    # 19:29:29 - 18:15:44 = 1 h 13 min 45 s = 4425 s > 18:57:13 - 18:15:44 = 41 min 29 s = 2489 s
    assert (error.reason, error.line) == (Reason.OUT_OF_RANGE, 58)
    assert "4425 s" in error.message
    assert "2489 s" in error.message
    assert list(by_key(result)) == ["PN00-1", "PN00-2", "PN00-4", "PN00-5"]
    assert all(not r.notes for r in result.recordings)


# --- the errata table on synthetic lists ------------------------------------------------------


def _list(tmp_path: Path, patient: str, body: str) -> Path:
    path = tmp_path / f"Seizures-list-{patient}.txt"
    path.write_text(f"{patient}\n\nData Sampling Rate: 512 Hz\n\n{body}")
    return path


def _entry(name: str, reg: str = "10.00.00", sz: tuple[str, str] = ("10.10.00", "10.11.00")) -> str:
    return (
        f"Seizure n 1\nFile name: {name}\nRegistration start time: {reg}\n"
        f"Registration end time: 11.00.00\nSeizure start time: {sz[0]}\n"
        f"Seizure end time: {sz[1]}\n\n"
    )


@pytest.mark.parametrize(
    ("patient", "listed", "edf_name"),
    [("PN01", "PN01-1.edf", "PN01.edf"), ("PN06", "PN06-1.edf", "PNO6-1.edf"),
     ("PN06", "PN06-2.edf", "PNO6-2.edf"), ("PN06", "PN06-4.edf", "PNO6-4.edf"),
     ("PN11", "PN11-1.edf", "PN11-.edf")],
)  # fmt: skip
@pytest.mark.parametrize("errata", [True, False])
def test_list_names_that_differ_from_the_edf_names(
    tmp_path: Path, patient: str, listed: str, edf_name: str, errata: bool
) -> None:
    path = _list(tmp_path, patient, _entry(listed) + _entry(f"{patient}-9.edf"))
    result = read_seizure_list(path, errata=errata)
    first, other = result.recordings
    assert (first.edf_name, first.key) == (
        (edf_name, edf_name[:-4]) if errata else (listed, listed[:-4])
    )
    assert [n.line for n in first.notes] == ([6] if errata else [])
    assert other.notes == ()
    assert ERRATA[0].source == SZCORE


def test_erratum_needs_the_exact_published_text(tmp_path: Path) -> None:
    """Another patient's list, or a value already fixed, is read as it stands."""
    path = _list(tmp_path, "PN02", _entry("PN01-1.edf"))
    assert read_seizure_list(path).recordings[0].edf_name == "PN01-1.edf"
    fixed = _list(tmp_path, "PN00", _entry("PN00-3.edf", sz=("10.10.00", "10.11.30")))
    assert read_seizure_list(fixed).recordings[0].notes == ()


def test_registration_start_with_a_stray_space(tmp_path: Path) -> None:
    body = _entry("PN10-7.8.9.edf", reg="1 6.49.25").replace("11.00.00", "17.49.25")
    body = body.replace("10.10.00", "17.00.00").replace("10.11.00", "17.01.00")
    result = read_seizure_list(_list(tmp_path, "PN10", body))
    [recording] = result.recordings
    assert recording.duration == 3600.0
    assert spans(recording) == [(635.0, 695.0)]  # 17:00:00 - 16:49:25 = 10 min 35 s
    assert [(n.code, n.line) for n in recording.notes] == [("erratum_applied", 7)]
    raw = read_seizure_list(_list(tmp_path, "PN10", body), errata=False)
    assert (problem(raw, "PN10-7.8.9").reason, problem(raw, "PN10-7.8.9").line) == (
        Reason.BAD_FORMAT,
        7,
    )


@pytest.mark.parametrize(
    "continuation",
    [
        # PN12 style: a new entry that begins with the seizure times.
        "Seizure n 2\nSeizure start time: 10.20.00\nSeizure end time: 10.21.00\n",
        # PN01 style: a second seizure under the same registration, inside one block.
        "Seizure start time: 10.20.00\nSeizure end time: 10.21.00\n",
    ],
)
def test_entry_without_file_continues_the_previous_one(tmp_path: Path, continuation: str) -> None:
    body = _entry("PN12-3.edf").rstrip("\n") + "\n" + continuation + "\n" + _entry("PN12-4.edf")
    result = read_seizure_list(_list(tmp_path, "PN12", body))
    assert result.problems == ()
    pn12_3, pn12_4 = result.recordings
    assert spans(pn12_3) == [(600.0, 660.0), (1200.0, 1260.0)]
    assert [n.code for n in pn12_3.notes] == ["continues_previous_entry"]
    assert spans(pn12_4) == [(600.0, 660.0)]


def test_entry_without_file_but_with_its_own_registration_is_rejected_alone(
    tmp_path: Path,
) -> None:
    body = _entry("PN12-3.edf") + _entry("PN12-4.edf").replace("File name: PN12-4.edf\n", "")
    result = read_seizure_list(_list(tmp_path, "PN12", body))
    assert [r.key for r in result.recordings] == ["PN12-3"]
    error = problem(result, "<entry at line 12>")
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 12)


# --- synthetic quirks -----------------------------------------------------------------------


@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r\n", True), ("\r\n", False)])
def test_quirks_line_endings_and_midnight(tmp_path: Path, newline: str, bom: bool) -> None:
    result = read_seizure_list(_write(tmp_path, VALID, newline=newline, bom=bom))
    recordings = by_key(result)
    assert list(recordings) == ["PN07-1", "PN07-2"]
    assert result.problems == ()
    pn07_1 = recordings["PN07-1"]
    assert (pn07_1.line, pn07_1.edf_name) == (9, "PN07-1.edf")
    assert pn07_1.duration == 3000.0  # 00:40:00 - 23:50:00 + 24 h = 50 min
    # 23:55:10 - 23:50:00 = 310 s, 23:56:00 -> 360 s; 00:05:00 - 23:50:00 + 24 h = 900 s,
    # 00:06:30 -> 990 s
    assert spans(pn07_1) == [(310.0, 360.0), (900.0, 990.0)]
    assert [event.line for event in pn07_1.events] == [13, 20]
    assert recordings["PN07-2"].duration == 3600.0
    assert spans(recordings["PN07-2"]) == [(1800.0, 1860.0)]


def test_mixed_line_endings(tmp_path: Path) -> None:
    lines = VALID.split("\n")
    mixed = "".join(line + ("\r\n" if i % 3 else "\n") for i, line in enumerate(lines))
    result = read_seizure_list(_write(tmp_path, mixed))
    assert [r.key for r in result.recordings] == ["PN07-1", "PN07-2"]
    assert [e.line for e in result.recordings[0].events] == [13, 20]


def test_block_without_seizure_header(tmp_path: Path) -> None:
    result = read_seizure_list(_write(tmp_path, VALID.replace("Seizure n 3\n", "\n")))
    assert by_key(result)["PN07-2"].line == 24
    assert result.problems == ()


def test_inconsistent_registration_rejects_that_file(tmp_path: Path) -> None:
    text = VALID.replace("Registration end time:00.40.00", "Registration end time:00.41.00")
    result = read_seizure_list(_write(tmp_path, text))
    assert [r.key for r in result.recordings] == ["PN07-2"]
    error = problem(result, "PN07-1")
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 19)


@pytest.mark.parametrize(
    ("old", "new", "key", "reason", "line"),
    [
        ("Seizure end time: 23.56.00", "Seizure end time: 23.55.00", "PN07-1", "bad_interval", 14),
        ("Seizure end time: 10.31.00", "Seizure end time: 11.00.01", "PN07-2", "out_of_range", 28),
        ("Registration end time: 11.00.00", "Registration end time: 10.00.00", "PN07-2",
         "bad_interval", 26),
        ("Seizure end time: 10.31.00", "", "PN07-2", "bad_format", 23),  # a missing line
        ("Seizure end time: 10.31.00", "Seizure end time: 10.3.00", "PN07-2", "bad_format", 28),
        ("End time: 00.06.30", "End time: 00.06.30\nEnd time: 00.07.30", "PN07-1",
         "bad_format", 22),
        ("Seizure start time: 10.30.00", "Seizure start time 10.30.00", "PN07-2",
         "bad_format", 27),
        ("File name: PN07-2.edf", "File name: PN07-2.txt", "PN07-2.txt", "bad_format", 24),
    ],
)  # fmt: skip
def test_file_problems_spare_the_other_files(
    tmp_path: Path, old: str, new: str, key: str, reason: str, line: int
) -> None:
    result = read_seizure_list(_write(tmp_path, VALID.replace(old, new)))
    error = problem(result, key)
    assert (error.reason, error.line) == (Reason(reason), line)
    good = {"PN07-1", "PN07-2"} - {key.removesuffix(".txt")}
    assert {r.key for r in result.recordings} == good


# --- whole-file problems --------------------------------------------------------------------


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Seizures-list-PN07.txt"
    path.write_bytes(VALID.encode().replace(b"PN07-2.edf", b"PN07-\xe92.edf"))
    with pytest.raises(AnnotationError) as info:
        read_seizure_list(path)
    assert (info.value.reason, info.value.line) == (Reason.UNDECODABLE, 24)


@pytest.mark.parametrize("content", [b"", b"\r\n \r\n", b"\xef\xbb\xbf\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "Seizures-list-PN07.txt"
    path.write_bytes(content)
    with pytest.raises(AnnotationError) as info:
        read_seizure_list(path)
    assert info.value.reason == Reason.EMPTY_FILE


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (VALID.replace("File name: PN07-2.edf", ""), "<entry at line 23>", 23),  # names no file
        (VALID.replace("File name: PN07-2.edf", "File name:"), "<entry at line 23>", 24),
        # a seizure time before any block: no file to belong to
        (VALID.replace("Channel 2: F3", "Seizure start time: 10.30.00"), "<entry at line 7>", 7),
    ],
)
def test_unattributable_entries_are_rejected_alone(
    tmp_path: Path, text: str, key: str, line: int
) -> None:
    result = read_seizure_list(_write(tmp_path, text))
    error = problem(result, key)
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, line)
    assert {"PN07-1"} <= {r.key for r in result.recordings}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (VALID[: VALID.index("Seizure n 1")], None),  # no block at all
    ],
)
def test_whole_file_problems(tmp_path: Path, text: str, line: int | None) -> None:
    with pytest.raises(AnnotationError) as info:
        read_seizure_list(_write(tmp_path, text))
    assert (info.value.reason, info.value.line) == (Reason.BAD_FORMAT, line)


# --- patient names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("PN00-1", "PN00"),
        ("PN00-1.edf", "PN00"),
        ("PN12-1.2.edf", "PN12"),
        ("PN01.edf", "PN01"),
        ("Seizures-list-PN00.txt", "PN00"),
        (Path("siena/PN10/Seizures-list-PN10.txt"), "PN10"),
    ],
)
def test_patient_from_name(name: str | Path, patient: str) -> None:
    assert patient_from_name(name) == patient


@pytest.mark.parametrize("name", ["chb01_01.edf", "Seizures-list.txt", "xPN00-1.edf"])
def test_patient_from_foreign_name(name: str) -> None:
    with pytest.raises(AnnotationError) as info:
        patient_from_name(name)
    assert info.value.reason == Reason.UNSUPPORTED


# --- fuzz -----------------------------------------------------------------------------------

_SAMPLES = [
    "Seizure n 4",
    "File name: PN07-1.edf",
    "File name: PN07-3.edf",
    "Registration start time: 23.59.59",
    "Seizure end time: 25.61.00",
    "Start time:",
    "End time: 00:00:00",
]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutations=line_mutations.mutations(_SAMPLES), crlf=st.booleans())
def test_mutated_lists_give_a_result_or_an_input_error(
    tmp_path: Path, mutations: list[tuple[str, int, str]], crlf: bool
) -> None:
    text = "\n".join(line_mutations.mutate(VALID.split("\n"), mutations))
    path = _write(tmp_path, text, newline="\r\n" if crlf else "\n")
    try:
        result = read_seizure_list(path)
    except InputError:
        return
    for recording in result.recordings:
        assert recording.duration is not None
        for event in recording.events:
            assert 0 <= event.start < event.stop <= recording.duration
    keys = {recording.key for recording in result.recordings}
    for key, error in result.problems:
        assert isinstance(error, AnnotationError)
        assert key not in keys
