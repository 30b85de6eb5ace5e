"""The HTML report's training section: curves and a table per epoch, from a run's records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from preflight.reports.html import Section
from preflight.reports.plots import Figure, figure_data_uri


def training_section(
    run_id: str, status: str, message: str, metrics: Sequence[Mapping[str, Any]]
) -> Section:
    """A report section for one run: loss and validation AUROC per epoch, and a table.

    Args:
        run_id: the run's id.
        status: how it ended (completed, stopped_by_monitor ...).
        message: why it ended so.
        metrics: one record per epoch (``epoch``, ``train_loss``, ``validation`` ...).
    """
    rows = tuple(_row(m) for m in metrics)
    figures = (_curves(metrics),) if metrics else ()
    return Section(
        title=f"Training run {run_id}",
        paragraphs=(f"Status: {status}. {message}",),
        columns=("epoch", "step", "train loss", "val loss", "val AUROC", "val AUPRC",
                 "recall", "specificity", "batches with positives", "seconds"),
        rows=rows,
        figures=figures,
    )  # fmt: skip


def _row(m: Mapping[str, Any]) -> tuple[str, ...]:
    v = m.get("validation") or {}
    return (
        str(m.get("epoch", "")), str(m.get("step", "")), _num(m.get("train_loss")),
        _num(v.get("loss")), _num(v.get("auroc")), _num(v.get("auprc")), _num(v.get("recall")),
        _num(v.get("specificity")), f"{m.get('with_positives', '')} of {m.get('batches', '')}",
        _num(m.get("seconds"), 1),
    )  # fmt: skip


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "undefined"
    return f"{float(value):.{digits}f}"


def _curves(metrics: Sequence[Mapping[str, Any]]) -> Figure:
    from matplotlib.figure import Figure as MplFigure

    epochs = [m.get("epoch") for m in metrics]
    fig = MplFigure(figsize=(9.0, 3.2), layout="constrained")
    loss_ax, auc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [_or_nan(m.get("train_loss")) for m in metrics], "o-", label="train")
    val = [_or_nan((m.get("validation") or {}).get("loss")) for m in metrics]
    loss_ax.plot(epochs, val, "s-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    loss_ax.legend(frameon=False)
    auroc = [_or_nan((m.get("validation") or {}).get("auroc")) for m in metrics]
    auc_ax.plot(epochs, auroc, "o-", color="#c8102e")
    auc_ax.set(xlabel="epoch", ylabel="AUROC", title="Validation AUROC", ylim=(0.0, 1.02))
    caption = "Training and validation loss, and validation AUROC, per epoch."
    return Figure("Training curves", figure_data_uri(fig), caption)


def _or_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)
