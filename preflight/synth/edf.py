"""Synthetic EEG signals and the EDF files that hold them.

Background is pink-ish noise with an alpha bump; a seizure is a 3-5 Hz spike-and-wave-like rhythm,
about 9x the background amplitude, on every EEG channel with a per-channel delay and gain (so it
survives TUSZ's bipolar TCP re-referencing). Dense files go through edfio; sparse files are an
edfio header followed by a file hole as long as the data the header promises.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import edfio
import numpy as np

from preflight.synth.spec import Corruption, Layout, SynthEvent

__all__ = [
    "EdfIdentity",
    "channel_labels",
    "corrupt_edf",
    "edf_size",
    "make_signals",
    "write_dense_edf",
    "write_sparse_edf",
]

PHYSICAL_RANGE = (-500.0, 500.0)  # µV, as wide as clinical TUSZ headers declare
_BYTES_PER_SAMPLE = 2
_RECORD_S = 1

_TEN_TWENTY = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ"  # + A1/A2 for TCP
_TUSZ = (*(f"EEG {name}-REF" for name in _TEN_TWENTY.split()), "EEG EKG1-REF", "PHOTIC PH")
_MORE_TUSZ = "ROC LOC EMG 26 27 28 29 30 T1 T2"  # further TUSZ electrodes (EMG-REF has no EEG)
_TUSZ_EXTRA = (
    *(f"EEG {name}-REF".replace("EEG EMG", "EMG") for name in _MORE_TUSZ.split()),
    "IBI",
    "BURSTS",
    "SUPPR",
)
# chb01's 23 bipolar channels (``T8-P8`` twice) with a ``-`` placeholder as in chb12.
_CHBMIT = tuple(
    [
        "FP1-F7",
        "F7-T7",
        "T7-P7",
        "P7-O1",
        "FP1-F3",
        "F3-C3",
        "C3-P3",
        "P3-O1",
        "FP2-F4",
        "F4-C4",
        "C4-P4",
        "P4-O2",
        "FP2-F8",
        "F8-T8",
        "T8-P8",
        "P8-O2",
        "FZ-CZ",
        "CZ-PZ",
        "P7-T7",
        "T7-FT9",
        "FT9-FT10",
        "FT10-T8",
        "-",
        "T8-P8",
    ]
)
_CHBMIT_EXTRA = ("ECG", "VNS", ".", "01")
_BIDS = tuple(
    [
        "Fp1",
        "F3",
        "C3",
        "P3",
        "O1",
        "F7",
        "T3",
        "T5",
        "Fz",
        "Cz",
        "Pz",
        "Fp2",
        "F4",
        "C4",
        "P4",
        "O2",
        "F8",
        "T4",
        "T6",
    ]
)
_BIDS_EXTRA = ("ECG", "EMG", "EOG1", "EOG2")
_FLAT = frozenset({"-", ".", "01", "IBI", "BURSTS", "SUPPR"})  # placeholders and status traces
_NOT_EEG = ("EKG", "ECG", "EMG", "PHOTIC", "VNS", "ROC", "LOC", "EOG", "EXT")


@dataclass(frozen=True)
class EdfIdentity:
    """What the EDF header says about whom and when (EDF+ style subfields, plain EDF file).

    Attributes:
        patient: the patient code (``aaaaaaab``, ``chb01``, ``sub-01``).
        recording: the recording code written as the hospital administration code (the key).
        start: wall-clock start.
    """

    patient: str
    recording: str
    start: datetime


# Per layout: default montage, further named channels, template and first number of the rest.
_MONTAGES = {
    Layout.TUSZ: (_TUSZ, _TUSZ_EXTRA, "EEG {}-REF", 31),
    Layout.CHBMIT: (_CHBMIT, _CHBMIT_EXTRA, "EXT{}", 1),
    Layout.BIDS: (_BIDS, _BIDS_EXTRA, "Ch{}", 24),
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def channel_labels(layout: Layout, n_channels: int | None) -> tuple[str, ...]:
    """The EDF signal labels of a layout: its default montage, cut or extended to ``n_channels``.

    Beyond the default come further real-looking names, then numbered ones (``EEG 31-REF``).
    """
    default, extra, template, first = _MONTAGES[layout]
    if n_channels is None:
        return default
    named = default + extra
    more = tuple(template.format(first + i) for i in range(n_channels - len(named)))
    return (named + more)[:n_channels]


def _kinds(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (EEG channels that carry seizures, flat placeholder channels)."""
    flat = np.array([label in _FLAT for label in labels])
    other = np.array([any(word in label for word in _NOT_EEG) for label in labels])
    return ~flat & ~other, flat


@functools.lru_cache(maxsize=16)
def _spectral_shape(n_samples: int, fs: int) -> np.ndarray:
    """Amplitude spectrum of the background: 1/sqrt(f) (pink), an alpha bump, no DC or > 70 Hz."""
    freqs = np.fft.rfftfreq(n_samples, 1.0 / fs)
    shape = 1.0 / np.sqrt(np.maximum(freqs, 0.5))
    shape *= 1.0 + 1.5 * np.exp(-(((freqs - 10.0) / 1.5) ** 2))
    shape[(freqs == 0) | (freqs > 70.0)] = 0.0
    return shape.astype(np.float32)


def _background(rng: np.random.Generator, n_channels: int, n_samples: int, fs: int) -> np.ndarray:
    """Unit-RMS pink-ish noise, (C, T) float32, drawn in the frequency domain (one irfft)."""
    n_freq = n_samples // 2 + 1
    spectrum = rng.standard_normal((n_channels, n_freq, 2), dtype=np.float32).view(np.complex64)
    spectrum = spectrum[..., 0] * _spectral_shape(n_samples, fs)  # (C, F)
    noise = np.fft.irfft(spectrum, n=n_samples, axis=1).astype(np.float32, copy=False)  # (C, T)
    noise /= np.maximum(noise.std(axis=1, keepdims=True), np.float32(1e-12))
    return noise


def _seizure_wave(
    rng: np.random.Generator, n_channels: int, fs: int, event: SynthEvent
) -> np.ndarray:
    """A slowing 3-5 Hz rhythm with harmonics (spike-and-wave-like), (C, L), peak about 1.75.

    Each channel gets its own delay (up to 0.2 s) and gain (0.6-1), so bipolar differences keep it;
    1 s ramps at both ends avoid steps.
    """
    length = round(event.stop * fs) - round(event.start * fs)
    seconds = event.stop - event.start
    tau = np.arange(length, dtype=np.float32) / np.float32(fs)  # (L,)
    delays = rng.uniform(0.0, 0.2, size=(n_channels, 1)).astype(np.float32)
    gains = rng.uniform(0.6, 1.0, size=(n_channels, 1)).astype(np.float32)
    base = rng.uniform(3.0, 5.0)
    t = tau[None, :] - delays  # (C, L)
    phase = np.float32(2 * np.pi * base) * (t - np.float32(0.1 / seconds) * t * t)
    wave = np.sin(phase) + 0.5 * np.sin(2 * phase + 0.4) + 0.25 * np.sin(3 * phase + 0.8)
    ramp = np.clip(np.minimum(tau, np.float32(seconds) - tau), 0.0, 1.0)  # (L,)
    return gains * wave * ramp


def make_signals(
    rng: np.random.Generator,
    labels: tuple[str, ...],
    fs: int,
    duration: int,
    events: tuple[SynthEvent, ...],
) -> np.ndarray:
    """The physical signals of one recording in µV, (C, T) float32, clipped to the EDF range.

    Args:
        rng: the recording's own generator.
        labels: channel labels (decide which channels are EEG, other or flat).
        fs: sampling rate (Hz).
        duration: seconds.
        events: seizures to draw; events with stop <= start are ignored.
    """
    n_samples = fs * duration
    eeg, flat = _kinds(labels)
    level = np.float32(rng.uniform(10.0, 20.0))  # background RMS, µV
    signals = _background(rng, len(labels), n_samples, fs) * level
    signals[flat] = 0.0
    for event in events:
        if event.stop > event.start and eeg.any():
            first = round(event.start * fs)
            amplitude = np.float32(rng.uniform(8.0, 10.0)) * level
            burst = _seizure_wave(rng, int(eeg.sum()), fs, event) * amplitude
            signals[eeg, first : first + burst.shape[1]] += burst
    low, high = PHYSICAL_RANGE
    return np.clip(signals, low, high, out=signals)


def _edf(signals: np.ndarray, fs: int, labels: tuple[str, ...], identity: EdfIdentity) -> edfio.Edf:
    edf_signals = [
        edfio.EdfSignal(
            row,
            sampling_frequency=fs,
            label=label,
            physical_dimension="uV",
            physical_range=PHYSICAL_RANGE,
        )
        for row, label in zip(signals, labels, strict=True)
    ]
    return edfio.Edf(
        edf_signals,
        patient=edfio.Patient(code=identity.patient),
        recording=edfio.Recording(
            startdate=identity.start.date(), hospital_administration_code=identity.recording
        ),
        starttime=identity.start.time(),
        data_record_duration=_RECORD_S,
    )


def write_dense_edf(
    path: Path, signals: np.ndarray, fs: int, labels: tuple[str, ...], identity: EdfIdentity
) -> None:
    """Write a plain EDF (16-bit, 1 s records) with edfio, which digitizes the µV signals."""
    _edf(signals, fs, labels, identity).write(path)


def edf_size(n_channels: int, fs: int, duration: int) -> tuple[int, int]:
    """(header bytes, data bytes) of an EDF with 1 s records of 16-bit samples."""
    header = 256 * (n_channels + 1)
    return header, duration * n_channels * fs * _BYTES_PER_SAMPLE


@functools.lru_cache(maxsize=64)
def _header_template(labels: tuple[str, ...], fs: int) -> bytes:
    """The header edfio writes for these signals (one record); identity fields get patched."""
    signals = np.zeros((len(labels), fs), dtype=np.float32)
    buffer = io.BytesIO()
    _edf(signals, fs, labels, EdfIdentity("X", "X", datetime(1985, 1, 1))).write(buffer)
    return buffer.getvalue()[: 256 * (len(labels) + 1)]


def sparse_header(labels: tuple[str, ...], fs: int, duration: int, identity: EdfIdentity) -> bytes:
    """The exact header edfio would write for this recording, without making its samples."""
    start = identity.start
    month = _MONTHS[start.month - 1]  # edfio's EDF+ date, independent of the locale
    fields = (
        f"{identity.patient} X X X".ljust(80)
        + f"Startdate {start.day:02d}-{month}-{start.year} {identity.recording} X X".ljust(80)
        + f"{start.day:02d}.{start.month:02d}.{start.year % 100:02d}"
        + f"{start.hour:02d}.{start.minute:02d}.{start.second:02d}"
    )
    header = bytearray(_header_template(labels, fs))
    header[8:184] = fields.encode("ascii")
    header[236:244] = str(duration // _RECORD_S).ljust(8).encode("ascii")
    return bytes(header)


def write_sparse_edf(
    path: Path, labels: tuple[str, ...], fs: int, duration: int, identity: EdfIdentity
) -> None:
    """Write the header and extend the file to the promised size with a hole (no data blocks)."""
    header = sparse_header(labels, fs, duration, identity)
    with path.open("wb") as file:
        file.write(header)
        file.truncate(sum(edf_size(len(labels), fs, duration)))


_NOT_EDF_TEXT = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    b"<body><h1>Not Found</h1><p>The requested file was not found.</p></body></html>\n"
)


def corrupt_edf(
    path: Path, corruption: Corruption, n_channels: int, fs: int, duration: int
) -> None:
    """Break a written EDF: cut it mid-record, or replace it with a web error page.

    Args:
        path: the EDF to break.
        corruption: ``TRUNCATED_EDF`` or ``NOT_EDF``; other kinds leave the EDF alone.
        n_channels: its signals.
        fs: its sampling rate.
        duration: its duration in seconds.
    """
    if corruption is Corruption.NOT_EDF:
        path.write_bytes(_NOT_EDF_TEXT)
    elif corruption is Corruption.TRUNCATED_EDF:
        header, data = edf_size(n_channels, fs, duration)
        record = data // duration
        with path.open("r+b") as file:
            file.truncate(header + record * (duration // 2) + record // 3)
