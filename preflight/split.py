"""Splits: keep the corpus's own, or build one that is patient-grouped and stratified.

``build_split`` writes ``recordings.split`` and the provenance (``split_method``, ``split_seed``,
``split_ratios``) into the manifest. Scanning resets ``split`` to ``declared_split`` whenever it
rebuilds the derived tables, so call ``build_split`` after every scan.

The stratified split deals whole *units* to splits: a unit is a patient, or several patients
that share a recording (the same content hash under two patient codes), so no patient and no
recording ever lands in two splits. It works in two passes:

1. **Positive units** (at least one seizure), largest first by positive windows, each to the
   split whose mean fill of its targets is lowest. The targets are the split's ratio times the
   corpus's positive units, seizure events and positive windows, so each split receives its
   share of all three. A split that has received nothing has fill 0 and is therefore chosen
   before any other: when there are at least as many positive units as splits, every split gets
   one (and positive windows, when that many units have any).
2. **Negative units**, largest first by hours, each to the split furthest below its share of
   the corpus's hours (counting the hours the positive units brought).

Ties in fill go to the larger ratio, then to the order train, dev, eval, test. So with fewer
positive units than splits, train receives the first (largest) one, then dev, then eval: a
model cannot learn without positives, and the gate then names the evaluation split left empty.
The seed shuffles units whose sizes are within a factor of two of each other (same power-of-two
bucket), so different seeds give different splits of similar balance; the same seed gives the
same split on any machine (the shuffle hashes the seed with each unit's first patient code).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from preflight.config import (
    DEFAULT_RATIOS,
    SPLIT_NAMES,
    SplitMethod,
    check_ratios,
    parse_ratios,
)
from preflight.errors import ManifestError, UsageError
from preflight.manifest import queries, splits
from preflight.manifest.queries import SplitStats
from preflight.manifest.store import Manifest

__all__ = [
    "DEFAULT_RATIOS",
    "SPLIT_NAMES",
    "SplitMethod",
    "SplitSummary",
    "build_split",
    "check_ratios",
    "parse_ratios",
]

if TYPE_CHECKING:  # NumPy loads in the stratified split only: the declared one needs none
    import numpy as np
    import numpy.typing as npt

    _Floats = npt.NDArray[np.float64]
    _Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SplitSummary:
    """What ``build_split`` did.

    Attributes:
        method: the split method used.
        seed: the seed of a stratified split (None for the declared split).
        ratios: the target ratios of a stratified split (None for the declared split).
        stats: per-split statistics after the split, in report order.
        notes: plain sentences about what could not be balanced, for people (never parsed).
    """

    method: SplitMethod
    seed: int | None
    ratios: dict[str, float] | None
    stats: dict[str, SplitStats]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Units:
    """Per-unit sizes, and the unit of every patient (patients sorted by name)."""

    patients: list[str]
    unit_of: _Ints  # (P,) unit index of each patient
    names: list[str]  # (U,) the first patient (by name) of each unit
    events: _Floats  # (U,)
    positive_windows: _Floats  # (U,)
    hours: _Floats  # (U,)
    merged: int  # patients that share a recording with another patient


def build_split(
    manifest: Manifest,
    *,
    method: SplitMethod | str,
    ratios: Mapping[str, float] = DEFAULT_RATIOS,
    seed: int = 0,
) -> SplitSummary:
    """Assign every recording of ``manifest`` to a split and record how.

    Args:
        manifest: a writable manifest whose derived tables exist (after a scan).
        method: ``declared`` copies ``recordings.declared_split``; ``stratified`` builds a
            patient-grouped split stratified on positive patients, events and windows.
        ratios: target share of each split (names among train, dev, eval, test; each > 0;
            summing to 1). Used by ``stratified`` only.
        seed: seed of a stratified split (>= 0).

    Returns:
        The method, seed, ratios, per-split statistics and notes on what could not be balanced.

    Raises:
        UsageError: unknown method, bad ratios or a negative seed.
        ManifestError: the manifest is read-only or has not been scanned.
    """
    try:
        how = SplitMethod(method)
    except ValueError:
        choices = ", ".join(m.value for m in SplitMethod)
        raise UsageError(f"unknown split method {method!r} (choose from: {choices})") from None
    if manifest.read_only:
        raise ManifestError("manifest is open read-only; cannot write a split", path=manifest.path)
    if not manifest.has_derived():
        raise ManifestError(
            "manifest has no recordings yet; run `preflight audit SOURCE` first",
            path=manifest.path,
        )
    if how is SplitMethod.DECLARED:
        return _declared(manifest)
    return _stratified(manifest, check_ratios(ratios), _check_seed(seed))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"split seed is {seed!r} (needs an integer >= 0)")
    return seed


def _declared(m: Manifest) -> SplitSummary:
    splits.write_declared_split(m, method=SplitMethod.DECLARED.value)
    stats = _stats(m)
    notes: tuple[str, ...] = ()
    if list(stats) == ["all"]:
        notes = ("the corpus declares no split (every recording is in 'all'); "
                 "use the stratified method to build one",)  # fmt: skip
    return SplitSummary(SplitMethod.DECLARED, None, None, stats, notes)


def _stratified(m: Manifest, ratios: dict[str, float], seed: int) -> SplitSummary:
    import numpy as np

    units = _load_units(m)
    names = list(ratios)
    split_of_unit = _assign(units, np.array([ratios[n] for n in names]), seed)
    split_of_patient = [names[i] for i in split_of_unit[units.unit_of]]
    splits.write_patient_splits(
        m, units.patients, split_of_patient,
        method=SplitMethod.STRATIFIED.value, seed=seed, ratios=ratios,
    )  # fmt: skip
    stats = _stats(m)
    return SplitSummary(SplitMethod.STRATIFIED, seed, ratios, stats, _notes(units, names, stats))


def _load_units(m: Manifest) -> _Units:
    """Per-patient sizes, grouped into units of patients that share a recording."""
    import numpy as np

    rows = queries.per_recording(m)
    patients, patient_of = np.unique([str(r["patient"]) for r in rows], return_inverse=True)
    names = [str(p) for p in patients]
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index = {p: i for i, p in enumerate(names)}
    first: dict[str, int] = {}
    for content_hash, patient in splits.shared_recordings(m):
        a, b = root(index[patient]), root(first.setdefault(content_hash, index[patient]))
        parent[max(a, b)] = min(a, b)
    roots = np.array([root(i) for i in range(len(names))], dtype=np.int64)
    unit_roots, unit_of_patient = np.unique(roots, return_inverse=True)
    unit_of_rec = unit_of_patient[patient_of]
    n_units = len(unit_roots)

    def per_unit(key: str) -> _Floats:
        weights = np.array([r[key] for r in rows], dtype=np.float64)
        return np.bincount(unit_of_rec, weights=weights, minlength=n_units).astype(np.float64)

    size = np.bincount(unit_of_patient, minlength=n_units)
    return _Units(
        patients=names,
        unit_of=unit_of_patient.astype(np.int64),
        names=[names[i] for i in unit_roots],
        events=per_unit("events"),
        positive_windows=per_unit("positive_windows"),
        hours=per_unit("duration_s") / 3600.0,
        merged=int(np.count_nonzero(size[unit_of_patient] > 1)),
    )


def _assign(units: _Units, ratios: _Floats, seed: int) -> _Ints:
    """The split index of every unit: positive units first, then negative ones by hours."""
    import numpy as np

    shuffle = _shuffle_keys(units.names, seed)
    n_splits = len(ratios)
    tie = np.lexsort((np.arange(n_splits), -ratios))  # larger ratio first, then given order
    rank = np.empty(n_splits, dtype=np.int64)
    rank[tie] = np.arange(n_splits)
    out = np.zeros(len(units.hours), dtype=np.int64)

    positive = np.flatnonzero(units.events > 0)
    order = positive[_largest_first(units.positive_windows[positive], shuffle[positive])]
    sizes = np.column_stack(
        [np.ones(len(units.hours)), units.events, units.positive_windows]
    )  # (U, 3): patients, events, positive windows
    out[order] = _deal(order, sizes, np.zeros((n_splits, 3)), ratios, rank)

    negative = np.flatnonzero(units.events <= 0)
    order = negative[_largest_first(units.hours[negative] * 60.0, shuffle[negative])]
    hours = units.hours[:, None]  # (U, 1)
    filled = np.bincount(out[positive], weights=units.hours[positive], minlength=n_splits)
    out[order] = _deal(order, hours, filled[:, None].astype(np.float64), ratios, rank)
    return out


def _shuffle_keys(names: list[str], seed: int) -> npt.NDArray[np.uint64]:
    """A seeded pseudo-random key per unit, from a hash of the seed and the unit's name.

    A hash rather than a NumPy generator: the same seed gives the same split on every platform
    and NumPy version, and adding a patient does not reshuffle all the others.
    """
    import numpy as np

    keys = [
        int.from_bytes(hashlib.blake2b(f"{seed}:{n}".encode(), digest_size=8).digest(), "big")
        for n in names
    ]
    return np.array(keys, dtype=np.uint64)


def _largest_first(size: _Floats, shuffle: npt.NDArray[np.uint64]) -> _Ints:
    """Order by power-of-two bucket of ``size``, largest first; seeded shuffle within one."""
    import numpy as np

    bucket = np.floor(np.log2(1.0 + np.maximum(size, 0.0)))
    return np.lexsort((shuffle, -bucket)).astype(np.int64)


def _deal(order: _Ints, sizes: _Floats, filled: _Floats, ratios: _Floats, rank: _Ints) -> _Ints:
    """Give each unit in ``order`` to the split with the lowest mean fill of its targets.

    Args:
        order: unit indices in dealing order.
        sizes: (U, K) what each unit brings, per criterion.
        filled: (S, K) what each split holds already; updated in place.
        ratios: (S,) target share of each split.
        rank: (S,) tie-break rank of each split (0 first).
    """
    import numpy as np

    target = ratios[:, None] * (sizes[order].sum(axis=0) + filled.sum(axis=0))[None, :]
    live = target > 0  # a criterion the corpus has none of cannot be balanced
    scale = np.where(live, target, 1.0)
    out = np.empty(len(order), dtype=np.int64)
    for j, unit in enumerate(order):
        fill = np.where(live, filled / scale, 0.0).mean(axis=1)  # (S,)
        best = int(np.lexsort((rank, fill))[0])
        filled[best] += sizes[unit]
        out[j] = best
    return out


def _stats(m: Manifest) -> dict[str, SplitStats]:
    return {name: SplitStats(**row) for name, row in queries.split_stats(m).items()}


def _notes(units: _Units, names: list[str], stats: dict[str, SplitStats]) -> tuple[str, ...]:
    import numpy as np

    notes = []
    n_positive = int(np.count_nonzero(units.events > 0))
    short = [n for n in names if n not in stats or stats[n].positive_patients == 0]
    if n_positive == 0:
        notes.append("no patient has a seizure: every split is all background")
    elif short:
        notes.append(
            f"only {n_positive} patient group(s) with seizures for {len(names)} splits: "
            f"no positive patient in {', '.join(short)}"
        )
    empty = [n for n in names if n not in stats]
    if empty:
        notes.append(f"too few patients: {', '.join(empty)} received no recording")
    if units.merged:
        notes.append(
            f"{units.merged} patients share a recording (same content hash) with another "
            "patient and were kept in one split"
        )
    return tuple(notes)
