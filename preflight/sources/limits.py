"""Plausibility limits: no single input file may take the machine or fake a corpus.

A header is believed only within these bounds. An EDF whose record duration is 99,999,999 s
would be cut into billions of windows (out of memory); one whose rate is 0.00256 Hz passes for
14,309 hours of EEG; a ``# duration = 1e300`` cannot be converted to a window count at all; and a
200 MB annotation file takes a minute and gigabytes to parse. Each is rejected, naming the
value and the limit, before any window exists. The limits are the ``audit.limits`` section of a
config; each can be moved within sane bounds (a rate limit of 1 mHz to 10 MHz, recordings of up
to a year, annotation files of up to 1 GB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from preflight.errors import Reason

__all__ = ["ScanLimits", "check_annotation_size", "check_duration", "check_rates"]

_MB = 1024 * 1024


class ScanLimits(BaseModel):
    """What a header or annotation file may claim before it is rejected as implausible."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Per EEG signal: slower than this is not EEG (a record duration of hours, a typo'd header).
    min_sampling_rate_hz: float = Field(default=1.0, ge=0.001, le=1_000.0)
    # Per EEG signal: faster than this is not EEG either (100 kHz covers any EEG amplifier).
    max_sampling_rate_hz: float = Field(default=100_000.0, ge=1.0, le=10_000_000.0)
    # Longest recording believed (7 days): past it, windows would number in the millions per
    # file, and a header or `# duration` saying so is far likelier wrong than right.
    max_recording_hours: float = Field(default=168.0, gt=0, le=24 * 366)
    # Largest annotation file read (16 MB: about 500,000 TUSZ rows; real ones hold kilobytes).
    # Checked from the file's size before it is opened, so a huge file costs nothing.
    max_annotation_mb: float = Field(default=16.0, gt=0, le=1024)

    @model_validator(mode="after")
    def _ordered(self) -> ScanLimits:
        if self.min_sampling_rate_hz > self.max_sampling_rate_hz:
            raise ValueError(
                f"min_sampling_rate_hz {self.min_sampling_rate_hz:g} > "
                f"max_sampling_rate_hz {self.max_sampling_rate_hz:g}"
            )
        return self


def check_rates(rates: Sequence[float], limits: ScanLimits) -> tuple[Reason, str] | None:
    """``implausible_header`` when an EEG signal's rate is outside the limits, else None."""
    for rate in rates:
        if not math.isfinite(rate) or not (
            limits.min_sampling_rate_hz <= rate <= limits.max_sampling_rate_hz
        ):
            return Reason.IMPLAUSIBLE_HEADER, (
                f"sampling rate {rate:g} Hz is outside {limits.min_sampling_rate_hz:g} to "
                f"{limits.max_sampling_rate_hz:g} Hz (audit.limits.min_sampling_rate_hz / "
                "max_sampling_rate_hz)"
            )
    return None


def check_duration(duration_s: float, limits: ScanLimits, what: str) -> tuple[Reason, str] | None:
    """``implausible_duration`` when ``duration_s`` is not finite or past the limit, else None.

    Args:
        duration_s: the duration claimed.
        limits: the limits.
        what: who claims it, for the message (``header says``, ``# duration says``).
    """
    if math.isfinite(duration_s) and duration_s <= limits.max_recording_hours * 3600:
        return None
    return Reason.IMPLAUSIBLE_DURATION, (
        f"{what} {duration_s:g} s ({_human(duration_s)}), longer than the "
        f"{limits.max_recording_hours:g} h a recording may last (audit.limits.max_recording_hours)"
    )


def check_annotation_size(size: int, limits: ScanLimits) -> tuple[Reason, str] | None:
    """``too_large`` for an annotation file past ``max_annotation_mb``, else None."""
    if size <= limits.max_annotation_mb * _MB:
        return None
    return Reason.TOO_LARGE, (
        f"annotation file of {size / _MB:.1f} MB is larger than the {limits.max_annotation_mb:g} "
        "MB limit (audit.limits.max_annotation_mb); not read"
    )


def _human(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "not a finite number"
    hours = seconds / 3600
    return f"{hours / 24:.3g} days" if hours >= 48 else f"{hours:.3g} h"
