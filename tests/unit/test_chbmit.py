"""CHB-MIT summary reader: the real summaries, synthetic quirks and a mutation fuzz."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.errors import AnnotationError, InputError, Reason
from preflight.sources.chbmit import (
    READER_NAME,
    READER_VERSION,
    patient_from_name,
    read_summary,
)
from preflight.sources.records import AnnotationFileResult
from tests.unit import line_mutations
from tests.unit.summaries import by_key, problem, spans

HEADER = """Data Sampling Rate: 256 Hz
*************************

Channels in EDF Files:
**********************
Channel 1: FP1-F7
Channel 2: F7-T7
"""

# Line numbers below refer to this text: `File Name:` lines are 9, 14 and 21.
VALID = (
    HEADER
    + """
File Name: chb01_01.edf
File Start Time: 11:42:54
File End Time: 12:42:54
Number of Seizures in File: 0

File Name: chb01_03.edf
File Start Time: 13:43:04
File End Time: 14:43:04
Number of Seizures in File: 1
Seizure Start Time: 2996 seconds
Seizure End Time: 3036 seconds

File Name: chb01_04.edf
File Start Time: 23:30:00
File End Time: 0:30:00
Number of Seizures in File: 2
Seizure 1 Start Time: 1467 seconds
Seizure 1 End Time:  1494 seconds
Seizure 2 Start Time: 2000 seconds
Seizure 2 End Time: 2100 seconds
"""
)


def _write(tmp_path: Path, text: str, *, newline: str = "\n", bom: bool = False) -> Path:
    """Write ``text`` as a summary file with the given line ending and optional UTF-8 BOM."""
    path = tmp_path / "chb01-summary.txt"
    raw = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    return path


# --- real summaries -------------------------------------------------------------------------


@pytest.mark.realdata
def test_chb01_blocks_seizures_and_durations(realdata: Path) -> None:
    result = read_summary(realdata / "chbmit" / "chb01-summary.txt")
    recordings = by_key(result)
    assert result.reader == READER_NAME == "chbmit-summary"
    assert READER_VERSION == "2"
    assert len(result.recordings) == 42
    assert result.problems == ()
    assert result.lists_all_files is True
    assert sum(len(r.events) for r in result.recordings) == 7
    chb01_03 = recordings["chb01_03"]
    assert chb01_03.edf_name == "chb01_03.edf"
    assert chb01_03.line == 40
    assert chb01_03.duration == 3600.0  # 13:43:04 -> 14:43:04
    assert chb01_03.start_time is None
    assert spans(chb01_03) == [(2996.0, 3036.0)]
    event = chb01_03.events[0]
    assert (event.label, event.positive, event.line, event.channel) == ("seizure", True, 44, None)
    assert recordings["chb01_13"].duration == 3600.0  # 23:44:29 -> 24:44:29
    assert recordings["chb01_14"].duration == 3600.0  # 00:44:37 -> 1:44:37 (unpadded)
    assert recordings["chb01_26"].duration == 2325.0  # 12:34:22 -> 13:13:07 = 38 min 45 s
    assert spans(recordings["chb01_26"]) == [(1862.0, 1963.0)]
    assert recordings["chb01_01"].events == ()


@pytest.mark.realdata
def test_chb04_past_midnight_and_mixed_seizure_styles(realdata: Path) -> None:
    result = read_summary(realdata / "chbmit" / "chb04-summary.txt")
    recordings = by_key(result)
    assert len(result.recordings) == 42
    assert result.problems == ()
    assert sum(len(r.events) for r in result.recordings) == 4
    assert recordings["chb04_02"].duration == 14400.0  # 22:02:15 -> 26:02:15
    assert recordings["chb04_27"].duration == 14427.0  # 19:46:17 -> 23:46:44 = 4 h 27 s
    # `Seizure Start Time:` style ...
    assert spans(recordings["chb04_05"]) == [(7804.0, 7853.0)]
    assert recordings["chb04_05"].events[0].line == 54
    # ... and `Seizure 1 Start Time:` style in the same file, after a `Channels changed:` block.
    assert spans(recordings["chb04_28"]) == [(1679.0, 1781.0), (3782.0, 3898.0)]
    assert [e.line for e in recordings["chb04_28"].events] == [195, 197]
    assert recordings["chb04_28"].duration == 14423.0  # 00:04:47 -> 4:05:10
    assert recordings["chb04_07"].line == 89  # first block after the channel list


@pytest.mark.realdata
def test_chb12_double_spaces_and_channel_changes(realdata: Path) -> None:
    result = read_summary(realdata / "chbmit" / "chb12-summary.txt")
    recordings = by_key(result)
    assert len(result.recordings) == 24
    assert result.problems == ()
    assert sum(len(r.events) for r in result.recordings) == 40
    # `Seizure 1 End Time:  3114 seconds` (two spaces)
    assert spans(recordings["chb12_09"]) == [(3082.0, 3114.0), (3503.0, 3535.0)]
    # `Seizure 2 End Time:   2821 seconds` (three spaces)
    assert spans(recordings["chb12_38"])[1] == (2798.0, 2821.0)
    # `Seizure 4 Start Time:  1921 seconds`
    assert spans(recordings["chb12_27"])[3] == (1921.0, 1963.0)
    assert len(recordings["chb12_27"].events) == 6
    assert recordings["chb12_29"].duration == 3624.0  # 18:07:19 -> 19:07:43


@pytest.mark.realdata
def test_chb24_lists_only_seizure_files(realdata: Path) -> None:
    result = read_summary(realdata / "chbmit" / "chb24-summary.txt")
    recordings = by_key(result)
    assert len(result.recordings) == 12
    assert result.problems == ()
    assert sum(len(r.events) for r in result.recordings) == 16
    assert result.lists_all_files is False
    assert all(r.duration is None for r in result.recordings)
    assert spans(recordings["chb24_01"]) == [(480.0, 505.0), (2451.0, 2476.0)]
    assert spans(recordings["chb24_21"]) == [(2804.0, 2872.0)]


# --- synthetic quirks -----------------------------------------------------------------------


def _check_valid(result: AnnotationFileResult) -> None:
    recordings = by_key(result)
    assert list(recordings) == ["chb01_01", "chb01_03", "chb01_04"]
    assert [r.line for r in result.recordings] == [9, 14, 21]
    assert result.problems == ()
    assert result.lists_all_files is True
    assert recordings["chb01_04"].duration == 3600.0  # 23:30:00 -> 0:30:00 crosses midnight
    assert spans(recordings["chb01_04"]) == [(1467.0, 1494.0), (2000.0, 2100.0)]
    assert [e.line for e in recordings["chb01_04"].events] == [25, 27]


@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r\n", False), ("\r\n", True)])
def test_line_endings_and_bom(tmp_path: Path, newline: str, bom: bool) -> None:
    _check_valid(read_summary(_write(tmp_path, VALID, newline=newline, bom=bom)))


def test_header_noise_is_ignored(tmp_path: Path) -> None:
    text = "Some note nobody expected\n" + VALID.replace("Channel 2: F7-T7\n", "Channel 2: .\n")
    result = read_summary(_write(tmp_path, text))
    assert [r.key for r in result.recordings] == ["chb01_01", "chb01_03", "chb01_04"]


def test_unusual_file_names_keep_their_keys(tmp_path: Path) -> None:
    text = VALID.replace("chb01_01.edf", "chb02_16+.edf").replace("chb01_03.edf", "chb17a_03.edf")
    recordings = by_key(read_summary(_write(tmp_path, text)))
    assert recordings["chb02_16+"].edf_name == "chb02_16+.edf"
    assert recordings["chb17a_03"].edf_name == "chb17a_03.edf"


def test_channels_changed_between_blocks(tmp_path: Path) -> None:
    changed = "\nChannels changed:\n*****************\nChannel 1: F7-CS2\nChannel 2: -\n"
    text = VALID.replace("\nFile Name: chb01_03.edf", changed + "\nFile Name: chb01_03.edf")
    result = read_summary(_write(tmp_path, text))
    assert [r.key for r in result.recordings] == ["chb01_01", "chb01_03", "chb01_04"]
    assert result.problems == ()


def test_seizure_count_mismatch_rejects_that_block_only(tmp_path: Path) -> None:
    text = VALID.replace("Number of Seizures in File: 1", "Number of Seizures in File: 2")
    result = read_summary(_write(tmp_path, text))
    assert [r.key for r in result.recordings] == ["chb01_01", "chb01_04"]
    error = problem(result, "chb01_03")
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 17)
    assert "says 2 but 1" in error.message
    assert error.path == str(tmp_path / "chb01-summary.txt")


def test_seizure_end_before_start_is_bad_interval(tmp_path: Path) -> None:
    text = VALID.replace("Seizure End Time: 3036 seconds", "Seizure End Time: 2990 seconds")
    result = read_summary(_write(tmp_path, text))
    error = problem(result, "chb01_03")
    assert (error.reason, error.line) == (Reason.BAD_INTERVAL, 19)
    assert len(result.recordings) == 2


def test_seizure_past_the_file_end_is_out_of_range(tmp_path: Path) -> None:
    text = VALID.replace("Seizure 2 End Time: 2100 seconds", "Seizure 2 End Time: 3700 seconds")
    result = read_summary(_write(tmp_path, text))
    error = problem(result, "chb01_04")
    assert (error.reason, error.line) == (Reason.OUT_OF_RANGE, 28)


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("Seizure 2 End Time: 2100 seconds", "", 27),  # a start without an end
        ("Seizure 1 End Time:  1494 seconds", "", 27),  # two starts in a row
        ("Seizure 1 Start Time: 1467 seconds", "", 26),  # an end without a start
        ("File End Time: 0:30:00", "File End Time: 0:61:00", 23),  # not a clock time
        ("File End Time: 0:30:00", "File End Time: 23:30:00", 23),  # zero length
        ("Number of Seizures in File: 2", "Number of Seizures in File: two", 24),
        ("Number of Seizures in File: 2", "", 21),  # no count at all
        ("Seizure 1 Start Time: 1467 seconds", "Seizure 1 Start Time: soon", 25),
        ("File End Time: 0:30:00", "File End Time: 0:30:00\nNotes: restless", 24),
        ("File End Time: 0:30:00", "File End Time: 0:30:00\nFile End Time: 0:30:00", 24),
        ("File Name: chb01_04.edf", "File Name: chb01_04.txt", 21),
    ],
)
def test_block_problems_spare_the_other_blocks(
    tmp_path: Path, old: str, new: str, line: int
) -> None:
    text = VALID.replace(old, new)
    result = read_summary(_write(tmp_path, text))
    assert [r.key for r in result.recordings] == ["chb01_01", "chb01_03"]
    key = "chb01_04.txt" if new.endswith(".txt") else "chb01_04"
    error = problem(result, key)
    assert error.line == line
    expected = Reason.BAD_INTERVAL if "23:30:00" in new else Reason.BAD_FORMAT
    assert error.reason == expected


# --- seizure numbers that disagree: paired by position, kept, noted ---------------------------


def test_end_with_the_wrong_number_pairs_by_position(tmp_path: Path) -> None:
    """The published typo: `Seizure 2 Start Time` closed by `Seizure 1 End Time`."""
    text = VALID.replace("Seizure 2 End Time: 2100", "Seizure 1 End Time: 2100")
    result = read_summary(_write(tmp_path, text))
    assert result.problems == ()
    chb01_04 = by_key(result)["chb01_04"]
    assert spans(chb01_04) == [(1467.0, 1494.0), (2000.0, 2100.0)]
    [note] = chb01_04.notes
    assert (note.code, note.line, note.origin) == ("seizure_number_mismatch", 28, None)
    assert "'Seizure 1 End Time' closes 'Seizure 2 Start Time' (line 27)" in note.message
    assert all(not r.notes for r in result.recordings if r.key != "chb01_04")


def test_numbers_that_disagree_still_need_the_declared_count(tmp_path: Path) -> None:
    text = VALID.replace("Seizure 2 End Time: 2100", "Seizure 1 End Time: 2100").replace(
        "Number of Seizures in File: 2", "Number of Seizures in File: 3"
    )
    result = read_summary(_write(tmp_path, text))
    assert (problem(result, "chb01_04").reason, problem(result, "chb01_04").line) == (
        Reason.BAD_FORMAT,
        24,
    )
    assert [r.key for r in result.recordings] == ["chb01_01", "chb01_03"]


_SPACES = st.sampled_from([" ", "  ", "   "])


@st.composite
def _seizure_block(draw: st.DrawFn) -> tuple[str, list[tuple[float, float]], int]:
    """A block of 1-5 seizures, each line numbered or not (mixed), with random spacing.

    Returns the block, the seizures in file order, and how many end lines carry a number that
    disagrees with their start's (0 unless ``renumber`` draws it).
    """
    n = draw(st.integers(1, 5))
    bounds = sorted(draw(st.sets(st.integers(0, 3599), min_size=2 * n, max_size=2 * n)))
    pairs = [(float(bounds[2 * i]), float(bounds[2 * i + 1])) for i in range(n)]
    renumber = draw(st.booleans())
    lines = ["File Name: chb03_01.edf", "File Start Time: 1:00:00", "File End Time: 2:00:00",
             f"Number of Seizures in File: {n}"]  # fmt: skip
    wrong = 0
    for i, (start, stop) in enumerate(pairs, start=1):
        numbered = draw(st.booleans())
        end_number = i
        if renumber and numbered and n > 1:
            end_number = draw(st.integers(1, n))
            wrong += end_number != i
        start_key = f"Seizure {i} Start Time" if numbered else "Seizure Start Time"
        end_key = f"Seizure {end_number} End Time" if numbered else "Seizure End Time"
        lines.append(f"{start_key}:{draw(_SPACES)}{start:g} seconds")
        lines.append(f"{end_key}:{draw(_SPACES)}{stop:g} seconds")
    return "\n".join(lines) + "\n", pairs, wrong


def _by_number(text: str) -> list[tuple[float, float]]:
    """Reference pairing by seizure number (unnumbered lines take the next number)."""
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    counter = {"start": 0, "end": 0}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        words = key.split()
        if words[0] != "Seizure" or words[-1] != "Time":
            continue
        which = words[-2].lower()
        counter[which] += 1
        number = int(words[1]) if len(words) == 4 else counter[which]
        (starts if which == "start" else ends)[number] = float(value.split()[0])
    return [(starts[k], ends[k]) for k in sorted(starts)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(block=_seizure_block())
def test_pairing_by_position_equals_pairing_by_number(
    tmp_path: Path, block: tuple[str, list[tuple[float, float]], int]
) -> None:
    """Whenever the numbers agree, position and number give the same seizures and no note;
    when an end's number disagrees, position still gives the seizures written, with one note
    per disagreeing end."""
    text, pairs, wrong = block
    result = read_summary(_write(tmp_path, HEADER + "\n" + text))
    assert result.problems == ()
    [recording] = result.recordings
    assert spans(recording) == pairs
    assert len(recording.notes) == wrong
    if wrong == 0:
        assert spans(recording) == _by_number(text)


def test_negative_seizure_start_is_bad_interval(tmp_path: Path) -> None:
    text = VALID.replace("Seizure Start Time: 2996", "Seizure Start Time: -5")
    error = problem(read_summary(_write(tmp_path, text)), "chb01_03")
    assert (error.reason, error.line) == (Reason.BAD_INTERVAL, 18)


def test_file_listed_twice_is_one_problem(tmp_path: Path) -> None:
    text = VALID.replace("chb01_04.edf", "chb01_01.edf")
    result = read_summary(_write(tmp_path, text))
    assert [r.key for r in result.recordings] == ["chb01_03"]
    error = problem(result, "chb01_01")
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, 21)


def test_block_without_file_times_has_no_duration(tmp_path: Path) -> None:
    text = VALID.replace("File Start Time: 13:43:04\nFile End Time: 14:43:04\n", "")
    result = read_summary(_write(tmp_path, text))
    assert by_key(result)["chb01_03"].duration is None
    assert result.lists_all_files is True  # other blocks give file times


_ONE_SEIZURE = "Seizure Start Time: 1 seconds\nSeizure End Time: 2 seconds\n"
_TIMES = "File Start Time: 1:00:00\nFile End Time: 2:00:00\n"


@pytest.mark.parametrize(
    ("block", "lists_all_files"),
    [
        # chb24 style: no file times, a seizure in every block -> only seizure files are listed.
        ("Number of Seizures in File: 1\n" + _ONE_SEIZURE, False),
        # no file times, but a seizure-free block: the summary lists seizure-free files too.
        ("Number of Seizures in File: 0\n", True),
        # file times present: a full listing, whatever the seizures.
        (_TIMES + "Number of Seizures in File: 1\n" + _ONE_SEIZURE, True),
    ],
)
def test_lists_all_files_rule(tmp_path: Path, block: str, lists_all_files: bool) -> None:
    text = HEADER + "\nFile Name: chb24_01.edf\n" + block
    assert read_summary(_write(tmp_path, text)).lists_all_files is lists_all_files


# --- whole-file problems --------------------------------------------------------------------


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "chb01-summary.txt"
    path.write_bytes(VALID.encode().replace(b"chb01_03.edf", b"chb01_\xff3.edf"))
    with pytest.raises(AnnotationError) as info:
        read_summary(path)
    assert (info.value.reason, info.value.line) == (Reason.UNDECODABLE, 14)


@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "chb01-summary.txt"
    path.write_bytes(content)
    with pytest.raises(AnnotationError) as info:
        read_summary(path)
    assert info.value.reason == Reason.EMPTY_FILE


def test_no_file_name_block(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError) as info:
        read_summary(_write(tmp_path, HEADER))
    assert info.value.reason == Reason.BAD_FORMAT


@pytest.mark.parametrize(
    ("text", "line", "kept"),
    [
        (HEADER + "Seizure Start Time: 5 seconds\n" + VALID[len(HEADER) :], 8,
         ["chb01_01", "chb01_03", "chb01_04"]),
        (VALID.replace("File Name: chb01_03.edf", "File Name:"), 14, ["chb01_01", "chb01_04"]),
    ],
)  # fmt: skip
def test_unattributable_lines_reject_that_entry_only(
    tmp_path: Path, text: str, line: int, kept: list[str]
) -> None:
    result = read_summary(_write(tmp_path, text))
    error = problem(result, f"<entry at line {line}>")
    assert (error.reason, error.line) == (Reason.BAD_FORMAT, line)
    assert [r.key for r in result.recordings] == kept


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError) as info:
        read_summary(tmp_path / "absent-summary.txt")
    assert info.value.reason == Reason.UNREADABLE


# --- patient names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("chb17a_03", "chb17"),
        ("chb02_16+", "chb02"),
        ("chb02_16+.edf", "chb02"),
        ("chb01-summary.txt", "chb01"),
        (Path("data/chb24/chb24_01.edf"), "chb24"),
        ("CHB05_01.edf", "chb05"),
    ],
)
def test_patient_from_name(name: str | Path, patient: str) -> None:
    assert patient_from_name(name) == patient


@pytest.mark.parametrize("name", ["PN00-1.edf", "summary.txt", "xchb01_01.edf"])
def test_patient_from_foreign_name(name: str) -> None:
    with pytest.raises(AnnotationError) as info:
        patient_from_name(name)
    assert info.value.reason == Reason.UNSUPPORTED


# --- fuzz -----------------------------------------------------------------------------------

_SAMPLES = [
    "File Name: chb01_09.edf",
    "File Start Time: 25:99:00",
    "Number of Seizures in File: 3",
    "Seizure 3 Start Time: 12 seconds",
    "Seizure End Time: 1e9 seconds",
    "Channels changed:",
    "Seizure Start Time:",
]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutations=line_mutations.mutations(_SAMPLES), crlf=st.booleans())
def test_mutated_summaries_give_a_result_or_an_input_error(
    tmp_path: Path, mutations: list[tuple[str, int, str]], crlf: bool
) -> None:
    text = "\n".join(line_mutations.mutate(VALID.split("\n"), mutations))
    path = _write(tmp_path, text, newline="\r\n" if crlf else "\n")
    try:
        result = read_summary(path)
    except InputError:
        return
    for recording in result.recordings:
        for event in recording.events:
            assert 0 <= event.start < event.stop
            assert recording.duration is None or event.stop <= recording.duration
    for key, error in result.problems:
        assert isinstance(error, AnnotationError)
        assert key not in {recording.key for recording in result.recordings}
