"""The synthetic corpus writer: real formats, exact truth, planted defects, determinism, CLI.

Annotation files are checked with plain Python against the truth (not with preflight's readers),
EDF files with MNE and edfio.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import warnings
from pathlib import Path

import edfio
import mne
import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from preflight.cli.synth import synth
from preflight.errors import UsageError
from preflight.synth.corpus import (
    TRUTH_FILE,
    Corruption,
    Defect,
    Layout,
    SynthCorpus,
    SynthRecording,
    SynthSpec,
    load_truth,
    synthesize,
)
from preflight.synth.layouts import TCP_PAIRS
from preflight.synth.plan import plan

SMALL = SynthSpec(
    train_patients=2,
    dev_patients=1,
    eval_patients=1,
    min_duration_s=200,
    max_duration_s=240,
    seed=3,
)
ALL_BUT_ONE_CLASS = frozenset(Defect) - {Defect.ONE_CLASS}


def _spec(**changes: object) -> SynthSpec:
    """SMALL with some fields changed."""
    return SynthSpec.from_dict(SMALL.to_dict() | changes)


@pytest.fixture(scope="module")
def tusz(tmp_path_factory: pytest.TempPathFactory) -> SynthCorpus:
    """A small dense TUSZ corpus (8 recordings, about 30 minutes)."""
    return synthesize(tmp_path_factory.mktemp("tusz"), SMALL)


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> SynthCorpus:
    """A small dense TUSZ corpus with every defect but one_class."""
    return synthesize(tmp_path_factory.mktemp("defects"), _spec(defects=sorted(ALL_BUT_ONE_CLASS)))


@pytest.fixture(scope="module")
def chbmit(tmp_path_factory: pytest.TempPathFactory) -> SynthCorpus:
    """A small dense CHB-MIT corpus with corrupt files and a duplicate."""
    defects = ["corrupt_files", "duplicate_recording"]
    return synthesize(tmp_path_factory.mktemp("chbmit"), _spec(layout="chbmit", defects=defects))


@pytest.fixture(scope="module")
def bids(tmp_path_factory: pytest.TempPathFactory) -> SynthCorpus:
    """A small dense BIDS corpus with corrupt files and a duplicate."""
    defects = ["corrupt_files", "duplicate_recording"]
    return synthesize(tmp_path_factory.mktemp("bids"), _spec(layout="bids", defects=defects))


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _read_raw(path: Path, preload: bool = True) -> mne.io.BaseRaw:
    with warnings.catch_warnings():  # CHB-MIT's duplicate labels make MNE warn
        warnings.simplefilter("ignore", RuntimeWarning)
        return mne.io.read_raw_edf(path, preload=preload, verbose="error")


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """(the lines before the column header, the data rows split on commas)."""
    lines = path.read_text().splitlines()
    at = lines.index("channel,start_time,stop_time,label,confidence")
    return lines[:at], [line.split(",") for line in lines[at + 1 :]]


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = _spec(train_patients=1, recordings_per_patient=1, defects=["duplicate_recording"])
    first = _files(synthesize(tmp_path / "a", spec).root)
    again = _files(synthesize(tmp_path / "b", spec).root)
    other = _files(synthesize(tmp_path / "c", _spec(train_patients=1, seed=4)).root)
    assert first == again
    assert len(first) == 3 * 4 + 1  # (EDF + csv + csv_bi) x 4 recordings + truth
    edfs = [name for name in first if name.endswith(".edf")]
    assert all(first[name] != other.get(name) for name in edfs)
    assert sorted(first) != sorted(other)  # the seed also draws patient ids


# --- EDF contents -----------------------------------------------------------------------------


def test_edfs_open_in_mne_and_edfio_as_the_truth_says(tusz: SynthCorpus) -> None:
    for rec in tusz.recordings:
        raw = _read_raw(tusz.root / str(rec.edf))
        assert raw.info["sfreq"] == rec.sampling_rate
        assert raw.n_times == rec.duration * rec.sampling_rate
        assert raw.ch_names == list(tusz.channels)
        edf = edfio.read_edf(tusz.root / str(rec.edf))
        assert edf.duration == rec.duration
        assert edf.startdatetime == rec.start
        assert edf.labels == tusz.channels
        assert edf.local_patient_identification.split()[0] == rec.patient


def _rms_ratio(signal: np.ndarray, fs: float, rec: SynthRecording) -> float:
    """RMS inside the annotated seizures over RMS outside, (C, T) pooled."""
    inside = np.zeros(signal.shape[-1], dtype=bool)
    for event in rec.events:
        inside[round(event.start * fs) : round(event.stop * fs)] = True
    return float(np.sqrt(np.mean(signal[..., inside] ** 2) / np.mean(signal[..., ~inside] ** 2)))


def test_seizure_bursts_sit_at_the_annotated_times(tusz: SynthCorpus) -> None:
    positives = [rec for rec in tusz.recordings if rec.positive]
    assert positives
    for rec in positives:
        raw = _read_raw(tusz.root / str(rec.edf))
        eeg = raw.get_data(picks=list(range(21)))  # the 10-20 electrodes with A1/A2, (C, T)
        fs = raw.info["sfreq"]
        assert _rms_ratio(eeg, fs, rec) > 4.0
        assert _rms_ratio(_tcp(eeg, tusz.channels), fs, rec) > 3.0  # bursts survive TCP


def _tcp(eeg: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """The 22 TCP bipolar derivations of referential ``EEG XX-REF`` signals, (22, T)."""
    row = {label.split()[1].removesuffix("-REF"): i for i, label in enumerate(labels[:21])}
    pairs = [pair.split("-") for pair in TCP_PAIRS]
    return np.stack([eeg[row[first]] - eeg[row[second]] for first, second in pairs])


def test_seizure_free_recordings_have_no_bursts(tusz: SynthCorpus) -> None:
    rec = next(rec for rec in tusz.recordings if not rec.positive)
    eeg = _read_raw(tusz.root / str(rec.edf)).get_data(picks=list(range(21))) * 1e6
    per_second = np.sqrt(np.mean(eeg.reshape(21, -1, int(rec.sampling_rate)) ** 2, axis=(0, 2)))
    assert per_second.max() < 2.0 * np.median(per_second)


# --- TUSZ annotations -------------------------------------------------------------------------

_TUSZ_PATH = re.compile(
    r"edf/(?P<split>train|dev|eval)/(?P<patient>[a-z]{8})/(?P<session>s\d{3})_\d{4}(_\d\d_\d\d)?"
    r"/01_tcp_ar/(?P=patient)_(?P=session)_t\d{3}\.edf"
)


def test_tusz_tree_and_splits(tusz: SynthCorpus) -> None:
    for rec in tusz.recordings:
        match = _TUSZ_PATH.fullmatch(str(rec.edf))
        assert match is not None, rec.edf
        assert (match["split"], match["patient"], match["session"]) == (
            rec.split,
            rec.patient,
            rec.session,
        )
        stem = str(rec.edf)[: -len(".edf")]
        assert rec.annotations == (f"{stem}.csv_bi", f"{stem}.csv")
    summary = tusz.summary()
    assert {name: stats["patients"] for name, stats in summary["splits"].items()} == {
        "train": 2,
        "dev": 1,
        "eval": 1,
    }
    assert all(stats["positive_recordings"] >= 1 for stats in summary["splits"].values())
    patients = {split: {r.patient for r in tusz.accepted(split)} for split in ("train", "dev")}
    assert not patients["train"] & patients["dev"]


def test_csv_bi_says_what_the_truth_says(tusz: SynthCorpus) -> None:
    for rec in tusz.recordings:
        header, rows = _csv_rows(tusz.root / rec.annotations[0])
        assert header[:2] == ["# version = csv_v1.0.0", f"# bname = {rec.key}"]
        assert re.fullmatch(r"# duration = \d+\.(\d\d|\d{4}) secs", header[2])
        assert float(header[2].split()[3]) == rec.duration
        assert header[3].startswith("# montage_file = ")
        assert header[4] == "#"
        assert all(row[0] == "TERM" and row[4] == "1.0000" for row in rows)
        assert all(re.fullmatch(r"\d+\.\d{4}", cell) for row in rows for cell in row[1:3])
        seizures = [(float(r[1]), float(r[2])) for r in rows if r[3] == "seiz"]
        assert seizures == [(e.start, e.stop) for e in rec.events]
        background = [(float(r[1]), float(r[2])) for r in rows if r[3] == "bckg"]
        assert {row[3] for row in rows} <= {"seiz", "bckg"}
        if rec.background == "implicit":
            assert background == []
        elif rec.background == "explicit":
            assert background == [(0.0, rec.duration)]
        else:  # interleaved: the rows tile the recording
            cuts = sorted(seizures + background)
            assert cuts[0][0] == 0.0
            assert cuts[-1][1] == rec.duration
            assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))


def test_csv_lists_every_tcp_pair(tusz: SynthCorpus) -> None:
    for rec in tusz.recordings:
        header, rows = _csv_rows(tusz.root / rec.annotations[1])
        assert header[1] == f"# bname = {rec.key}"
        assert {row[0] for row in rows} == set(TCP_PAIRS)
        for pair in TCP_PAIRS:
            mine = [row for row in rows if row[0] == pair]
            seizures = [(float(r[1]), float(r[2]), r[3]) for r in mine if r[3] != "bckg"]
            assert seizures == [(e.start, e.stop, e.label) for e in rec.events]
            if not rec.positive:
                assert [(float(r[1]), float(r[2])) for r in mine] == [(0.0, rec.duration)]


def test_every_background_style_occurs(tmp_path: Path) -> None:
    spec = _spec(train_patients=8, dev_patients=4, eval_patients=4, sparse=True)
    corpus = synthesize(tmp_path, spec)
    styles = {(rec.positive, rec.background) for rec in corpus.recordings}
    assert styles == {(False, "explicit"), (False, "implicit"), (True, "implicit")} | {
        (True, "interleaved")
    }


# --- sparse files -----------------------------------------------------------------------------


def test_sparse_edfs_are_headers_over_a_hole(tmp_path: Path, tusz: SynthCorpus) -> None:
    sparse = synthesize(tmp_path, _spec(sparse=True))
    n_channels = len(sparse.channels)
    for rec, dense in zip(sparse.recordings, tusz.recordings, strict=True):
        path = sparse.root / str(rec.edf)
        header = 256 * (n_channels + 1)
        records = int(rec.duration)  # 1 s records
        assert path.stat().st_size == header + records * n_channels * int(rec.sampling_rate) * 2
        assert path.stat().st_blocks * 512 <= 64 * 1024  # a hole, not megabytes of zeros
        raw = _read_raw(path, preload=False)
        assert raw.n_times == rec.duration * rec.sampling_rate
        # The same spec written densely has the very same header.
        dense_header = (tusz.root / str(dense.edf)).read_bytes()[:header]
        assert path.read_bytes()[:header] == dense_header
    assert [r.events for r in sparse.recordings] == [r.events for r in tusz.recordings]


# --- defects ----------------------------------------------------------------------------------


def test_no_dev_positives(defective: SynthCorpus) -> None:
    splits = defective.summary()["splits"]
    assert splits["dev"]["events"] == 0
    assert splits["train"]["events"] > 0
    assert splits["eval"]["events"] > 0
    for rec in defective.accepted("dev"):
        _, rows = _csv_rows(defective.root / rec.annotations[0])
        assert all(row[3] == "bckg" for row in rows)


def test_one_class_makes_every_recording_seizure_free(tmp_path: Path) -> None:
    corpus = synthesize(tmp_path, _spec(defects=["one_class"], sparse=True))
    assert corpus.summary()["totals"]["events"] == 0
    for rec in corpus.recordings:
        assert "seiz" not in (corpus.root / rec.annotations[0]).read_text()


def test_patient_leak_puts_one_patient_in_train_and_dev(defective: SynthCorpus) -> None:
    leaked = [rec for rec in defective.recordings if rec.defect is Defect.PATIENT_LEAK]
    assert leaked
    assert {rec.split for rec in leaked} == {"dev"}
    patient = leaked[0].patient
    assert any(rec.patient == patient for rec in defective.accepted("train"))
    assert all(f"edf/dev/{patient}/" in str(rec.edf) for rec in leaked)
    keys = [rec.key for rec in defective.recordings]
    assert len(keys) == len(set(keys))  # new session numbers, no clashing file names


def test_duplicate_recording_is_a_byte_identical_copy_in_dev(defective: SynthCorpus) -> None:
    copy = next(rec for rec in defective.recordings if rec.defect is Defect.DUPLICATE_RECORDING)
    source = next(rec for rec in defective.recordings if rec.key == copy.copy_of)
    assert (copy.split, source.split) == ("dev", "train")
    assert copy.patient != source.patient
    assert not copy.rejected
    edf_bytes = (defective.root / str(copy.edf)).read_bytes()
    assert edf_bytes == (defective.root / str(source.edf)).read_bytes()
    assert copy.events == source.events
    assert not copy.positive
    header, _ = _csv_rows(defective.root / copy.annotations[0])
    assert header[1] == f"# bname = {copy.key}"


def _corrupt(corpus: SynthCorpus) -> dict[Corruption, SynthRecording]:
    return {rec.corruption: rec for rec in corpus.recordings if rec.corruption is not None}


@pytest.mark.parametrize("name", ["defective", "chbmit", "bids"])
def test_corrupt_files_are_broken_as_promised(name: str, request: pytest.FixtureRequest) -> None:
    corpus: SynthCorpus = request.getfixturevalue(name)
    broken = _corrupt(corpus)
    expected = set(Corruption) - ({Corruption.UNKNOWN_LABEL} if name == "chbmit" else set())
    assert set(broken) == expected
    assert all(rec.rejected and rec.reason for rec in broken.values())
    assert corpus.summary()["totals"]["rejected"] == len(expected)
    header = 256 * (len(corpus.channels) + 1)
    truncated = broken[Corruption.TRUNCATED_EDF]
    size = (corpus.root / str(truncated.edf)).stat().st_size
    promised = header + int(truncated.duration) * len(corpus.channels) * 256 * 2
    assert header < size < promised
    assert not (corpus.root / str(broken[Corruption.NOT_EDF].edf)).read_bytes().startswith(b"0 ")
    orphan = broken[Corruption.ORPHAN_ANNOTATIONS]
    assert orphan.edf is None
    assert orphan.annotations
    assert not list(corpus.root.rglob(f"{orphan.key}*.edf"))
    lonely = broken[Corruption.MISSING_ANNOTATIONS]
    assert (corpus.root / str(lonely.edf)).is_file()
    assert lonely.annotations == ()
    assert [(e.start, e.stop) for e in broken[Corruption.BAD_INTERVAL].events] == [(40.0, 12.0)]


def test_tusz_corrupt_annotations(defective: SynthCorpus) -> None:
    broken = _corrupt(defective)
    _, rows = _csv_rows(defective.root / broken[Corruption.BAD_INTERVAL].annotations[0])
    assert [(float(r[1]), float(r[2])) for r in rows] == [(40.0, 12.0)]
    _, rows = _csv_rows(defective.root / broken[Corruption.UNKNOWN_LABEL].annotations[0])
    assert [r[3] for r in rows] == ["not_a_label"]
    lonely = broken[Corruption.MISSING_ANNOTATIONS]
    assert not list(defective.root.rglob(f"{lonely.key}.csv*"))
    assert all(rec.split == "train" for rec in broken.values())
    # Corrupt files add no patient and leave the accepted statistics alone.
    accepted = {rec.patient for rec in defective.accepted()}
    assert {rec.patient for rec in broken.values()} <= accepted


# --- CHB-MIT and BIDS -------------------------------------------------------------------------


def _summary_blocks(text: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for chunk in text.split("\n\n"):
        lines = chunk.splitlines()
        if lines and lines[0].startswith("File Name: "):
            blocks[lines[0].removeprefix("File Name: ")] = lines[1:]
    return blocks


def _clock(seconds: int, *, padded: bool) -> str:
    hours = f"{seconds // 3600:02d}" if padded else f"{seconds // 3600}"
    return f"{hours}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def test_chbmit_tree_and_summaries(chbmit: SynthCorpus) -> None:
    assert chbmit.channels.count("T8-P8") == 2
    assert "-" in chbmit.channels
    for patient in sorted({rec.patient for rec in chbmit.recordings}):
        assert re.fullmatch(r"chb\d\d", patient)
        text = (chbmit.root / patient / f"{patient}-summary.txt").read_text()
        assert text.startswith("Data Sampling Rate: 256 Hz\n*************************\n\n")
        channels = re.findall(r"^Channel (\d+): (.*)$", text, flags=re.MULTILINE)
        assert channels == [(str(i), label) for i, label in enumerate(chbmit.channels, 1)]
        blocks = _summary_blocks(text)
        mine = [rec for rec in chbmit.recordings if rec.patient == patient]
        assert sorted(blocks) == sorted(f"{rec.key}.edf" for rec in mine if rec.annotations)
        for rec in mine:
            if rec.edf is not None:
                assert re.fullmatch(rf"{patient}/{patient}_\d\d\.edf", rec.edf)
            if rec.annotations:
                _check_block(blocks[f"{rec.key}.edf"], rec)


def _check_block(lines: list[str], rec: SynthRecording) -> None:
    start = rec.start.hour * 3600 + rec.start.minute * 60 + rec.start.second
    assert lines[0] == f"File Start Time: {_clock(start, padded=True)}"
    assert lines[1] == f"File End Time: {_clock(start + int(rec.duration), padded=False)}"
    assert lines[2] == f"Number of Seizures in File: {len(rec.events)}"
    times = [int(line.split(":")[1].split()[0]) for line in lines[3:]]
    assert times == [int(t) for e in rec.events for t in (e.start, e.stop)]
    styles = [re.match(r"Seizure (\d+ )?(Start|End) Time: ", line) for line in lines[3:]]
    assert all(styles)


def test_bids_tree_and_events(bids: SynthCorpus) -> None:
    description = json.loads((bids.root / "dataset_description.json").read_text())
    assert description["BIDSVersion"]
    for rec in bids.recordings:
        key = rf"sub-{rec.patient}_ses-01_task-szMonitoring_run-\d\d"
        assert re.fullmatch(key, rec.key)
        if rec.edf is not None:
            assert rec.edf == f"sub-{rec.patient}/ses-01/eeg/{rec.key}_eeg.edf"
        if not rec.annotations or rec.rejected:
            continue
        lines = (bids.root / rec.annotations[0]).read_text().splitlines()
        assert (
            lines[0]
            == "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"
        )
        rows = [line.split("\t") for line in lines[1:]]
        assert all(re.fullmatch(r"\d+\.\d\d", row[0]) and len(row) == 7 for row in rows)
        assert {row[5] for row in rows} == {rec.start.strftime("%Y-%m-%d %H:%M:%S")}
        assert {float(row[6]) for row in rows} == {rec.duration}
        if rec.positive:
            got = [(float(r[0]), float(r[0]) + float(r[1]), r[2]) for r in rows]
            assert got == [(e.start, e.stop, e.label) for e in rec.events]
        else:
            assert rows == [["0.00", f"{rec.duration:.2f}", "bckg", "n/a", "n/a", *rows[0][5:]]]


@pytest.mark.parametrize("name", ["chbmit", "bids"])
def test_other_layouts_open_in_mne(name: str, request: pytest.FixtureRequest) -> None:
    corpus: SynthCorpus = request.getfixturevalue(name)
    assert all(rec.split is None for rec in corpus.recordings)
    for rec in corpus.accepted():
        raw = _read_raw(corpus.root / str(rec.edf), preload=False)
        assert raw.n_times == rec.duration * rec.sampling_rate
        assert len(raw.ch_names) == rec.n_channels == len(corpus.channels)


# --- spec, plan and truth ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"min_duration_s": 500, "max_duration_s": 400},
        {"min_duration_s": 100},  # two 60 s seizures with margins do not fit
        {"seizure_rate": 1.5},
        {"train_patients": -1},
        {"recordings_per_patient": 0},
        {"sampling_rates": []},
        {"seizures_per_recording": [1, 2, 3]},
        {"seizure_duration_s": [60.0, 20.0]},
        {"layout": "edfplus"},
        {"defects": ["no_such_defect"]},
        {"layout": "bids", "defects": ["patient_leak"]},
        {"dev_patients": 0, "defects": ["duplicate_recording"]},
    ],
)
def test_bad_specs_are_usage_errors(changes: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        _spec(**changes)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    layout=st.sampled_from(list(Layout)),
    rate=st.floats(0.0, 1.0),
    most=st.integers(1, 4),
)
def test_planned_seizures_fit_their_recordings(
    seed: int, layout: Layout, rate: float, most: int
) -> None:
    spec = SynthSpec(
        layout=layout,
        seed=seed,
        seizure_rate=rate,
        seizures_per_recording=(1, most),
        min_duration_s=most * 81,
        max_duration_s=most * 100,
        seizure_duration_s=(20.0, 60.0),
    )
    slots = plan(spec)
    grid = 1.0 if layout is Layout.CHBMIT else 0.25
    for slot in slots:
        cursor = 0.0
        for event in slot.events:
            assert cursor + 10 <= event.start
            assert event.stop + 10 <= slot.duration
            assert 20.0 <= event.stop - event.start <= 60.0
            assert event.start % grid == 0
            assert event.stop % grid == 0
            cursor = event.stop + 10
    positives = {slot.split: 0 for slot in slots}
    for slot in slots:
        positives[slot.split] += bool(slot.events)
    assert all(count >= 1 for count in positives.values()) or rate == 0


def test_truth_file_round_trips(tusz: SynthCorpus) -> None:
    loaded = load_truth(tusz.root)
    assert loaded == tusz
    document = json.loads((tusz.root / TRUTH_FILE).read_text())
    assert document["summary"] == json.loads(json.dumps(tusz.summary()))
    assert set(document["files"]) == {
        path.relative_to(tusz.root).as_posix()
        for path in tusz.root.rglob("*")
        if path.is_file() and path.name != TRUTH_FILE
    }


def test_only_an_earlier_synthetic_corpus_is_replaced(tmp_path: Path) -> None:
    spec = _spec(sparse=True)
    synthesize(tmp_path / "corpus", spec)
    with pytest.raises(UsageError, match="not empty"):
        synthesize(tmp_path / "corpus", spec)
    replaced = synthesize(tmp_path / "corpus", _spec(sparse=True, layout="bids"), overwrite=True)
    assert not (tmp_path / "corpus" / "edf").exists()
    assert set(_files(replaced.root)) == {*replaced.files, TRUTH_FILE}
    (tmp_path / "corpus" / "mine.txt").write_text("keep me")
    with pytest.raises(UsageError, match=r"mine\.txt"):
        synthesize(tmp_path / "corpus", spec, overwrite=True)
    assert (tmp_path / "corpus" / "mine.txt").read_text() == "keep me"
    with pytest.raises(UsageError, match="is a file"):
        synthesize(tmp_path / "corpus" / "mine.txt", spec)


def test_overwrite_keeps_the_manifest_folder_an_audit_wrote(tmp_path: Path) -> None:
    """``.preflight`` (the audit's manifest) is neither someone else's file nor removed."""
    spec = _spec(sparse=True)
    synthesize(tmp_path / "corpus", spec)
    (tmp_path / "corpus" / ".preflight").mkdir()
    (tmp_path / "corpus" / ".preflight" / "manifest.duckdb").write_bytes(b"")
    replaced = synthesize(tmp_path / "corpus", spec, overwrite=True)
    assert (tmp_path / "corpus" / ".preflight" / "manifest.duckdb").exists()
    assert set(_files(replaced.root)) >= {*replaced.files, TRUTH_FILE}


# --- command line -----------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    """A typer app with only the synth command (the real app registers it the same way)."""
    app = typer.Typer()
    app.command("synth")(synth)
    app.command("noop")(lambda: None)  # two commands, so `synth` stays a subcommand
    return app


def test_cli_writes_a_corpus(cli: typer.Typer, tmp_path: Path) -> None:
    args = ["synth", str(tmp_path / "c"), "--patients", "1", "--min-duration", "200"]
    args += ["--max-duration", "220", "--sparse", "--defect", "corrupt_files"]
    args += ["--sampling-rate", "250", "--sampling-rate", "256", "--channels", "33", "--seed", "9"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    corpus = load_truth(tmp_path / "c")
    assert corpus.spec.defects == {Defect.CORRUPT_FILES}
    assert corpus.spec.sparse
    assert len(corpus.channels) == 33
    assert corpus.spec.dev_patients == 1
    assert {rec.sampling_rate for rec in corpus.recordings} <= {250.0, 256.0}
    assert "Wrote 6 sparse tusz recordings" in result.output
    assert str(corpus.truth_path) in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--min-duration", "500", "--max-duration", "400"],
        ["--layout", "edfplus"],
        ["--defect", "nope"],
        ["--seizure-rate", "2"],
        ["--layout", "chbmit", "--defect", "no_dev_positives"],
    ],
)
def test_cli_bad_arguments_exit_2(cli: typer.Typer, tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "c"), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "c").exists()


def test_cli_refuses_a_non_empty_folder_without_force(cli: typer.Typer, tmp_path: Path) -> None:
    args = ["synth", str(tmp_path), "--patients", "1", "--sparse"]
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "not empty" in result.output
    os.remove(tmp_path / "notes.txt")
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert CliRunner().invoke(cli, args).exit_code == 2
    assert CliRunner().invoke(cli, [*args, "--force"]).exit_code == 0
