"""Montage matching: channel-name conventions, bipolar pairs, rejections naming the channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preflight.data.montage import (
    CHBMIT_TCP_PAIRS,
    MISSING_CHANNELS,
    STANDARD_1020,
    TCP_PAIRS,
    Montage,
    MontageKind,
    check_recordings,
    plan_channels,
)
from preflight.errors import Reason, RecordingError, UsageError
from preflight.manifest.schema import create_cache_tables, create_derived_tables
from preflight.manifest.store import Manifest


def _words(text: str) -> list[str]:
    return text.split()


TUSZ = [
    f"EEG {e}-REF"
    for e in _words("FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ")
]
TUSZ += ["EEG EKG1-REF", "PHOTIC PH"]
CHBMIT = _words(
    "FP1-F7 F7-T7 T7-P7 P7-O1 FP1-F3 F3-C3 C3-P3 P3-O1 FP2-F4 F4-C4 C4-P4 P4-O2 FP2-F8 F8-T8 "
    "T8-P8 P8-O2 FZ-CZ CZ-PZ P7-T7 T7-FT9 FT9-FT10 FT10-T8 - T8-P8"
)
SIENA = [
    f"EEG {e}" for e in _words("Fp1 F3 C3 P3 O1 F7 T3 T5 Fc1 Fz Cz Pz Fp2 F4 C4 P4 O2 F8 T4 T6")
]
MODERN = _words("Fp1 Fp2 F7 F3 Fz F4 F8 T7 C3 Cz C4 T8 P7 P3 Pz P4 P8 O1 O2")


def _sources(plan_labels: list[str], montage: Montage) -> dict[str, tuple[str | None, str | None]]:
    """Montage channel -> (EDF label added, EDF label subtracted), for readable assertions."""
    plan = plan_channels(plan_labels, montage)
    label = [plan_labels[i] for i in plan.sources]
    return {
        ch: (label[p] if p >= 0 else None, label[m] if m >= 0 else None)
        for ch, p, m in zip(plan.channels, plan.plus, plan.minus, strict=True)
    }


@pytest.mark.parametrize(
    "labels",
    [TUSZ, [label.replace("-REF", "-LE") for label in TUSZ], SIENA, MODERN],
    ids=["tusz-ref", "tusz-le", "siena", "modern-t7"],
)
def test_referential_10_20_from_every_convention(labels: list[str]) -> None:
    picks = _sources(labels, Montage.referential())
    assert tuple(picks) == STANDARD_1020
    for channel, (plus, minus) in picks.items():
        assert minus is None
        assert plus is not None
        name = plus.upper().removeprefix("EEG ").split("-")[0]
        modern = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
        assert name in (channel, modern.get(channel))


def test_tcp_from_referential_channels_is_their_difference() -> None:
    picks = _sources(TUSZ, Montage.tcp())
    assert tuple(picks) == TCP_PAIRS
    assert picks["FP1-F7"] == ("EEG FP1-REF", "EEG F7-REF")
    assert picks["A1-T3"] == ("EEG A1-REF", "EEG T3-REF")
    assert picks["T4-A2"] == ("EEG T4-REF", "EEG A2-REF")


def test_bipolar_recording_maps_directly_onto_the_pairs_it_has() -> None:
    picks = _sources(CHBMIT, Montage.bipolar(CHBMIT_TCP_PAIRS))
    assert len(picks) == 16
    assert picks["F7-T3"] == ("F7-T7", None)  # T7 is T3
    assert picks["T6-O2"] == ("P8-O2", None)


def test_a_reversed_pair_is_negated_and_duplicates_use_the_first() -> None:
    labels = ["T5-T3", "FP1-F7", "FP1-F7"]
    plan = plan_channels(labels, Montage.bipolar(["T3-T5", "FP1-F7"]))
    assert plan.sources == (0, 1)
    np.testing.assert_array_equal(plan.matrix(), [[-1.0, 0.0], [0.0, 1.0]])


def test_matrix_combines_sources() -> None:
    plan = plan_channels(["EEG F7-REF", "EEG FP1-REF", "EEG X-REF"], Montage.bipolar(["FP1-F7"]))
    assert plan.sources == (0, 1)
    np.testing.assert_array_equal(plan.matrix(), [[-1.0, 1.0]])


def test_missing_channels_are_named() -> None:
    labels = [label for label in TUSZ if "T3" not in label and "O2" not in label]
    with pytest.raises(RecordingError) as info:
        plan_channels(labels, Montage.referential(), path="edf/x.edf")
    assert info.value.reason is MISSING_CHANNELS
    assert info.value.path == "edf/x.edf"
    assert "lacks 2 of the 19 10-20 montage channels: T3, O2" in str(info.value)


def test_a_bipolar_recording_cannot_give_referential_channels() -> None:
    with pytest.raises(RecordingError, match=r"lacks 19 of the 19 .*choose a bipolar montage"):
        plan_channels(CHBMIT, Montage.referential())


def test_full_tcp_on_chbmit_names_the_six_missing_pairs() -> None:
    with pytest.raises(RecordingError, match="A1-T3, T3-C3, C3-CZ, CZ-C4, C4-T4, T4-A2 "):
        plan_channels(CHBMIT, Montage.tcp())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Montage.referential(["FP1", "fp1"]), "listed twice: FP1"),
        (lambda: Montage.referential([]), "at least one channel"),
        (lambda: Montage.referential(["FP1-F7"]), "not an electrode name"),
        (lambda: Montage.bipolar(["FP1"]), "not written as 'A-B'"),
    ],
)
def test_bad_montages_are_usage_errors(build: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build()  # type: ignore[operator]


def test_montage_names_and_kinds() -> None:
    assert Montage.referential().name == "10-20"
    assert Montage.tcp().kind is MontageKind.BIPOLAR
    assert Montage.tcp().name == "tcp"
    assert Montage.bipolar(CHBMIT_TCP_PAIRS).name == "tcp-chbmit"
    assert Montage.bipolar(["fp1-f7"]).channels == ("FP1-F7",)
    assert Montage.referential(["t7"]).channels == ("T3",)


def test_check_recordings_reads_channel_lists_from_the_manifest(tmp_path: Path) -> None:
    """Four recordings: full TUSZ, one without T3, a CHB-MIT bipolar one, a labels-only one."""
    with Manifest.open(tmp_path / "m.duckdb") as m:
        create_cache_tables(m.con)
        create_derived_tables(m.con)
        rows = [
            (0, "a.edf", TUSZ, "train"),
            (1, "b.edf", [label for label in TUSZ if "T3" not in label], "train"),
            (2, "c.edf", CHBMIT, "dev"),
            (3, None, None, "dev"),
        ]
        for rec_idx, path, channels, split in rows:
            m.con.execute(
                "INSERT INTO recordings (recording_id, rec_idx, path, annotation_paths,"
                " label_source, label_reader, patient, declared_split, split, channels,"
                " duration_s) VALUES (?, ?, ?, [], 'x', 'x', 'p', ?, ?, ?, 60)",
                [f"r{rec_idx}", rec_idx, path, split, split, channels],
            )
        check = check_recordings(m, Montage.referential())
        assert sorted(check.usable) == [0]
        rejected = {r.rec_idx: r for r in check.rejected}
        assert rejected[1].missing == ("T3",)
        assert rejected[1].reason is MISSING_CHANNELS
        assert rejected[1].path == "b.edf"
        assert len(rejected[2].missing) == 19
        assert rejected[3].reason is Reason.MISSING_RECORDING
        assert rejected[3].missing == ()
        train = check_recordings(m, Montage.tcp(), splits=["train"])
        assert sorted(train.usable) == [0]
        assert [r.missing for r in train.rejected] == [("F7-T3", "T3-T5", "A1-T3", "T3-C3")]
