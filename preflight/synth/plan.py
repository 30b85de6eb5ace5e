"""Plan a synthetic corpus: who, when, how long, where the seizures are, which defects go where.

The plan is pure (no I/O) and drawn from one seeded generator, so the same spec gives the same plan.
Layout-specific names and paths are given later (``synth_layouts``); a ``Slot`` only holds numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from preflight.synth.spec import (
    SEIZURE_MARGIN_S,
    Corruption,
    Defect,
    Layout,
    SynthEvent,
    SynthSpec,
)

__all__ = ["Slot", "plan"]

# Seizure types drawn for the formats that carry one (TUSZ `.csv`, BIDS `eventType`).
_TUSZ_TYPES = ("fnsz", "gnsz", "cpsz", "absz", "tnsz", "spsz")
_BIDS_TYPES = ("sz", "sz_foc_ia", "sz_foc_a_m", "sz_gen_m_tonicClonic", "sz_gen_nm_typical")
UNKNOWN_LABEL = "not_a_label"
_EPOCH = datetime(2010, 1, 1)


@dataclass(frozen=True)
class Slot:
    """One planned recording, before it has layout names.

    Attributes:
        ordinal: position in writing order; seeds the recording's signal.
        split: ``train``/``dev``/``eval`` for TUSZ, None otherwise.
        patient: index of the patient id.
        session: 0-based session (TUSZ folders); 0 for the other layouts.
        token: 0-based recording number within the session (TUSZ) or patient (others).
        start: wall-clock start.
        duration: whole seconds.
        fs: sampling rate (Hz).
        events: planned seizures (or the planted bad event).
        background: TUSZ ``.csv_bi`` background style, None for other layouts.
        defect: the planted defect this recording carries.
        corruption: which broken input, for ``corrupt_files``.
        source: ordinal of the recording whose EDF bytes this one copies.
    """

    ordinal: int
    split: str | None
    patient: int
    session: int
    token: int
    start: datetime
    duration: int
    fs: int
    events: tuple[SynthEvent, ...]
    background: str | None
    defect: Defect | None = None
    corruption: Corruption | None = None
    source: int | None = None

    @property
    def end(self) -> datetime:
        """Wall-clock end."""
        return self.start + timedelta(seconds=self.duration)


def plan(spec: SynthSpec) -> list[Slot]:
    """Plan every recording of the corpus, defects included, in writing order.

    Args:
        spec: the corpus spec.

    Returns:
        The slots; ``ordinal`` equals the list index.
    """
    rng = np.random.default_rng([spec.seed, 0])
    slots: list[Slot] = []
    timelines: dict[int, list[Slot]] = {}  # each patient's slots so far (only timing is read)
    next_patient = 0
    for split, count in spec.split_patients.items():
        group: list[Slot] = []
        for index in range(count):
            # patient_leak: dev's first patient is train's first, in sessions of its own.
            leak = Defect.PATIENT_LEAK in spec.defects and split == "dev" and index == 0
            patient = 0 if leak else next_patient
            next_patient += 0 if leak else 1
            timeline = timelines.setdefault(patient, [])
            for number in range(spec.recordings_per_patient):
                ordinal = len(slots) + len(group)
                slot = _next_slot(
                    spec, rng, timeline, ordinal, split, patient, leak and number == 0
                )
                slot = replace(slot, defect=Defect.PATIENT_LEAK) if leak else slot
                timeline.append(slot)
                group.append(slot)
        slots += _with_seizures(spec, rng, group, split)
    if Defect.DUPLICATE_RECORDING in spec.defects:
        slots.append(_duplicate(spec, slots))
    if Defect.CORRUPT_FILES in spec.defects:
        slots += _corrupt(spec, rng, slots)
    return slots


def patient_count(slots: list[Slot]) -> int:
    """Number of distinct patient indices (ids are drawn for 0 .. count - 1)."""
    return max(slot.patient for slot in slots) + 1


def _next_slot(
    spec: SynthSpec,
    rng: np.random.Generator,
    mine: list[Slot],
    ordinal: int,
    split: str | None,
    patient: int,
    new_session: bool = False,
) -> Slot:
    """The next recording of the patient whose earlier slots are ``mine``, continuing its timeline.

    TUSZ holds up to two recordings per session folder and starts a new session when asked; the
    other layouts keep one session and number recordings on.
    """
    fs = spec.sampling_rates[int(rng.integers(len(spec.sampling_rates)))]
    if spec.layout is Layout.CHBMIT and mine:
        fs = mine[0].fs  # one rate per CHB-MIT patient: the summary declares it once
    duration = int(rng.integers(spec.min_duration_s, spec.max_duration_s + 1))
    if not mine:
        start = _EPOCH + timedelta(days=int(rng.integers(3650)), seconds=int(rng.integers(86400)))
        return Slot(ordinal, split, patient, 0, 0, start, duration, fs, (), None)
    last = mine[-1]
    tusz = spec.layout is Layout.TUSZ
    if tusz and (new_session or last.token + 1 >= 2):
        gap = timedelta(days=int(rng.integers(1, 90)), seconds=int(rng.integers(86400)))
        session, token = max(slot.session for slot in mine) + 1, 0
    else:
        gap = timedelta(seconds=int(rng.integers(3, 120)))
        session, token = last.session, last.token + 1
    start = max(slot.end for slot in mine) + gap
    return Slot(ordinal, split, patient, session, token, start, duration, fs, (), None)


def _with_seizures(
    spec: SynthSpec, rng: np.random.Generator, group: list[Slot], split: str | None
) -> list[Slot]:
    """Make a share of the group positive (at least one when seizures are allowed)."""
    allowed = (
        spec.seizure_rate > 0
        and Defect.ONE_CLASS not in spec.defects
        and not (Defect.NO_DEV_POSITIVES in spec.defects and split == "dev")
    )
    count = min(len(group), max(1, int(spec.seizure_rate * len(group) + 0.5))) if allowed else 0
    positive = set(rng.choice(len(group), size=count, replace=False).tolist())
    planned = []
    for index, slot in enumerate(group):
        events = _seizures(spec, rng, slot.duration) if index in positive else ()
        planned.append(replace(slot, events=events, background=_background(spec, rng, events)))
    return planned


def _seizures(spec: SynthSpec, rng: np.random.Generator, duration: int) -> tuple[SynthEvent, ...]:
    """Non-overlapping seizures on the layout's time grid, one per equal share of the recording.

    Times are whole multiples of the grid (0.25 s, or 1 s for CHB-MIT's whole-second summaries),
    so every format's decimals (4 for TUSZ, 2 for BIDS) write them exactly.
    """
    grid = 1.0 if spec.layout is Layout.CHBMIT else 0.25
    per_second = round(1 / grid)
    low, high = spec.seizures_per_recording
    count = int(rng.integers(low, high + 1))
    short = math.ceil(spec.seizure_duration_s[0] * per_second)
    long = max(short, math.floor(spec.seizure_duration_s[1] * per_second))
    margin = SEIZURE_MARGIN_S * per_second
    bounds = [duration * per_second * i // count for i in range(count + 1)]
    events = []
    for i in range(count):
        length = int(rng.integers(short, long + 1))
        earliest, latest = bounds[i] + margin, bounds[i + 1] - margin - length
        begin = earliest + int(rng.integers(latest - earliest + 1))
        events.append(SynthEvent(begin * grid, (begin + length) * grid, _label(spec, rng)))
    return tuple(events)


def _label(spec: SynthSpec, rng: np.random.Generator) -> str:
    if spec.layout is Layout.TUSZ:
        return _TUSZ_TYPES[int(rng.integers(len(_TUSZ_TYPES)))]
    if spec.layout is Layout.BIDS:
        return _BIDS_TYPES[int(rng.integers(len(_BIDS_TYPES)))]
    return "seiz"


def _background(
    spec: SynthSpec, rng: np.random.Generator, events: tuple[SynthEvent, ...]
) -> str | None:
    """TUSZ writes background three ways; draw one (other layouts have a single convention)."""
    if spec.layout is not Layout.TUSZ:
        return None
    if events:
        return "interleaved" if rng.random() < 0.3 else "implicit"
    return "explicit" if rng.random() < 0.7 else "implicit"


def _duplicate(spec: SynthSpec, slots: list[Slot]) -> Slot:
    """Copy a recording of the first group into the last patient of dev (or of the corpus).

    The copy is positive unless the spec forbids seizures where it lands.
    """
    host = max(
        slot.patient for slot in slots if spec.layout is not Layout.TUSZ or slot.split == "dev"
    )
    want_positive = not ({Defect.ONE_CLASS, Defect.NO_DEV_POSITIVES} & spec.defects)
    group = [s for s in slots if s.split == slots[0].split]
    first = [s for s in group if s.patient != host] or group
    source = next((s for s in first if bool(s.events) == want_positive), first[0])
    mine = [slot for slot in slots if slot.patient == host]
    last = mine[-1]
    session, token = (last.session + 1, 0) if spec.layout is Layout.TUSZ else (0, last.token + 1)
    return replace(
        source,
        ordinal=len(slots),
        split=last.split,
        patient=host,
        session=session,
        token=token,
        defect=Defect.DUPLICATE_RECORDING,
        source=source.ordinal,
    )


def _corrupt(spec: SynthSpec, rng: np.random.Generator, slots: list[Slot]) -> list[Slot]:
    """One broken recording per corruption kind, added to the first patient (a new TUSZ session).

    CHB-MIT summaries carry no labels, so that layout has no ``unknown_label`` file.
    """
    kinds = [
        c
        for c in Corruption
        if not (spec.layout is Layout.CHBMIT and c is Corruption.UNKNOWN_LABEL)
    ]
    mine = [slot for slot in slots if slot.patient == 0]
    added: list[Slot] = []
    for kind in kinds:
        ordinal = len(slots) + len(added)
        base = _next_slot(spec, rng, mine + added, ordinal, slots[0].split, 0, not added)
        if spec.layout is Layout.TUSZ and added:
            base = replace(base, session=added[0].session, token=len(added))
        events: tuple[SynthEvent, ...] = ()
        if kind is Corruption.BAD_INTERVAL:
            events = (SynthEvent(40.0, 12.0, _label(spec, rng)),)
        elif kind is Corruption.UNKNOWN_LABEL:
            events = (SynthEvent(20.0, 50.0, UNKNOWN_LABEL),)
        background = (
            None if spec.layout is not Layout.TUSZ else "implicit" if events else "explicit"
        )
        added.append(
            replace(
                base,
                events=events,
                background=background,
                defect=Defect.CORRUPT_FILES,
                corruption=kind,
            )
        )
    return added
