"""Channel selection and renaming to a configured montage, decided from channel names alone.

A ``Montage`` names the channels a model sees: electrodes of the 10-20 system (referential, the
default: 19 channels) or bipolar pairs such as the 22 of the TCP montage. ``plan_channels`` maps
a recording's EDF labels onto it and returns a ``ChannelPlan``: which EDF signals to read and
the +1/-1 weights that turn them into the montage's channels. Matching rules:

* labels are compared case-insensitively after dropping an ``EEG`` prefix and a reference suffix
  (``-REF``, ``-LE``, ``-AR``, ``-AVG``): ``EEG FP1-REF``, ``EEG FP1-LE``, ``EEG Fp1``, ``Fp1`` and
  ``FP1`` all name electrode FP1;
* the modern names T7, T8, P7, P8 are the 10-20 names T3, T4, T5, T6;
* any other label holding one ``-`` is a bipolar pair (CHB-MIT ``FP1-F7``, ``T8-P8``);
* a referential channel is read directly; a bipolar channel is read directly when the recording
  has that pair (its reverse counts, negated), else computed as the difference of two
  referential channels (``FP1-F7`` = FP1 minus F7); the first of duplicated labels is used.

A recording lacking a required channel is rejected, naming the channels it lacks.
``check_recordings`` does this for every accepted recording of a manifest without opening an EDF.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from preflight.errors import Reason, RecordingError, UsageError
from preflight.manifest import recordings
from preflight.manifest.store import Manifest

__all__ = [
    "CHBMIT_TCP_PAIRS",
    "MISSING_CHANNELS",
    "STANDARD_1020",
    "TCP_PAIRS",
    "ChannelPlan",
    "Montage",
    "MontageCheck",
    "MontageKind",
    "RejectedRecording",
    "check_recordings",
    "plan_channels",
]

# The reason code of a recording that lacks montage channels. errors.Reason has no dedicated code
# yet (``missing_channels`` is proposed); this is the one place to change when it lands.
MISSING_CHANNELS = Reason.MISSING_CHANNELS

# fmt: off
# The 19-channel 10-20 set, in the order of the rows of x.
STANDARD_1020 = (
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ",
    "C4", "T4", "T5", "P3", "PZ", "P4", "T6", "O1", "O2",
)
# The 22 pairs of TUSZ's temporal central parasagittal (TCP) montage.
TCP_PAIRS = (
    "FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2",
    "A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)
# fmt: on
# The 16 TCP pairs a CHB-MIT recording holds as channels (no A1/A2, no T3-C3-CZ-C4-T4 chain).
CHBMIT_TCP_PAIRS = tuple(
    p for p in TCP_PAIRS if p not in {"A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2"}
)

_ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
_PREFIX = re.compile(r"^EEG\s+")
_REFERENCE = re.compile(r"-(REF|LE|AR|AVG)$")


class MontageKind(StrEnum):
    """What a montage channel is: one electrode, or the difference of two."""

    REFERENTIAL = "referential"
    BIPOLAR = "bipolar"


@dataclass(frozen=True)
class Montage:
    """The channels of ``x``, in order. Build with ``referential()``, ``tcp()`` or ``bipolar()``.

    Attributes:
        kind: referential electrodes or bipolar pairs.
        channels: canonical names (``FP1``; ``FP1-F7``), 10-20 spelling (T3 not T7), upper case.
        name: a short label for reports and the cache sidecar.
    """

    kind: MontageKind
    channels: tuple[str, ...]
    name: str

    @classmethod
    def referential(cls, electrodes: Sequence[str] = STANDARD_1020) -> Montage:
        """Referential electrodes; the default is the 19-channel 10-20 set."""
        names = tuple(_electrode(e) for e in electrodes)
        _check_names(names)
        return cls(MontageKind.REFERENTIAL, names, "10-20" if names == STANDARD_1020 else "custom")

    @classmethod
    def tcp(cls) -> Montage:
        """The 22 TCP bipolar pairs (``FP1-F7`` ... ``P4-O2``)."""
        return cls.bipolar(TCP_PAIRS)

    @classmethod
    def bipolar(cls, pairs: Sequence[str]) -> Montage:
        """Bipolar pairs written ``A-B`` (e.g. ``CHBMIT_TCP_PAIRS`` for a CHB-MIT corpus)."""
        parsed = []
        for pair in pairs:
            parts = _parse(pair)
            if not isinstance(parts, tuple):
                raise UsageError(f"bipolar channel {pair!r} is not written as 'A-B'")
            parsed.append(f"{parts[0]}-{parts[1]}")
        names = tuple(parsed)
        _check_names(names)
        label = {TCP_PAIRS: "tcp", CHBMIT_TCP_PAIRS: "tcp-chbmit"}.get(names, "bipolar")
        return cls(MontageKind.BIPOLAR, names, label)

    def describe(self) -> dict[str, object]:
        """JSON-ready parameters (part of the cache key)."""
        return {"kind": str(self.kind), "name": self.name, "channels": list(self.channels)}


@dataclass(frozen=True)
class ChannelPlan:
    """How to compute a montage's channels from one recording's EDF signals.

    Attributes:
        channels: the montage's channel names (rows of ``x``).
        sources: indices of the EDF signals to read, ascending (signal order in the EDF header,
            annotation signals excluded, as in ``recordings.channels``).
        plus: per montage channel, the position in ``sources`` added, or -1.
        minus: per montage channel, the position in ``sources`` subtracted, or -1.
    """

    channels: tuple[str, ...]
    sources: tuple[int, ...]
    plus: tuple[int, ...]
    minus: tuple[int, ...]

    def matrix(self) -> np.ndarray:
        """The weights, float64 (C_out, n_sources): ``x = matrix @ signals[sources]``."""
        weights = np.zeros((len(self.channels), len(self.sources)))
        rows = np.arange(len(self.channels))
        plus, minus = np.asarray(self.plus), np.asarray(self.minus)
        weights[rows[plus >= 0], plus[plus >= 0]] = 1.0
        weights[rows[minus >= 0], minus[minus >= 0]] -= 1.0
        return weights


@dataclass(frozen=True)
class RejectedRecording:
    """A recording that cannot be served in a montage (or, from the cache, cannot be read).

    Attributes:
        rec_idx: ``recordings.rec_idx``.
        path: the EDF, relative to the data root.
        reason: the reason code.
        message: what is wrong, naming the channels.
        missing: the montage channels the recording lacks (empty for other problems).
    """

    rec_idx: int
    path: str
    reason: Reason
    message: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class MontageCheck:
    """Which recordings a montage can serve.

    Attributes:
        montage: the montage checked.
        usable: rec_idx -> channel plan, for every recording that has all the channels.
        rejected: the others, with the channels they lack.
    """

    montage: Montage
    usable: dict[int, ChannelPlan]
    rejected: list[RejectedRecording]


def plan_channels(
    labels: Sequence[str], montage: Montage, *, path: str | None = None
) -> ChannelPlan:
    """Map a recording's EDF signal labels onto ``montage``.

    Args:
        labels: the EDF signal labels in file order (``recordings.channels``).
        montage: the channels wanted.
        path: the recording, for the error message.

    Returns:
        The plan: signals to read and how to combine them.

    Raises:
        RecordingError: reason ``MISSING_CHANNELS``; the message names the missing channels.
    """
    plan, missing = _resolve(labels, montage)
    if plan is None:
        message = _missing_message(labels, montage, missing)
        raise RecordingError(message, reason=MISSING_CHANNELS, path=path)
    return plan


def check_recordings(
    manifest: Manifest, montage: Montage, splits: Sequence[str] | None = None
) -> MontageCheck:
    """Check every accepted recording's channel list (from the manifest; no EDF is opened).

    Args:
        manifest: an audited manifest; its ``recordings`` table holds the accepted recordings.
        montage: the channels wanted.
        splits: only these splits (default: all).

    Returns:
        The usable recordings with their plans, and the rejected ones with the channels missing.
        A recording without an EDF (labels-only audit) is rejected as ``missing_recording``.
    """
    rows = recordings.recording_channels(manifest, splits)
    usable: dict[int, ChannelPlan] = {}
    rejected: list[RejectedRecording] = []
    for rec_idx, path, labels, recording_id in rows:
        if path is None or labels is None:
            message = "no EDF recording (labels-only audit): nothing to read"
            rejected.append(
                RejectedRecording(rec_idx, recording_id, Reason.MISSING_RECORDING, message)
            )
            continue
        plan, missing = _resolve(labels, montage)
        if plan is None:
            message = _missing_message(labels, montage, missing)
            rejected.append(RejectedRecording(rec_idx, path, MISSING_CHANNELS, message, missing))
        else:
            usable[rec_idx] = plan
    return MontageCheck(montage, usable, rejected)


def _resolve(labels: Sequence[str], montage: Montage) -> tuple[ChannelPlan | None, tuple[str, ...]]:
    """The plan, or None and the montage channels that cannot be made."""
    electrodes: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for i, label in enumerate(labels):
        parsed = _parse(label)
        if isinstance(parsed, str):
            electrodes.setdefault(parsed, i)
        elif parsed is not None:
            pairs.setdefault(parsed, i)
    terms: list[tuple[int, int]] = []  # (EDF index added, EDF index subtracted), -1 for none
    missing: list[str] = []
    for channel in montage.channels:
        term = _term(channel, montage.kind, electrodes, pairs)
        if term is None:
            missing.append(channel)
        else:
            terms.append(term)
    if missing:
        return None, tuple(missing)
    sources = tuple(sorted({i for term in terms for i in term if i >= 0}))
    position = {index: k for k, index in enumerate(sources)}
    plus = tuple(position.get(a, -1) for a, _ in terms)
    minus = tuple(position.get(b, -1) for _, b in terms)
    return ChannelPlan(montage.channels, sources, plus, minus), ()


def _term(
    channel: str,
    kind: MontageKind,
    electrodes: dict[str, int],
    pairs: dict[tuple[str, str], int],
) -> tuple[int, int] | None:
    """(added, subtracted) EDF indices that make ``channel``, or None."""
    if kind is MontageKind.REFERENTIAL:
        return (electrodes[channel], -1) if channel in electrodes else None
    a, b = channel.split("-")
    if (a, b) in pairs:
        return pairs[(a, b)], -1
    if a in electrodes and b in electrodes:
        return electrodes[a], electrodes[b]
    if (b, a) in pairs:
        return -1, pairs[(b, a)]
    return None


def _parse(label: str) -> str | tuple[str, str] | None:
    """An electrode name, a bipolar pair, or None for a label that is neither."""
    name = _REFERENCE.sub("", _PREFIX.sub("", label.strip().upper())).strip()
    if name.count("-") == 1:
        a, b = (part.strip() for part in name.split("-"))
        return (_ALIASES.get(a, a), _ALIASES.get(b, b)) if a and b else None
    if not name or "-" in name or " " in name:
        return None
    return _ALIASES.get(name, name)


def _electrode(name: str) -> str:
    parsed = _parse(name)
    if not isinstance(parsed, str):
        raise UsageError(f"referential channel {name!r} is not an electrode name")
    return parsed


def _check_names(names: tuple[str, ...]) -> None:
    if not names:
        raise UsageError("a montage needs at least one channel")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"montage channel(s) listed twice: {', '.join(repeated)}")


def _missing_message(labels: Sequence[str], montage: Montage, missing: tuple[str, ...]) -> str:
    has = ", ".join(labels) or "none"
    text = (
        f"lacks {len(missing)} of the {len(montage.channels)} {montage.name} montage channels: "
        f"{', '.join(missing)} (has: {has})"
    )
    bipolar_only = all(isinstance(_parse(label), tuple | type(None)) for label in labels)
    if montage.kind is MontageKind.REFERENTIAL and bipolar_only and labels:
        text += "; the recording is bipolar: choose a bipolar montage (Montage.bipolar)"
    return text
