"""A small healthy corpus holding every format preflight reads, written byte by byte.

The catalogue of bad inputs (``catalogue.py``) plants one problem into a copy of this corpus and
checks that the problem, and only the problem, is rejected. Every recording is a tiny EDF (two
16 Hz channels) written here without edfio, so the bad-header cases can patch any field and the
BDF variant is available too. Sample values are seeded by file name: identical bytes would make
two recordings duplicates of each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16  # Hz: small files, enough for 10 s windows
LABELS = ("EEG FP1-REF", "EEG F7-REF")

# Fixed-header offsets (bytes) of the fields the catalogue patches.
HEADER_BYTES_AT = (184, 8)
RESERVED_AT = (192, 44)
N_RECORDS_AT = (236, 8)
RECORD_DURATION_AT = (244, 8)
N_SIGNALS_AT = (252, 4)

# The config every catalogue audit runs with. Small batches suit tiny corpora; `dev` is the only
# evaluation split (recordings of unsplit corpora land in `all`, which is neither); and no input
# may be rejected, so any rejection fails the gate and the CLI exits 1.
BASE_CONFIG = """\
gate:
  batch_size: 8
  evaluation_splits: [dev]
  max_rejected_fraction: 0.0
"""

CSV_HEADER = (
    "# version = csv_v1.0.0\n# bname = {name}\n# duration = {duration:.2f} secs\n"
    "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n#\n"
    "channel,start_time,stop_time,label,confidence\n"
)
CSV_FIRST_ROW = 7  # 1-based line of the first event row under CSV_HEADER

BIDS_HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"


def _field(value: object, width: int) -> bytes:
    raw = value if isinstance(value, bytes) else str(value).encode("ascii")
    if len(raw) > width:
        raise ValueError(f"{raw!r} does not fit in {width} bytes")
    return raw.ljust(width)


def edf_bytes(
    name: str,
    seconds: int,
    *,
    bdf: bool = False,
    patient: bytes = b"X X X X",
    labels: tuple[str, ...] = LABELS,
    annotations: tuple[tuple[float, float | None, str | bytes], ...] = (),
) -> bytes:
    """A complete EDF (or BDF) file of ``seconds`` one-second records, samples seeded by ``name``.

    With ``annotations`` the file is EDF+C and gains an ``EDF Annotations`` signal whose first
    record holds them, as ``(onset, duration or None, text)``.
    """
    sample_bytes = 3 if bdf else 2
    ann_bytes = 0
    tals: list[bytes] = []
    if annotations:
        for k in range(seconds):
            tal = f"+{k}\x14\x14\x00".encode()
            if k == 0:
                for onset, duration, text in annotations:
                    dur = "" if duration is None else f"\x15{duration:g}"
                    body = text if isinstance(text, bytes) else text.encode()
                    tal += f"+{onset:g}{dur}\x14".encode() + body + b"\x14\x00"
            tals.append(tal)
        ann_bytes = max(len(t) for t in tals) + 8
        ann_bytes += (-ann_bytes) % sample_bytes
    signals = [(label, RATE) for label in labels]
    if annotations:
        signals.append(("EDF Annotations", ann_bytes // sample_bytes))
    ns = len(signals)
    dig_max = 2 ** (8 * sample_bytes - 1) - 1
    reserved = "24BIT" if bdf else ("EDF+C" if annotations else "")
    head = b"".join(
        [
            b"\xffBIOSEMI" if bdf else _field("0", 8),
            _field(patient, 80),
            _field("Startdate 01-JAN-2020 X X X", 80),
            _field("01.01.20", 8),
            _field("10.00.00", 8),
            _field(256 * (ns + 1), 8),
            _field(reserved, 44),
            _field(seconds, 8),
            _field(1, 8),
            _field(ns, 4),
        ]
    )
    columns: list[tuple[int, object]] = [
        (16, "label"), (80, ""), (8, "uV"), (8, -3200), (8, 3200), (8, -dig_max - 1),
        (8, dig_max), (80, ""), (8, "samples"), (32, ""),
    ]  # fmt: skip
    for width, value in columns:
        for label, samples in signals:
            cell = label if value == "label" else samples if value == "samples" else value
            head += _field(cell, width)
    seed = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    rng = np.random.default_rng(seed)
    data = bytearray()
    for k in range(seconds):
        for label, samples in signals:
            if label == "EDF Annotations":
                data += tals[k].ljust(samples * sample_bytes, b"\x00")
                continue
            values = rng.integers(-1000, 1000, size=samples, dtype=np.int32)
            raw = values.astype("<i4").tobytes()
            data += b"".join(raw[i : i + sample_bytes] for i in range(0, len(raw), 4))
    return bytes(head) + bytes(data)


def patch(path: Path, at: tuple[int, int], value: object) -> None:
    """Overwrite one fixed-width header field of the EDF at ``path``."""
    offset, width = at
    raw = bytearray(path.read_bytes())
    raw[offset : offset + width] = _field(value, width)
    path.write_bytes(bytes(raw))


def signal_field(ns: int, column_offset: int, width: int, signal: int) -> tuple[int, int]:
    """(offset, width) of one signal's field: ``column_offset`` is 0 for labels, 216 for samples."""
    return 256 + column_offset * ns + width * signal, width


def csv_bi(name: str, duration: int, rows: list[str]) -> str:
    """A TUSZ ``.csv_bi``: the five ``#`` lines, the column header, then ``rows`` (line 7 on)."""
    return CSV_HEADER.format(name=name, duration=duration) + "".join(f"{r}\n" for r in rows)


def term(start: float, stop: float, label: str = "seiz") -> str:
    """One ``.csv_bi`` row."""
    return f"TERM,{start:.4f},{stop:.4f},{label},1.0000"


def bids_row(onset: float, duration: float, event: str, total: int) -> str:
    """One BIDS ``events.tsv`` row of a recording of ``total`` seconds."""
    return f"{onset:.2f}\t{duration:.2f}\t{event}\t1.00\tn/a\t2020-01-01 10:00:00\t{total:.2f}"


@dataclass(frozen=True)
class Paths:
    """Root-relative paths of the base corpus's files that the catalogue touches."""

    tusz_dir: str = "edf/train/aaaaaaab/s001_2015/01_tcp_ar"
    tusz_bckg: str = (
        "edf/train/aaaaaaab/s001_2015/01_tcp_ar/aaaaaaab_s001_t001"  # 100 s, no seizure
    )
    v15_dir: str = "tusz_v15/002/00000258/s002_2003_07_21"
    tse: str = "tusz_v15/002/00000258/s002_2003_07_21/00000258_s002_t000.tse"
    lbl: str = "tusz_v15/002/00000258/s002_2003_07_21/00000258_s002_t001.lbl"
    chbmit_dir: str = "chbmit/chb01"
    chbmit_summary: str = "chbmit/chb01/chb01-summary.txt"
    siena_dir: str = "siena/PN00"
    siena_list: str = "siena/PN00/Seizures-list-PN00.txt"
    bids_dir: str = "bids/sub-01/ses-01/eeg"
    bids_events: str = "bids/sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00_events.tsv"
    bids_edf: str = "bids/sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00_eeg.edf"
    edfplus: str = "edfplus/p01/rec01.edf"


P = Paths()

# TUSZ v2 recordings: (split, patient, t, seconds, seizures). Train holds 4 positive windows, dev 1.
TUSZ = (
    ("train", "aaaaaaab", 0, 120, ((15.0, 35.0),)),
    ("train", "aaaaaaab", 1, 100, ()),
    ("train", "aaaaaaac", 0, 60, ((0.0, 5.0),)),
    ("dev", "aaaaaaad", 0, 60, ((50.0, 60.0),)),
)

TSE = "version = tse_v1.0.0\n\n0.0000 10.0000 bckg 1.0000\n10.0000 20.0000 seiz 1.0000\n"
TSE_FIRST_ROW = 3
LBL_HEAD = (
    "version = lbl_v1.0.0\n\n"
    "montage = 0, FP1-F7: EEG FP1-REF -- EEG F7-REF\n"
    "montage = 1, F7-T3: EEG F7-REF -- EEG T3-REF\n\n"
    "number_of_levels = 1\nlevel[0] = 1\n\n"
    "symbols[0] = {0: '(null)', 1: 'bckg', 2: 'seiz'}\n\n"
)
LBL_FIRST_LABEL = 11
LBL = LBL_HEAD + "label = {0, 0, 5.0000, 25.0000, 0, [0.0, 0.0, 1.0]}\n"

CHBMIT_HEAD = (
    "Data Sampling Rate: 16 Hz\n*************************\n\n"
    "Channels in EDF Files:\n**********************\nChannel 1: FP1-F7\nChannel 2: F7-T7\n\n"
)
CHBMIT_01 = (
    "File Name: chb01_01.edf\nFile Start Time: 10:00:00\nFile End Time: 10:02:00\n"
    "Number of Seizures in File: 0\n\n"
)
CHBMIT_02 = (
    "File Name: chb01_02.edf\nFile Start Time: 11:00:00\nFile End Time: 11:02:00\n"
    "Number of Seizures in File: 1\nSeizure Start Time: 30 seconds\nSeizure End Time: 50 seconds\n"
)
CHBMIT_02_LINE = 14  # `File Name: chb01_02.edf`

SIENA = (
    "Patient id number: PN00\nData Sampling Rate: 16 Hz\n\n"
    "Seizure n 1\nFile name: PN00-1.edf\nRegistration start time: 10.00.00\n"
    "Registration end time: 10.02.00\nSeizure start time: 10.00.40\nSeizure end time: 10.01.00\n"
)
SIENA_SEIZURE_END_LINE = 9

BIDS_SECONDS = 120


def write_base(root: Path) -> int:
    """Write the healthy corpus under ``root``; returns its number of usable recordings.

    TUSZ v2 (train and dev), TUSZ v1.5 (``.tse`` and ``.lbl``), CHB-MIT, Siena, BIDS and EDF+:
    20 input files, 11 recordings. Non-TUSZ recordings have no declared split (``all``).
    """
    n = 0
    for split, patient, t, seconds, seizures in TUSZ:
        folder = root / "edf" / split / patient / "s001_2015" / "01_tcp_ar"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{patient}_s001_t{t:03d}"
        (folder / f"{name}.edf").write_bytes(edf_bytes(name, seconds))
        rows = [term(a, b) for a, b in seizures] or [term(0, seconds, "bckg")]
        (folder / f"{name}.csv_bi").write_text(csv_bi(name, seconds, rows))
        n += 1
    v15 = root / P.v15_dir
    v15.mkdir(parents=True)
    for stem, text in (("00000258_s002_t000.tse", TSE), ("00000258_s002_t001.lbl", LBL)):
        (v15 / stem).write_text(text)
        key = stem.rsplit(".", 1)[0]
        (v15 / f"{key}.edf").write_bytes(edf_bytes(key, 60))
        n += 1
    chb = root / P.chbmit_dir
    chb.mkdir(parents=True)
    (chb / "chb01-summary.txt").write_text(CHBMIT_HEAD + CHBMIT_01 + CHBMIT_02)
    for key in ("chb01_01", "chb01_02"):
        (chb / f"{key}.edf").write_bytes(edf_bytes(key, 120))
        n += 1
    siena = root / P.siena_dir
    siena.mkdir(parents=True)
    (siena / "Seizures-list-PN00.txt").write_text(SIENA)
    (siena / "PN00-1.edf").write_bytes(edf_bytes("PN00-1", 120))
    n += 1
    bids = root / P.bids_dir
    bids.mkdir(parents=True)
    rows = [
        bids_row(0, 60, "bckg", 120),
        bids_row(60, 20, "sz", 120),
        bids_row(80, 40, "bckg", 120),
    ]
    (root / P.bids_events).write_text("\n".join([BIDS_HEADER, *rows]) + "\n")
    (root / P.bids_edf).write_bytes(edf_bytes("sub-01", BIDS_SECONDS))
    n += 1
    plus = root / P.edfplus
    plus.parent.mkdir(parents=True)
    plus.write_bytes(edfplus_bytes("rec01"))
    n += 1
    return n


def edfplus_bytes(
    name: str,
    annotations: tuple[tuple[float, float | None, str | bytes], ...] = (),
    *,
    patient: bytes = b"P01 M 01-JAN-2000 P01",
    labels: tuple[str, ...] = LABELS,
) -> bytes:
    """An EDF+C recording of 60 s whose embedded annotations hold a 20 s seizure at 30 s."""
    notes = annotations or ((30.0, 20.0, "Seizure"),)
    return edf_bytes(name, 60, patient=patient, labels=labels, annotations=notes)
