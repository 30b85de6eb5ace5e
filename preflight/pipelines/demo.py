"""``preflight demo``: the main job, end to end, on built-in synthetic data.

1. synthesize a small TUSZ-like corpus and audit it: the gate passes;
2. audit a broken copy (its dev split holds no seizure): the gate fails, exit code 1;
3. train the seizure detector on the healthy corpus, gated, on the CPU (about two minutes):
   the best checkpoint and the false-alarm threshold are chosen on the validation split (dev),
   then the held-out split (eval) is scored once with them and reported apart;
4. write one HTML report with the audit, the training curves, the evaluation and the broken
   copy's failed audit; the run config it trained with is written beside (``run.yaml``), so
   ``preflight train DIR/run.yaml`` and ``preflight smoke DIR/run.yaml`` run it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from preflight.pipelines.audit import audit
from preflight.pipelines.train import GateNotice, RunResult, run_page, train
from preflight.reports.json_report import write_text_atomic
from preflight.reports.model import AuditReport
from preflight.reports.runs import gate_line
from preflight.reports.terminal import render_audit
from preflight.reports.training import final_lines
from preflight.results import Verdict
from preflight.run_config import (
    load_run_config,
)
from preflight.synth.corpus import synthesize
from preflight.synth.spec import Defect, SynthSpec

# Sized so a CPU run takes about two minutes and the synthetic seizures are learned.
SPEC = SynthSpec(train_patients=6, dev_patients=3, eval_patients=3, recordings_per_patient=2)
EPOCHS = 6
STEPS_PER_EPOCH = 20
BATCH_SIZE = 32
POSITIVE_FRACTION = 0.5  # balanced batches: scores calibrate around 0.5 within a few epochs
WARMUP_EPOCHS = 3  # the collapse monitor judges recall from epoch 4 on


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: the exit codes it saw, the run and where the report is."""

    healthy_exit: int
    broken_exit: int
    run: RunResult
    report: Path

    @property
    def exit_code(self) -> int:
        """0 when every step behaved as the demo promises."""
        ok = self.healthy_exit == 0 and self.broken_exit == 1 and self.run.exit_code == 0
        return 0 if ok else 1


def run_config_text() -> str:
    """The demo's run config as YAML, written beside the corpus (small model, short epochs)."""
    return (
        "# The run config `preflight demo` trained with; paths are relative to this file.\n"
        "# Run it again: preflight train run.yaml (or preflight smoke run.yaml, in seconds).\n"
        "data: {source: corpus}\n"
        "model: {name: seizure_tcn, kwargs: {hidden: 32, levels: 5}}\n"
        f"train: {{epochs: {EPOCHS}, steps_per_epoch: {STEPS_PER_EPOCH}, "
        f"batch_size: {BATCH_SIZE}, target_positive_fraction: {POSITIVE_FRACTION}}}\n"
        f"monitors: {{warmup_epochs: {WARMUP_EPOCHS}}}\n"
        "checkpoint: {dir: runs}\n"
    )


def _heading(console: Console, title: str) -> None:
    """A rule on a terminal; one short line in a log (a rule there is as wide as the log)."""
    if console.is_terminal:
        console.rule(title)
    else:
        console.print(f"--- {title} ---", markup=False, highlight=False)


def run_demo(directory: Path, console: Console) -> DemoResult:
    """Run the four steps in ``directory`` and narrate them on ``console``."""
    _heading(console, "1. A healthy corpus: the gate passes")
    healthy = synthesize(directory / "corpus", SPEC, overwrite=True)
    report = audit(healthy.root)
    render_audit(report, console)
    healthy_exit = 0 if report.verdict is Verdict.PASS else 1

    _heading(console, "2. A broken copy (no seizure in dev): the gate says no")
    spec = SynthSpec(**{**SPEC.__dict__, "defects": frozenset({Defect.NO_DEV_POSITIVES})})
    broken = synthesize(directory / "broken", spec, overwrite=True)
    failed = audit(broken.root)
    for check in failed.checks:
        if not check.passed:
            console.print(f"[red]{check.name}[/red]: {check.message}")
    broken_exit = 0 if failed.verdict is Verdict.PASS else 1
    console.print(f"preflight audit {broken.root} -> exit code {broken_exit}")

    _heading(console, "3. Gated training on the healthy corpus (CPU)")
    config_path = directory / "run.yaml"
    write_text_atomic(config_path, run_config_text())
    console.print(f"run config: {config_path}", markup=False, highlight=False)
    run = train(
        load_run_config(config_path),
        on_epoch=lambda m: _epoch(console, m),
        on_gate=lambda notice: _gate(console, notice),
    )
    console.print(f"run {run.run_id}: {run.status}, {run.message}", markup=False)
    if run.evaluation is not None:
        for line in final_lines(run.evaluation):
            console.print(line, markup=False)

    _heading(console, "4. The report")
    path = directory / "report.html"
    write_text_atomic(path, _html(run, failed))
    console.print(f"HTML report: {path.resolve()}", markup=False, highlight=False)
    _next_steps(console, directory)
    return DemoResult(healthy_exit, broken_exit, run, path)


def _gate(console: Console, notice: GateNotice) -> None:
    console.print(gate_line(notice), markup=False, highlight=False)


def _next_steps(console: Console, directory: Path) -> None:
    """What a new user can do next, with the files the demo left."""
    console.print("\nNext:", markup=False)
    for command, what in (
        (f"preflight runs {directory / 'corpus'}", "the runs recorded in the corpus's manifest"),
        (f"preflight report {directory / 'broken'}", "the broken copy's audit again"),
        (f"preflight smoke {directory / 'run.yaml'}", "the whole pipeline in seconds"),
        (f"preflight train {directory / 'run.yaml'}", "train again with the demo's config"),
        ("preflight audit YOUR_CORPUS", "audit your own corpus (TUSZ, CHB-MIT, Siena, BIDS ...)"),
    ):
        console.print(f"  {command:<40}  {what}", markup=False, highlight=False)


def _epoch(console: Console, m: dict[str, Any]) -> None:
    v = m.get("validation") or {}
    auroc = v.get("auroc")
    shown = "undefined" if auroc is None else f"{float(auroc):.3f}"
    loss = m.get("train_loss")
    console.print(f"epoch {m.get('epoch')}: train loss {loss:.4f}, validation AUROC {shown}")


def _html(run: RunResult, broken: AuditReport) -> str:
    if run.audit is None:
        raise RuntimeError("the demo's run has no audit report")  # rank 0 always has one
    also = [("The broken copy: the gate says no (no seizure in dev)", broken)]
    return run_page(run.audit.manifest.path, run.run_id, title="preflight demo", also=also)
