"""``preflight demo``: the main job, end to end, on built-in synthetic data.

1. synthesize a small TUSZ-like corpus and audit it: the gate passes;
2. audit a broken copy (its dev split holds no seizure): the gate fails, exit code 1;
3. train the seizure detector on the healthy corpus, gated, on the CPU (about two minutes):
   the best checkpoint and the false-alarm threshold are chosen on the validation split (dev),
   then the held-out split (eval) is scored once with them and reported apart;
4. write one HTML report with the audit, the training curves and the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from preflight.pipelines.audit import audit
from preflight.pipelines.train import RunResult, run_page, train
from preflight.reports.json_report import write_text_atomic
from preflight.reports.terminal import render_audit
from preflight.reports.training import final_lines
from preflight.results import Verdict
from preflight.run_config import (
    CheckpointConfig,
    DataConfig,
    ModelConfig,
    MonitorConfig,
    RunConfig,
    TrainConfig,
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


def demo_config(corpus: Path, out: Path) -> RunConfig:
    """The run config of the demo's training (small model, a few short epochs)."""
    return RunConfig(
        data=DataConfig(source=corpus),
        model=ModelConfig(name="seizure_tcn", kwargs={"hidden": 32, "levels": 5}),
        train=TrainConfig(
            epochs=EPOCHS,
            steps_per_epoch=STEPS_PER_EPOCH,
            batch_size=BATCH_SIZE,
            target_positive_fraction=POSITIVE_FRACTION,
        ),
        monitors=MonitorConfig(warmup_epochs=WARMUP_EPOCHS),
        checkpoint=CheckpointConfig(dir=out / "runs"),
    )


def run_demo(directory: Path, console: Console) -> DemoResult:
    """Run the four steps in ``directory`` and narrate them on ``console``."""
    console.rule("1. A healthy corpus: the gate passes")
    healthy = synthesize(directory / "corpus", SPEC, overwrite=True)
    report = audit(healthy.root)
    render_audit(report, console)
    healthy_exit = 0 if report.verdict is Verdict.PASS else 1

    console.rule("2. A broken copy (no seizure in dev): the gate says no")
    spec = SynthSpec(**{**SPEC.__dict__, "defects": frozenset({Defect.NO_DEV_POSITIVES})})
    broken = synthesize(directory / "broken", spec, overwrite=True)
    failed = audit(broken.root)
    for check in failed.checks:
        if not check.passed:
            console.print(f"[red]{check.name}[/red]: {check.message}")
    broken_exit = 0 if failed.verdict is Verdict.PASS else 1
    console.print(f"preflight audit {broken.root} -> exit code {broken_exit}")

    console.rule("3. Gated training on the healthy corpus (CPU)")
    run = train(demo_config(healthy.root, directory), on_epoch=lambda m: _epoch(console, m))
    console.print(f"run {run.run_id}: {run.status}. {run.message}")
    if run.evaluation is not None:
        for line in final_lines(run.evaluation):
            console.print(line, markup=False)

    console.rule("4. The report")
    path = directory / "report.html"
    write_text_atomic(path, _html(run))
    console.print(f"HTML report: {path.resolve()}")
    return DemoResult(healthy_exit, broken_exit, run, path)


def _epoch(console: Console, m: dict[str, Any]) -> None:
    v = m.get("validation") or {}
    auroc = v.get("auroc")
    shown = "undefined" if auroc is None else f"{float(auroc):.3f}"
    loss = m.get("train_loss")
    console.print(f"epoch {m.get('epoch')}: train loss {loss:.4f}, validation AUROC {shown}")


def _html(run: RunResult) -> str:
    if run.audit is None:
        raise RuntimeError("the demo's run has no audit report")  # rank 0 always has one
    return run_page(run.audit.manifest.path, run.run_id, title="preflight demo")
