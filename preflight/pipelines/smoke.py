"""``preflight smoke``: the whole pipeline, for a few steps, on the smallest subset worth it.

A smoke test that skips the checks stops testing (the team behind this project once added an
environment variable for exactly that). So the smoke run is the real run made small, not a run
with checks off: the corpus is audited and gated with the config's thresholds, then the trainer
runs on a subset chosen from the manifest, with no signal loaded to choose it: per split, the two
shortest recordings with seizures and the two shortest without, each pair from different
patients, among the recordings the montage can be made from. The subset must still hold both
classes in the training split and in the validation splits (``check_subset``), or the smoke run
stops as a gate failure. Then one epoch of at most ``STEPS`` batches runs with everything on:
the batch guard, the monitors, a checkpoint, the validation pass, the event scores; the run is
recorded in the manifest as a ``smoke`` run. No setting turns a check off.

A table source (Parquet stamps) has files where an EEG corpus has recordings: per split, the
two smallest files holding positive rows and the two smallest holding negative rows, from
different groups where the files have one (``choose_files``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from preflight.manifest import queries
from preflight.manifest.recordings import rec_idx_by_id, shortest_per_class
from preflight.manifest.store import Manifest
from preflight.run_config import RunConfig

__all__ = [
    "PER_CLASS",
    "STEPS",
    "SmokeSubset",
    "check_subset",
    "choose_files",
    "choose_subset",
    "smoke_config",
]

PER_CLASS = 2  # recordings per class and split: two, so "different patients" means something
STEPS = 4  # training batches: enough for the guard, the optimizer and a checkpoint


@dataclass(frozen=True)
class SmokeSubset:
    """The recordings a smoke run trains and validates on.

    Attributes:
        recordings: the recordings' ``rec_idx``, by split then class.
        per_split: per split, (recordings with seizures, recordings without) chosen.
    """

    recordings: tuple[int, ...]
    per_split: dict[str, tuple[int, int]]


def choose_subset(
    m: Manifest,
    splits: tuple[str, ...],
    usable: Collection[int],
    per_class: int = PER_CLASS,
) -> SmokeSubset:
    """Pick, per split, the shortest ``per_class`` positive and negative recordings.

    Args:
        m: the audited manifest.
        splits: the splits to pick from (training first, then validation).
        usable: the ``rec_idx`` of the recordings training can read (montage check).
        per_class: recordings per class and split.

    Each class's picks come from distinct patients. A split short of a class gets what it has;
    ``check_subset`` says whether that is enough.
    """
    rows = shortest_per_class(m, splits, usable, per_class)
    counts: dict[str, list[int]] = {s: [0, 0] for s in splits}
    for _, split, positive in rows:
        counts[split][0 if positive else 1] += 1
    return SmokeSubset(
        recordings=tuple(int(r[0]) for r in rows),
        per_split={s: (c[0], c[1]) for s, c in counts.items()},
    )


def choose_files(m: Manifest, splits: tuple[str, ...], per_class: int = PER_CLASS) -> SmokeSubset:
    """For a table source: per split, the smallest files holding each class.

    Per split and class, the ``per_class`` files with the fewest rows that hold rows of that
    class, from distinct groups (a file's ``patient``) where possible; a file holding both
    classes may serve both. Files are chosen from the manifest's per-file counts alone.
    """
    rec_idx = rec_idx_by_id(m)
    rows = sorted(
        (r for r in queries.per_recording(m) if r["split"] in splits),
        key=lambda r: (r["windows"], r["recording_id"]),
    )
    chosen: list[int] = []
    counts: dict[str, tuple[int, int]] = {}
    for split in splits:
        mine = [r for r in rows if r["split"] == split]
        positive = _smallest([r for r in mine if r["positive_windows"] > 0], per_class)
        negative = _smallest([r for r in mine if r["windows"] > r["positive_windows"]], per_class)
        counts[split] = (len(positive), len(negative))
        for r in positive + negative:
            if rec_idx[r["recording_id"]] not in chosen:
                chosen.append(rec_idx[r["recording_id"]])
    return SmokeSubset(recordings=tuple(chosen), per_split=counts)


def _smallest(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The first ``n`` of ``rows`` (smallest first), one per group before any group's second."""
    seen: set[Any] = set()
    first: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for r in rows:
        (rest if r["patient"] in seen else first).append(r)
        seen.add(r["patient"])
    return (first + rest)[:n]


def check_subset(
    subset: SmokeSubset, train_split: str, val_splits: tuple[str, ...], *, table: bool = False
) -> str | None:
    """Why the subset cannot make a smoke run (a class missing), or None when it can."""
    pooled = [subset.per_split.get(s, (0, 0)) for s in val_splits]
    places = {
        f"training split {train_split}": subset.per_split.get(train_split, (0, 0)),
        f"validation split(s) {'+'.join(val_splits)}": (
            sum(p for p, _ in pooled),
            sum(n for _, n in pooled),
        ),
    }
    holders = (
        (("file with positive rows", "file with negative rows"), "")
        if table
        else (
            ("usable recording with seizures", "usable recording without seizures"),
            " (usable: the montage's channels are present)",
        )
    )
    (with_pos, with_neg), note = holders
    missing = [
        f"the {where} has no {what}"
        for where, (pos, neg) in places.items()
        for what, n in ((with_pos, pos), (with_neg, neg))
        if n == 0
    ]
    if not missing:
        return None
    return "the smoke subset cannot hold both classes: " + "; ".join(missing) + note


def smoke_config(config: RunConfig) -> RunConfig:
    """The config made small: one epoch of at most ``STEPS`` batches; every check still on.

    The collapse monitors judge after their warm-up epochs, which one epoch never passes: they
    are recorded as warnings, as in any run's first epoch. NaN/Inf, the batch guard and the
    gate stop a smoke run as they stop any run.
    """
    steps = min(config.train.steps_per_epoch or STEPS, STEPS)
    train = config.train.model_copy(update={"epochs": 1, "steps_per_epoch": steps})
    monitors = config.monitors.model_copy(
        update={"warmup_epochs": max(config.monitors.warmup_epochs, 1)}
    )
    return config.model_copy(update={"train": train, "monitors": monitors})
