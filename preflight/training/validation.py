"""The validation pass of a training run: window scores, loss, and what the monitors judge.

The window metrics (AUROC, AUPRC, sensitivity, specificity at the monitors' threshold) are
``preflight.evaluation.metrics.window_metrics`` on the window probabilities (``sigmoid`` of the
logits, in float64 so confident scores do not tie); the loss, the positive-prediction rate and
the spread of the logits are measured here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from preflight.evaluation.metrics import window_metrics
from preflight.training.monitors import ValidationMetrics

__all__ = ["model_logits", "validate"]


def model_logits(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(window (B,), sample (B, T) or None)`` logits from a model's output.

    A ``SeizureOutput`` (or any tuple with ``window`` and ``sample``) gives both; a tensor of
    shape (B,) or (B, 1) is the window logits alone.

    Raises:
        TypeError: an output of another form.
    """
    if hasattr(output, "window") and hasattr(output, "sample"):
        return output.window, output.sample
    if isinstance(output, torch.Tensor) and (output.ndim == 1 or tuple(output.shape[1:]) == (1,)):
        return output.reshape(-1), None
    shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
    raise TypeError(
        f"a model must return window logits (B,) or (B, 1), or an object with .window and "
        f".sample logits; got {shape}"
    )


@torch.no_grad()
def validate(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    device: torch.device,
    threshold: float,
    autocast: dict[str, Any],
    split: str,
    collect: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> ValidationMetrics:
    """Score every validation window once and measure what the monitors judge.

    Args:
        model: the (unwrapped) model; put in eval mode here.
        batches: ``(x (B, C, T), y (B,), mask, ids)`` batches, e.g. a DataLoader.
        device: where the model is.
        threshold: probability at or above which a window is predicted positive.
        autocast: keyword arguments of ``torch.autocast`` (mixed precision on CUDA).
        split: the validation split(s), as named in messages.
        collect: when given, receives ``(ids (B, 2), probabilities (B,))`` per batch, for the
            event-level evaluation (``train_events``).
    """
    model.eval()
    logits, labels = [], []
    for x, y, _, ids in batches:
        with torch.autocast(**autocast):
            window, _ = model_logits(model(x.to(device, non_blocking=True)))
        logits.append(window.float().cpu())  # (B,)
        labels.append(y.float())  # (B,)
        if collect is not None:
            collect.append((ids, torch.sigmoid(logits[-1].double())))
    z = torch.cat(logits)  # (N,)
    y = torch.cat(labels)  # (N,)
    n, n_pos = int(z.numel()), int((y == 1).sum())
    if not bool(torch.isfinite(z).all()):
        return ValidationMetrics(
            windows=n, positives=n_pos, loss=float("nan"), auroc=None, auprc=None,
            recall=None, specificity=None, positive_rate=0.0, logit_std=float("nan"),
            finite=False, threshold=threshold, undefined={"all": "some logits are NaN or Inf"},
        )  # fmt: skip
    scores = torch.sigmoid(z.double()).numpy()  # (N,)
    metrics = window_metrics(y.numpy().astype(int), scores, threshold=threshold, split=split)
    return ValidationMetrics(
        windows=n,
        positives=n_pos,
        loss=float(F.binary_cross_entropy_with_logits(z, y)),
        auroc=metrics.auroc,
        auprc=metrics.auprc,
        recall=metrics.sensitivity,
        specificity=metrics.specificity,
        positive_rate=(metrics.true_positives + metrics.false_positives) / max(n, 1),
        logit_std=float(z.std(correction=0)) if n else 0.0,
        finite=True,
        threshold=threshold,
        undefined=dict(metrics.undefined),
    )
