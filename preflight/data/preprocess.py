"""What the cache does to one recording: montage, filters, resampling, robust z-scoring.

``Preprocessing`` holds the parameters (all of them part of the cache key); ``read_signals`` reads
a recording's EDF signals through MNE; ``preprocess`` applies the montage, a notch and a band-pass
filter at the recording's own rate and resamples (polyphase) to the target rate; ``standardize``
z-scores each channel with robust statistics of the whole recording and casts to the storage type.

Why robust z-scored storage: the dataset's default normalization is then free at read time (a
window costs one copy out of the page cache), and float16 storage keeps the same relative
precision on every channel whatever its gain. Median and 1.4826 x the median absolute deviation
(the standard deviation, for Gaussian noise) barely move when a seizure fills a fifth of a
recording, so the background of every recording has about unit scale and seizures stand out.

MNE is imported inside the functions that need it: reading the cache never imports it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from preflight.data.montage import ChannelPlan, Montage
from preflight.errors import UsageError

__all__ = [
    "CACHE_VERSION",
    "FLAT_UV",
    "CacheDtype",
    "Preprocessing",
    "Standardized",
    "mne_version",
    "preprocess",
    "read_signals",
    "standardize",
]

CACHE_VERSION = 1  # bump when the code changes what an entry holds (it is part of the key)
FLAT_UV = 0.1  # a channel whose robust scale is below this (µV) is flat: centred, not scaled
_MAD_TO_STD = 1.4826  # 1 / Phi^-1(3/4): MAD x this estimates the std of Gaussian noise
_F16_MAX = float(np.finfo(np.float16).max)


class CacheDtype(StrEnum):
    """Storage type of the cached (z-scored) samples; items are float32 either way.

    Measured (benchmarks/bench_cache.py, and an A/B of batch reads): windows come out equally
    fast from both, since a float16 window reads half the bytes but is converted on the way.
    float32 is the default: exact, and a batch is then a plain copy of the page cache.
    float16 halves disk and page cache (TUSZ train, 19 channels at 256 Hz: 64 GB -> 32 GB), for
    a corpus that would not stay in memory otherwise; its 11-bit mantissa keeps 0.05 % of each
    z-value, about the EDF's own 16-bit quantization. z-values beyond +-65504 (only a near-flat
    channel with huge artifacts) saturate; the sidecar counts them.
    """

    FLOAT32 = "float32"
    FLOAT16 = "float16"


@dataclass(frozen=True)
class Preprocessing:
    """What the cache does to a recording; every field is part of the cache key.

    Raises:
        UsageError: a rate or filter edge out of range.
    """

    # The channels of x: the 19-channel 10-20 set by default, TCP pairs as an option.
    montage: Montage = field(default_factory=Montage.referential)
    # Target sampling rate (Hz); window length x rate must be whole samples.
    rate: float = 256.0
    # Band-pass edges (Hz), None to skip that side; 0.5 Hz removes drift, 70 Hz keeps gamma.
    l_freq: float | None = 0.5
    h_freq: float | None = 70.0
    # Mains notch frequencies (Hz): 60 for US corpora (TUSZ, CHB-MIT), 50 for Europe (Siena).
    notch: tuple[float, ...] = (60.0,)
    # Storage: float32 (exact) or float16 (half the bytes, for corpora larger than memory).
    dtype: CacheDtype = CacheDtype.FLOAT32

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", CacheDtype(self.dtype))
        object.__setattr__(self, "notch", tuple(float(f) for f in self.notch))
        if not self.rate > 0:
            raise UsageError(f"target rate {self.rate} Hz must be > 0")
        nyquist = self.rate / 2
        for name, edge in (("l_freq", self.l_freq), ("h_freq", self.h_freq)):
            if edge is not None and not 0 < edge < nyquist:
                raise UsageError(f"{name} {edge} Hz must be in (0, {nyquist:g}) at {self.rate} Hz")
        if self.l_freq is not None and self.h_freq is not None and self.l_freq >= self.h_freq:
            raise UsageError(f"band-pass {self.l_freq}-{self.h_freq} Hz is empty")
        if any(not f > 0 for f in self.notch):
            raise UsageError(f"notch frequencies {self.notch} must be > 0 Hz")

    def describe(self) -> dict[str, Any]:
        """JSON-ready parameters, with the cache version and units."""
        return {
            "montage": self.montage.describe(),
            "rate": float(self.rate),
            "l_freq": self.l_freq,
            "h_freq": self.h_freq,
            "notch": list(self.notch),
            "dtype": str(self.dtype),
            "storage": "per-channel robust z-score over the recording (median, 1.4826 MAD)",
            "cache_version": CACHE_VERSION,
        }

    @property
    def key(self) -> str:
        """16 hex characters of a hash of ``describe()``."""
        text = json.dumps(self.describe(), sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Standardized:
    """A recording ready to store.

    Attributes:
        samples: [C, N] in the storage type, robustly z-scored per channel.
        center: float64 (C,) per-channel median (µV).
        scale: float64 (C,) 1.4826 x median absolute deviation (µV), 1 for a flat channel;
            µV = samples x scale + center.
        clipped: float16 samples saturated at +-65504 (a near-flat channel with huge artifacts).
    """

    samples: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    clipped: int


def read_signals(path: str, sources: tuple[int, ...], n_labels: int) -> tuple[np.ndarray, float]:
    """Read EDF signals through MNE.

    Args:
        path: the EDF.
        sources: indices of the signals to read (``ChannelPlan.sources``).
        n_labels: how many signals the manifest lists (annotation signals excluded).

    Returns:
        float64 [S, N] in µV, and the rate (MNE brings uneven rates up to the highest).

    Raises:
        ValueError: the file holds another number of signals than the manifest lists. MNE's
            own errors pass through; the cache build turns every one into a rejection.
    """
    import mne

    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    if len(raw.ch_names) != n_labels:
        raise ValueError(f"{len(raw.ch_names)} signals, the manifest lists {n_labels}")
    signals = raw.get_data(picks=list(sources)) * 1e6  # (S, N) V -> µV
    return signals, float(raw.info["sfreq"])


def preprocess(
    signals: np.ndarray, sfreq: float, plan: ChannelPlan, params: Preprocessing
) -> tuple[np.ndarray, dict[str, Any]]:
    """Montage, notch, band-pass and resample one recording's signals (MNE filter functions).

    Filters run at the recording's own rate, before resampling; a notch or low-pass edge at or
    above that rate's Nyquist frequency is skipped (the resampler's anti-aliasing covers it).

    Args:
        signals: float64 [S, N] in µV, the EDF signals ``plan.sources`` in order.
        sfreq: their sampling rate (Hz).
        plan: how to combine them into the montage.
        params: filters and target rate.

    Returns:
        float64 [C, N'] at ``params.rate``, and the filters actually applied.
    """
    import mne  # here only: reading the cache never imports MNE

    x = plan.matrix() @ signals  # (C, N)
    nyquist = sfreq / 2
    notch = [f for f in params.notch if f < nyquist]
    h_freq = params.h_freq if params.h_freq is not None and params.h_freq < nyquist else None
    if notch:
        x = mne.filter.notch_filter(x, sfreq, notch, verbose="error")
    if params.l_freq is not None or h_freq is not None:
        x = mne.filter.filter_data(x, sfreq, params.l_freq, h_freq, verbose="error")
    if sfreq != params.rate:
        x = mne.filter.resample(x, up=params.rate, down=sfreq, method="polyphase", verbose="error")
    applied = {"notch": notch, "l_freq": params.l_freq, "h_freq": h_freq, "source_rate": sfreq}
    return x, applied


def standardize(x: np.ndarray, dtype: CacheDtype) -> Standardized:
    """Robust z-score of each channel of ``x`` (C, N) µV, cast to ``dtype``."""
    center = np.median(x, axis=1)  # (C,)
    scale = _MAD_TO_STD * np.median(np.abs(x - center[:, None]), axis=1)  # (C,)
    scale = np.where(scale < FLAT_UV, 1.0, scale)
    z = (x - center[:, None]) / scale[:, None]  # (C, N)
    clipped = 0
    if dtype is CacheDtype.FLOAT16:
        clipped = int(np.count_nonzero(np.abs(z) > _F16_MAX))
        np.clip(z, -_F16_MAX, _F16_MAX, out=z)
    return Standardized(z.astype(dtype), center, scale, clipped)


def mne_version() -> str:
    """The MNE version, for the sidecar's provenance."""
    import mne

    return str(mne.__version__)
