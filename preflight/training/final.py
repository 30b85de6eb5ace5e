"""The evaluation after training: validation chooses, the held-out splits are scored once.

Once the last epoch completed, rank 0:

1. takes the best checkpoint's weights (``best.pt``: ``checkpoint.best_by`` on validation, ties
   broken by the validation loss, then the later epoch), or the last weights when no epoch had
   a defined score;
2. takes validation's window scores under those weights (kept in memory from that epoch's
   validation pass, or scored again after a resume) and, on a seizure corpus, chooses there
   the false-alarm threshold (``train_events.event_evaluation``);
3. scores the held-out splits (``heldout.split_roles``) **once**, with the same weights, at the
   monitors' threshold and at the threshold validation chose: window metrics, and SzCORE event
   scores on a seizure corpus. Nothing is chosen on them.

The result is one JSON-ready dict, stored in the run's row (``runs.evaluation``) and rendered
apart from validation, labelled "held out" (``reports.training``)::

    {"checkpoint": {"name": "best.pt" | "last", "epoch", "by", "score", "validation_loss",
                    "tie_break", "why"},
     "validation": {"splits": [...], "window": {...}, "events": {...}},
     "held_out": {"splits": [...], "window": {...}, "events": {...}} | None,
     "held_out_note": str | None,        # why nothing was held out
     "warnings": [str, ...]}             # a held-out split that validated
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from preflight.evaluation.events import event_evaluation
from preflight.training import checkpoint as ckpt
from preflight.training.monitors import Monitor
from preflight.training.session import Scores, Session
from preflight.training.validation import validate

if TYPE_CHECKING:
    from preflight.training.monitors import ValidationMetrics

__all__ = ["TIE_BREAK", "Scores", "final_evaluation", "score_windows"]

TIE_BREAK = "ties broken by the lower validation loss, then the later epoch"


def score_windows(
    s: Session, loader: DataLoader[Any], name: str
) -> tuple[ValidationMetrics, Scores | None]:
    """One scoring pass of ``s.engine.raw`` over ``loader``: the metrics at the monitors' threshold,
    and on a seizure corpus the window scores the event evaluation needs."""
    scored: list[tuple[torch.Tensor, torch.Tensor]] | None = [] if s.run.event_scoring else None
    metrics = validate(
        s.engine.raw, loader, device=s.run.world.device, threshold=s.run.config.monitors.threshold,
        autocast=s.engine.autocast, split=name, collect=scored,
    )  # fmt: skip
    if scored is None:
        return metrics, None
    ids = torch.cat([i for i, _ in scored]).numpy() if scored else np.zeros((0, 2), np.int64)
    probabilities = torch.cat([p for _, p in scored]).numpy() if scored else np.zeros(0)
    return metrics, (ids, probabilities)


def final_evaluation(s: Session) -> dict[str, Any]:
    """Rank 0: validation's figures under the chosen weights, then the held-out splits scored
    once (see the module docstring). Leaves the chosen weights in ``s.engine.raw``."""
    chosen = _chosen_weights(s)
    window, scores = _validation(s, chosen["epoch"])
    validation: dict[str, Any] = {"splits": s.run.val_name.split("+"), "window": window}
    events = None
    if scores is not None:
        events = _events(s, scores, role="validation")
        validation["events"] = events
    warnings = [r.message for r in s.book.monitors if r.name == Monitor.HELD_OUT_IN_VALIDATION]
    return {
        "checkpoint": chosen,
        "validation": validation,
        "held_out": _held_out(s, events),
        "held_out_note": None if s.data.loaders.held_out is not None else _no_held_out(s, warnings),
        "warnings": warnings,
    }


def _chosen_weights(s: Session) -> dict[str, Any]:
    """Load the best checkpoint's weights into the model (or keep the last ones); say which."""
    best, by = s.book.best, s.run.config.checkpoint.best_by
    if not best:
        return {
            "name": "last", "epoch": s.book.epoch, "by": by, "score": None,
            "validation_loss": None, "tie_break": TIE_BREAK,
            "why": f"no epoch had a defined validation {by}: the last weights are scored",
        }  # fmt: skip
    if best["epoch"] != s.book.epoch:  # the weights in memory are the last epoch's
        s.engine.raw.load_state_dict(ckpt.load_checkpoint(s.run.run_dir / ckpt.BEST)["model_state"])
    return {
        "name": ckpt.BEST, "epoch": best["epoch"], "by": by, "score": abs(best["score"]),
        "validation_loss": best.get("validation_loss"), "tie_break": TIE_BREAK, "why": None,
    }  # fmt: skip


def _validation(s: Session, epoch: int) -> tuple[dict[str, Any], Scores | None]:
    """Validation's window metrics and scores under the chosen weights (epoch ``epoch``)."""
    if s.book.best_scores is not None and s.book.best_scores[0] == epoch:
        return s.book.best_scores[1], s.book.best_scores[2]
    last = s.book.history[-1] if s.book.history else {}
    scored = (
        s.book.last_scores is not None or not s.run.event_scoring
    )  # what events need is at hand
    if not s.book.best and last.get("epoch") == epoch and scored:
        return last["validation"], s.book.last_scores
    if s.data.loaders.val is None:
        raise RuntimeError("only rank 0 evaluates; it has the validation loader")
    metrics, scores = score_windows(s, s.data.loaders.val, s.run.val_name)
    return metrics.as_dict(), scores


def _held_out(s: Session, validation_events: dict[str, Any] | None) -> dict[str, Any] | None:
    """The held-out splits scored once at the thresholds validation chose, or None."""
    if s.data.loaders.held_out is None:
        return None
    metrics, scores = score_windows(s, s.data.loaders.held_out, s.run.held_out_name)
    held: dict[str, Any] = {"splits": s.run.held_out_name.split("+"), "window": metrics.as_dict()}
    if scores is not None and validation_events is not None:
        if "undefined" in validation_events:
            why = f"validation chose no false-alarm threshold: {validation_events['undefined']}"
            held["events"] = {"scorer": validation_events["scorer"], "role": "held out",
                              "undefined": why}  # fmt: skip
        else:
            threshold = float(validation_events["at_target"]["threshold"])
            held["events"] = _events(s, scores, role="held out", chosen=threshold)
    return held


def _events(
    s: Session, scores: Scores, *, role: str, chosen: float | None = None
) -> dict[str, Any]:
    ids, probabilities = scores
    return event_evaluation(
        s.run.manifest, ids, probabilities, threshold=s.run.config.monitors.threshold,
        target_fa_per_24h=s.run.config.validation.target_false_alarms_per_24h, role=role,
        chosen_threshold=chosen, chosen_on=None if chosen is None else s.run.val_name,
    )  # fmt: skip


def _no_held_out(s: Session, warnings: list[str]) -> str:
    """Why nothing was scored as held out."""
    if warnings:
        return "every held-out split validates (see the warning), so none is held out"
    return (
        f"no split is held out: validation uses {s.run.val_name} and no other evaluation split is "
        f"named like a test split (eval, test, holdout); name one in validation.held_out, or "
        f"split a test part off with split.method: stratified"
    )
