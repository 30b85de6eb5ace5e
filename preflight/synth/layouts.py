"""Names, folders and annotation files of the three layouts a synthetic corpus can imitate.

Each text follows FORMATS.md to the byte, including the quirks real files have: TUSZ's three ways of
writing background and two duration precisions, CHB-MIT's two seizure-line styles, double spaces
and clock times past 24:00, BIDS's ``%.2f`` numbers and ``n/a`` cells.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preflight.synth.plan import Slot
from preflight.synth.spec import (
    CORRUPTION_REASON,
    Corruption,
    Layout,
    SynthRecording,
    SynthSpec,
)

__all__ = ["TCP_PAIRS", "name_recordings", "patient_ids", "write_annotations"]

_TCP = (
    "FP1-F7 F7-T3 T3-T5 T5-O1 FP2-F8 F8-T4 T4-T6 T6-O2 A1-T3 T3-C3 C3-CZ CZ-C4 C4-T4 T4-A2 "
    "FP1-F3 F3-C3 C3-P3 P3-O1 FP2-F4 F4-C4 C4-P4 P4-O2"
)
TCP_PAIRS = tuple(_TCP.split())  # TUSZ's 22 bipolar pairs, in the order its `.csv` files use
_MONTAGE_FOLDER = "01_tcp_ar"
_MONTAGE_FILES = (
    "$NEDC_NFC/lib/nedc_eas_default_montage.txt",
    "/data/isip/tools/nedc_eas/lib/nedc_eas_default_montage.txt",
)
_BIDS_HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"
_BIDS_DESCRIPTION = {
    "Name": "preflight synthetic seizure corpus",
    "BIDSVersion": "1.9.0",
    "DatasetType": "raw",
}


def patient_ids(layout: Layout, count: int, seed: int) -> list[str]:
    """Unique patient ids: 8 lowercase letters from a seeded base (TUSZ), ``chbNN``, ``NN``."""
    if layout is Layout.CHBMIT:
        return [f"chb{i + 1:02d}" for i in range(count)]
    if layout is Layout.BIDS:
        return [f"{i + 1:02d}" for i in range(count)]
    base = int(np.random.default_rng([seed, 1]).integers(26**6))  # ids read `aa......`
    return [_letters(base + i) for i in range(count)]


def _letters(number: int) -> str:
    letters = []
    for _ in range(8):
        number, digit = divmod(number, 26)
        letters.append(chr(ord("a") + digit))
    return "".join(reversed(letters))


@dataclass(frozen=True)
class _Names:
    key: str
    edf: str
    annotations: tuple[str, ...]
    session: str | None


def _tusz_names(slot: Slot, patient: str, session_start: Slot) -> _Names:
    session = f"s{slot.session + 1:03d}"
    day = session_start.start.date()
    # TUSZ names session folders `s001_2015` or `s002_2015_03_14`; use both.
    dated = (
        f"{day.year}_{day.month:02d}_{day.day:02d}"
        if (slot.patient + slot.session) % 2
        else f"{day.year}"
    )
    key = f"{patient}_{session}_t{slot.token:03d}"
    folder = f"edf/{slot.split}/{patient}/{session}_{dated}/{_MONTAGE_FOLDER}/{key}"
    return _Names(key, f"{folder}.edf", (f"{folder}.csv_bi", f"{folder}.csv"), session)


def _names(layout: Layout, slot: Slot, patient: str, session_start: Slot) -> _Names:
    if layout is Layout.TUSZ:
        return _tusz_names(slot, patient, session_start)
    if layout is Layout.CHBMIT:
        key = f"{patient}_{slot.token + 1:02d}"
        return _Names(key, f"{patient}/{key}.edf", (f"{patient}/{patient}-summary.txt",), None)
    key = f"sub-{patient}_ses-01_task-szMonitoring_run-{slot.token:02d}"
    folder = f"sub-{patient}/ses-01/eeg/{key}"
    return _Names(key, f"{folder}_eeg.edf", (f"{folder}_events.tsv",), "01")


def name_recordings(
    spec: SynthSpec, slots: list[Slot], ids: list[str], n_channels: int
) -> list[SynthRecording]:
    """Give every slot its layout names and paths, and say what an audit must make of it."""
    firsts = {(s.patient, s.session): s for s in slots if s.token == 0}
    names = [_names(spec.layout, s, ids[s.patient], firsts[s.patient, s.session]) for s in slots]
    recordings = []
    for slot, name in zip(slots, names, strict=True):
        kind = slot.corruption
        recordings.append(
            SynthRecording(
                key=name.key,
                edf=None if kind is Corruption.ORPHAN_ANNOTATIONS else name.edf,
                annotations=() if kind is Corruption.MISSING_ANNOTATIONS else name.annotations,
                split=slot.split,
                patient=ids[slot.patient],
                session=name.session,
                start=slot.start,
                duration=float(slot.duration),
                sampling_rate=float(slot.fs),
                n_channels=n_channels,
                events=slot.events,
                background=slot.background,
                rejected=kind is not None,
                reason=None if kind is None else CORRUPTION_REASON[kind],
                defect=slot.defect,
                corruption=kind,
                copy_of=None if slot.source is None else names[slot.source].key,
            )
        )
    return recordings


def write_annotations(
    root: Path, spec: SynthSpec, recordings: list[SynthRecording], channels: tuple[str, ...]
) -> list[str]:
    """Write every annotation file of the corpus; return their paths relative to ``root``.

    The folders must exist (``synthesize`` makes them all first).
    """
    texts: dict[str, str] = {}
    if spec.layout is Layout.BIDS:
        texts["dataset_description.json"] = json.dumps(_BIDS_DESCRIPTION, indent=2) + "\n"
    for index, rec in enumerate(recordings):
        if spec.layout is Layout.TUSZ and rec.annotations:
            texts[rec.annotations[0]] = tusz_csv_bi(rec, index)
            texts[rec.annotations[1]] = tusz_csv(rec, index)
        elif spec.layout is Layout.BIDS and rec.annotations:
            texts[rec.annotations[0]] = bids_events(rec)
    if spec.layout is Layout.CHBMIT:
        for patient in dict.fromkeys(rec.patient for rec in recordings):
            mine = [(i, rec) for i, rec in enumerate(recordings) if rec.patient == patient]
            texts[f"{patient}/{patient}-summary.txt"] = chbmit_summary(mine, channels)
    for relative, text in texts.items():
        (root / relative).write_text(text, encoding="ascii", newline="\n")
    return list(texts)


def _tusz_header(rec: SynthRecording, variant: int) -> list[str]:
    decimals = 4 if variant % 3 == 2 else 2  # real files use both precisions
    return [
        "# version = csv_v1.0.0",
        f"# bname = {rec.key}",
        f"# duration = {rec.duration:.{decimals}f} secs",
        f"# montage_file = {_MONTAGE_FILES[variant % len(_MONTAGE_FILES)]}",
        "#",
        "channel,start_time,stop_time,label,confidence",
    ]


def _with_gaps(rec: SynthRecording) -> list[tuple[float, float, str]]:
    """The recording cut into (start, stop, label): seizures, with ``bckg`` in every gap."""
    pieces, cursor = [], 0.0
    for event in rec.events:
        if event.start > cursor:
            pieces.append((cursor, event.start, "bckg"))
        pieces.append((event.start, event.stop, event.label))
        cursor = event.stop
    if cursor < rec.duration:
        pieces.append((cursor, rec.duration, "bckg"))
    return pieces


def _tusz_pieces(rec: SynthRecording) -> list[tuple[float, float, str]]:
    if rec.background == "interleaved" or (rec.background == "explicit" and not rec.events):
        return _with_gaps(rec)
    return [(event.start, event.stop, event.label) for event in rec.events]


def tusz_csv_bi(rec: SynthRecording, variant: int) -> str:
    """The term-based ``.csv_bi``: one ``TERM`` row per event, seizure types folded into ``seiz``.

    Args:
        rec: the recording.
        variant: picks the duration precision and montage path, deterministically.
    """
    rows = [
        f"TERM,{start:.4f},{stop:.4f},{'bckg' if label == 'bckg' else _term(label)},1.0000"
        for start, stop, label in _tusz_pieces(rec)
    ]
    return "\n".join([*_tusz_header(rec, variant), *rows]) + "\n"


def _term(label: str) -> str:
    """``.csv_bi`` says ``seiz`` for every seizure type; a planted unknown label stays as is."""
    return label if label == "not_a_label" else "seiz"


def tusz_csv(rec: SynthRecording, variant: int) -> str:
    """The per-channel ``.csv``: every event on each of the 22 TCP pairs, channel by channel.

    A seizure-free recording gets one ``bckg`` row per pair covering it, whatever its
    ``.csv_bi`` style; an interleaved one gets ``bckg`` rows in the gaps.
    """
    pieces = _tusz_pieces(rec) if rec.events else _with_gaps(rec)
    rows = [
        f"{pair},{start:.4f},{stop:.4f},{label},1.0000"
        for pair in TCP_PAIRS
        for start, stop, label in pieces
    ]
    return "\n".join([*_tusz_header(rec, variant), *rows]) + "\n"


def bids_events(rec: SynthRecording) -> str:
    """A BIDS ``_events.tsv``: one row per seizure, or one ``bckg`` row spanning the recording."""
    when = rec.start.strftime("%Y-%m-%d %H:%M:%S")
    rows = [
        f"{event.start:.2f}\t{event.stop - event.start:.2f}\t{event.label}\t1.00\tn/a"
        f"\t{when}\t{rec.duration:.2f}"
        for event in rec.events
    ] or [f"0.00\t{rec.duration:.2f}\tbckg\tn/a\tn/a\t{when}\t{rec.duration:.2f}"]
    return "\n".join([_BIDS_HEADER, *rows]) + "\n"


def chbmit_summary(recordings: list[tuple[int, SynthRecording]], channels: tuple[str, ...]) -> str:
    """A ``chbNN-summary.txt`` listing the patient's files (not those planted as unannotated).

    Args:
        recordings: (writing index, recording) of one patient, in file order; the index varies
            the seizure-line style (``Seizure Start Time:`` or ``Seizure 1 Start Time:``).
        channels: the EDF channel labels.
    """
    lines = [f"Data Sampling Rate: {recordings[0][1].sampling_rate:g} Hz", "*" * 25, ""]
    lines += ["Channels in EDF Files:", "*" * 22]
    lines += [f"Channel {number}: {label}" for number, label in enumerate(channels, 1)]
    double = int(recordings[0][1].patient[3:]) % 2 == 0  # chb12 writes `End Time:  3114`
    for index, rec in recordings:
        if rec.annotations:
            lines += ["", *_chbmit_block(rec, numbered=index % 2 == 1, double=double)]
    return "\n".join(lines) + "\n"


def _chbmit_block(rec: SynthRecording, *, numbered: bool, double: bool) -> list[str]:
    start = rec.start.time()
    since_midnight = start.hour * 3600 + start.minute * 60 + start.second
    end = since_midnight + int(rec.duration)  # not wrapped: `23:44:29` ends at `24:44:29`
    lines = [
        f"File Name: {rec.key}.edf",
        f"File Start Time: {start.hour:02d}:{start.minute:02d}:{start.second:02d}",
        f"File End Time: {end // 3600}:{end % 3600 // 60:02d}:{end % 60:02d}",
        f"Number of Seizures in File: {len(rec.events)}",
    ]
    for number, event in enumerate(rec.events, 1):
        tag = f"Seizure {number}" if numbered or len(rec.events) > 1 else "Seizure"
        lines.append(f"{tag} Start Time: {event.start:.0f} seconds")
        lines.append(f"{tag} End Time:{'  ' if double else ' '}{event.stop:.0f} seconds")
    return lines
