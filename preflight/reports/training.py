"""The HTML report's training sections: curves, a table per epoch, and the event evaluation.

``run_html`` renders a whole page for a run recorded in a manifest: the audit whose gate let it
run, then its training curves and epochs, then the SzCORE event scores of its last validation
pass. ``event_lines`` says the same event scores in a few lines of plain text for terminals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from preflight.manifest.runs import RunRecord
from preflight.manifest.store import Manifest
from preflight.reports.html import Section
from preflight.reports.plots import Figure, figure_data_uri

__all__ = ["evaluation", "evaluation_section", "event_lines", "run_html", "training_section"]


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


def evaluation(metrics: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The event evaluation of a run: the ``events`` record of its last epoch, if any."""
    for m in reversed(metrics):
        if "events" in m:
            events: Mapping[str, Any] = m["events"]
            return events
    return None


def _event_row(label: str, scored: Mapping[str, Any]) -> tuple[str, ...]:
    pooled = scored["pooled"]
    return (
        label, _num(scored["threshold"], 4), _num(pooled["sensitivity"]),
        _num(pooled["precision"]), _num(pooled["f1"]), _num(pooled["false_alarms_per_24h"], 2),
        f"{pooled['true_positives']} of {pooled['n_reference']}", str(pooled["n_predicted"]),
    )  # fmt: skip


def _scorer_sentence(events: Mapping[str, Any]) -> str:
    p = events["params"]
    return (
        f"{events['scorer']} over {events['recordings']} validation recordings "
        f"({events['hours']:.1f} h): tolerance {p['tolerance_start_s']:g} s before and "
        f"{p['tolerance_end_s']:g} s after each seizure, any overlap, events merged when less "
        f"than {p['min_gap_s']:g} s apart and split beyond {p['max_event_duration_s']:g} s."
    )


def event_lines(events: Mapping[str, Any]) -> list[str]:
    """The event scores as plain text lines (scorer, then one line per threshold)."""
    if "undefined" in events:
        return [f"event scores ({events['scorer']}): undefined: {events['undefined']}"]
    lines = [_scorer_sentence(events)]
    target = events["target_false_alarms_per_24h"]
    thresholds = (("monitor threshold", "at_threshold"), (f"<= {target:g} FA/24h", "at_target"))
    for label, key in thresholds:
        row = _event_row(label, events[key])
        lines.append(
            f"  {row[0]} {row[1]}: sensitivity {row[2]}, precision {row[3]}, F1 {row[4]}, "
            f"{row[5]} false alarms per 24 h ({row[6]} seizures detected, {row[7]} events)"
        )
    undefined = events["at_threshold"]["pooled"]["undefined"]
    lines += [f"  {name} undefined: {why}" for name, why in undefined.items()]
    return lines


def evaluation_section(events: Mapping[str, Any]) -> Section:
    """The event evaluation as a report section: the scorer, a row per threshold and subject."""
    title = f"Event-level evaluation ({events['scorer']})"
    if "undefined" in events:
        return Section(title=title, paragraphs=(f"Undefined: {events['undefined']}",))
    target = events["target_false_alarms_per_24h"]
    rows = [
        _event_row("pooled, monitor threshold", events["at_threshold"]),
        _event_row(f"pooled, threshold for <= {target:g} false alarms / 24 h", events["at_target"]),
    ]
    at_target = events["at_target"]
    for subject, scored in sorted(at_target["per_subject"].items()):
        rows.append(_event_row(f"subject {subject}", {**at_target, "pooled": scored}))
    undefined = events["at_threshold"]["pooled"]["undefined"]
    notes = tuple(f"{name} is undefined: {why}." for name, why in undefined.items())
    return Section(
        title=title,
        paragraphs=(_scorer_sentence(events), *notes),
        columns=("scored", "threshold", "sensitivity", "precision", "F1", "false alarms / 24 h",
                 "seizures detected", "events predicted"),
        rows=tuple(rows),
    )  # fmt: skip


def run_html(manifest: str | Path, run: RunRecord, title: str | None = None) -> str:
    """A self-contained HTML page for a recorded run: its audit, training, and evaluation.

    Raises:
        UsageError: the run's audit is not in the manifest.
    """
    from preflight.pipelines.audit import last_report
    from preflight.reports.html import render_html
    from preflight.reports.plots import collect_plot_data

    with Manifest.open(manifest, read_only=True) as m:
        report = last_report(m, run.audit_id)
        extras = collect_plot_data(m)
    sections = [training_section(run.run_id, str(run.status), run.message or "", run.metrics)]
    events = evaluation(run.metrics)
    if events is not None:
        sections.append(evaluation_section(events))
    return render_html(report, extras, sections=sections, title=title or f"preflight {run.kind}")
