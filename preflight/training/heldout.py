"""Which split trains, which validates, and which is held out: the roles of a run's splits.

A run looks at three kinds of split, and only one of them may steer it:

* **train**: ``gate.train_split``; the model learns from it.
* **validation**: chooses everything: the best checkpoint (``checkpoint.best_by``), what the
  collapse monitors judge, and the false-alarm threshold of the event evaluation.
* **held out**: never chooses anything. It is scored **once**, after training, with the best
  checkpoint and the thresholds chosen on validation, and reported apart.

The defaults, among the gate's evaluation splits (``gate.evaluation_splits``, or every split
but the training one): a split named like a test split (``eval``, ``test``, ``holdout``,
``held_out``, ``heldout``) is held out, the others validate. So a TUSZ layout validates on
``dev`` and holds ``eval`` out, and so does the stratified split (``train``/``dev``/``eval``
ratios, or ``test``). ``validation.held_out`` names the held-out splits instead, for other
names. ``validation.splits`` given explicitly still wins; a held-out split in it is a warning
naming it (recorded in the run), and it is then not scored as held out. When every evaluation
split is held out by name (a corpus with ``train`` and ``test`` alone), they validate, with the
same warning, and nothing is held out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from preflight.errors import UsageError
from preflight.results import Severity
from preflight.training.monitors import Monitor, MonitorRecord

__all__ = ["HELD_OUT_NAMES", "SplitRoles", "peeking_record", "split_roles"]

# Split names that say "test set": held out by default.
HELD_OUT_NAMES = frozenset({"eval", "test", "holdout", "held_out", "heldout"})


@dataclass(frozen=True)
class SplitRoles:
    """The splits of a run, by role.

    Attributes:
        train: the split trained on.
        validation: the splits that choose the checkpoint, the monitors' verdicts and the
            thresholds (pooled).
        held_out: the splits scored once after training (pooled); empty when there is none.
        peeking: held-out splits that validate anyway (explicit ``validation.splits``, or no
            other split to validate on): they choose, so they are no held-out measure.
    """

    train: str
    validation: tuple[str, ...]
    held_out: tuple[str, ...]
    peeking: tuple[str, ...] = ()

    @property
    def warning(self) -> str | None:
        """The sentence recorded when a held-out split validates, or None."""
        if not self.peeking:
            return None
        named = ", ".join(self.peeking)
        return (
            f"validation uses held-out split(s) {named}: the best checkpoint, the monitors and "
            f"the false-alarm threshold are chosen on {named}, so scores on {named} are not a "
            f"held-out measure; validate on another split (validation.splits) or build one with "
            f"split.method: stratified"
        )


def split_roles(
    *,
    train: str,
    available: Collection[str],
    evaluation: Sequence[str] | None = None,
    validation: Sequence[str] | None = None,
    held_out: Sequence[str] | None = None,
) -> SplitRoles:
    """The roles of a run's splits (see the module docstring for the rules).

    Args:
        train: ``gate.train_split``.
        available: the splits the manifest holds.
        evaluation: ``gate.evaluation_splits``; None means every available split but ``train``.
        validation: ``validation.splits``; None chooses by name.
        held_out: ``validation.held_out``; None chooses by name.

    Raises:
        UsageError: a named split the manifest lacks, or nothing to validate on.
    """
    evaluation = list(evaluation or sorted(set(available) - {train}))
    named = (
        list(held_out) if held_out is not None else [s for s in evaluation if s in HELD_OUT_NAMES]
    )
    chosen = list(validation) if validation else [s for s in evaluation if s not in named]
    if not chosen:  # every evaluation split is a test split: they must validate
        chosen = named
    missing = [s for s in dict.fromkeys([train, *chosen, *named]) if s not in available]
    if missing or not chosen:
        have = ", ".join(sorted(available))
        what = f"split(s) {', '.join(missing)} not in the manifest" if missing else "no split"
        raise UsageError(
            f"{what} to validate on (the manifest has {have}); set validation.splits, or build "
            f"a split with split.method: stratified"
        )
    return SplitRoles(
        train=train,
        validation=tuple(chosen),
        held_out=tuple(s for s in named if s not in chosen and s != train),
        peeking=tuple(s for s in chosen if s in named),
    )


def peeking_record(roles: SplitRoles) -> MonitorRecord | None:
    """The warning record of a run that validates on a held-out split, or None."""
    if roles.warning is None:
        return None
    return MonitorRecord(
        name=Monitor.HELD_OUT_IN_VALIDATION, epoch=0, step=0, severity=Severity.WARNING,
        passed=False, observed=list(roles.peeking), expected="no held-out split in validation",
        message=roles.warning,
    )  # fmt: skip
