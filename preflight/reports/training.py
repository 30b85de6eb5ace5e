"""The HTML report's training sections: curves, a table per epoch, and the event evaluation.

``run_html`` renders a whole page for a run recorded in a manifest: the audit whose gate let it
run, then its training curves and epochs, then the evaluation after training: validation's
scores and, apart and labelled "held out", the held-out splits' scores at the thresholds
validation chose (``training.final``). ``final_lines`` says the same in a few lines of
plain text for terminals. Runs recorded before the held-out evaluation existed keep their event
scores in the last epoch's metrics (``evaluation``); they render as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from preflight.manifest.runs import RunRecord
from preflight.manifest.store import Manifest
from preflight.reports.html import Section
from preflight.reports.model import AuditReport
from preflight.reports.plots import Figure, figure_data_uri

__all__ = [
    "evaluation",
    "evaluation_section",
    "event_lines",
    "final_lines",
    "final_sections",
    "run_html",
    "training_section",
]


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
    """The event evaluation of a run recorded before ``runs.evaluation`` existed: the
    ``events`` record of its last epoch, if any."""
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
    role = events.get("role", "validation").replace(" ", "-")  # "held-out recordings"
    return (
        f"{events['scorer']} over {events['recordings']} {role} recordings "
        f"({events['hours']:.1f} h): tolerance {p['tolerance_start_s']:g} s before and "
        f"{p['tolerance_end_s']:g} s after each seizure, any overlap, events merged when less "
        f"than {p['min_gap_s']:g} s apart and split beyond {p['max_event_duration_s']:g} s."
        f"{_merged_sentence(events)}"
    )


def _merged_sentence(events: Mapping[str, Any]) -> str:
    """Why the audit's seizure count and the scorer's reference events differ, when they do."""
    audited = events.get("seizures")  # absent from runs recorded before it was stored
    scored = events["at_threshold"]["pooled"]["n_reference"]
    if audited is None or audited == scored:
        return ""
    return (
        f" The audit's {audited} seizures are {scored} reference events here: seizures less "
        f"than {events['params']['min_gap_s']:g} s apart count as one."
    )


def _target_label(events: Mapping[str, Any]) -> str:
    """``<= 1 FA/24h``, and where its threshold was chosen when not on these recordings."""
    label = f"<= {events['target_false_alarms_per_24h']:g} FA/24h"
    chosen_on = events.get("threshold_chosen_on")
    return f"{label} (chosen on {chosen_on})" if chosen_on else label


def event_lines(events: Mapping[str, Any]) -> list[str]:
    """The event scores as plain text lines (scorer, then one line per threshold)."""
    if "undefined" in events:
        role = events.get("role", "validation")
        return [f"{role} event scores ({events['scorer']}): undefined: {events['undefined']}"]
    lines = [_scorer_sentence(events)]
    thresholds = (("monitor threshold", "at_threshold"), (_target_label(events), "at_target"))
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
    role = events.get("role", "validation")
    title = f"Event-level evaluation, {role} ({events['scorer']})"
    if "undefined" in events:
        return Section(title=title, paragraphs=(f"Undefined: {events['undefined']}",))
    target = events["target_false_alarms_per_24h"]
    chosen_on = events.get("threshold_chosen_on")
    where = f", chosen on {chosen_on}" if chosen_on else ""
    rows = [
        _event_row("pooled, monitor threshold", events["at_threshold"]),
        _event_row(
            f"pooled, threshold for <= {target:g} false alarms / 24 h{where}", events["at_target"]
        ),
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


def run_html(
    manifest: str | Path,
    run: RunRecord,
    report: AuditReport,
    title: str | None = None,
    also: Sequence[tuple[str, AuditReport]] = (),
) -> str:
    """A self-contained HTML page for a recorded run: its audit, training, and evaluation.

    Args:
        manifest: the manifest holding the run (its plots are read from it).
        run: the run's row.
        report: the audit whose gate let the run train (``pipelines.audit.last_report``).
        title: the page title (default ``preflight train`` or ``preflight smoke``).
        also: other audits shown after the run, each ``(section title, report)``.
    """
    from preflight.reports.html import audit_section, render_html
    from preflight.reports.plots import collect_plot_data

    with Manifest.open(manifest, read_only=True) as m:
        extras = collect_plot_data(m)
    sections = [training_section(run.run_id, str(run.status), run.message or "", run.metrics)]
    events = evaluation(run.metrics)
    if run.evaluation is not None:
        sections += final_sections(run.evaluation)
    elif events is not None:
        sections.append(evaluation_section(events))
    sections += [audit_section(other, heading) for heading, other in also]
    return render_html(report, extras, sections=sections, title=title or f"preflight {run.kind}")


# --- the evaluation after training (training.final) ----------------------------------


def _checkpoint_sentence(final: Mapping[str, Any]) -> str:
    c = final["checkpoint"]
    if c.get("why"):
        return f"Scored weights: the last epoch's ({c['epoch']}); {c['why']}."
    loss = c.get("validation_loss")
    told = "" if loss is None else f", validation loss {loss:.4f}"
    return (
        f"Scored weights: {c['name']}, epoch {c['epoch']} (validation {c['by']} "
        f"{c['score']:.4f}{told}; {c['tie_break']})."
    )


def _window_sentence(window: Mapping[str, Any]) -> str:
    return (
        f"window AUROC {_num(window.get('auroc'))}, AUPRC {_num(window.get('auprc'))}, "
        f"sensitivity {_num(window.get('recall'))}, specificity "
        f"{_num(window.get('specificity'))} at threshold {window['threshold']:g} "
        f"({window['windows']} windows, {window['positives']} positive)"
    )


def _held_out_heading(final: Mapping[str, Any]) -> str:
    splits = "+".join(final["held_out"]["splits"])
    chosen = "+".join(final["validation"]["splits"])
    return (
        f"Held out ({splits}): scored once, with these weights and the thresholds chosen on "
        f"{chosen}"
    )


def final_lines(final: Mapping[str, Any]) -> list[str]:
    """The evaluation after training as plain text: the weights, validation, then held out."""
    val = final["validation"]
    lines = [
        _checkpoint_sentence(final),
        f"Validation ({'+'.join(val['splits'])}): chooses the checkpoint, the monitors' verdicts "
        f"and the thresholds",
        f"  {_window_sentence(val['window'])}",
    ]
    lines += [f"  {line}" for line in event_lines(val["events"])] if "events" in val else []
    held = final.get("held_out")
    if held is None:
        lines.append(f"Held out: none. {final.get('held_out_note') or ''}".rstrip())
    else:
        lines += [_held_out_heading(final), f"  {_window_sentence(held['window'])}"]
        lines += [f"  {line}" for line in event_lines(held["events"])] if "events" in held else []
    lines += [f"WARNING {w}" for w in final.get("warnings", [])]
    return lines


def _window_row(label: str, window: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        label, _num(window.get("auroc")), _num(window.get("auprc")), _num(window.get("recall")),
        _num(window.get("specificity")), f"{window['threshold']:g}",
        f"{window['positives']} of {window['windows']}",
    )  # fmt: skip


_WINDOW_COLUMNS = (
    "windows of", "AUROC", "AUPRC", "sensitivity", "specificity", "threshold", "positive windows",
)  # fmt: skip


def final_sections(final: Mapping[str, Any]) -> list[Section]:
    """The evaluation after training as report sections: window metrics of validation and of
    the held-out splits side by side, then each one's event scores, held out labelled so."""
    val, held = final["validation"], final.get("held_out")
    rows = [_window_row(f"validation ({'+'.join(val['splits'])})", val["window"])]
    paragraphs = [_checkpoint_sentence(final)]
    if held is None:
        paragraphs.append(f"Held out: none. {final.get('held_out_note') or ''}".rstrip())
    else:
        rows.append(_window_row(f"held out ({'+'.join(held['splits'])})", held["window"]))
        paragraphs.append(_held_out_heading(final) + ".")
    paragraphs += [f"Warning: {w}" for w in final.get("warnings", [])]
    sections = [
        Section(
            title="Evaluation after training: validation and held out",
            paragraphs=tuple(paragraphs),
            columns=_WINDOW_COLUMNS,
            rows=tuple(rows),
        )
    ]
    for part in (val, held):
        if part is not None and "events" in part:
            sections.append(evaluation_section(part["events"]))
    return sections
