"""`preflight demo` end to end with fewer epochs: the four steps and their exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from preflight.pipelines import demo
from preflight.run_config import load_run_config


@pytest.mark.slow
def test_demo_passes_fails_trains_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "EPOCHS", 1)
    monkeypatch.setattr(demo, "STEPS_PER_EPOCH", 4)
    monkeypatch.setattr(demo, "WARMUP_EPOCHS", 1)  # one epoch is too few to judge collapse
    console = Console(width=100, record=True)
    result = demo.run_demo(tmp_path, console)
    text = console.export_text()
    assert result.healthy_exit == 0
    assert result.broken_exit == 1
    assert "dev split has 0 positive windows (needs >= 1)" in text
    assert result.run.status == "completed", result.run.message
    assert result.run.metrics[0]["validation"]["auroc"] is not None
    assert result.run.audit is not None
    dev, held = result.run.audit.splits["dev"], result.run.audit.splits["eval"]
    assert result.run.metrics[0]["validation"]["windows"] == dev.windows  # eval: never peeked at
    final = result.run.evaluation
    assert final is not None
    assert (final["held_out"]["splits"], final["held_out"]["window"]["windows"]) == (
        ["eval"],
        held.windows,
    )
    chosen = final["validation"]["events"]["at_target"]["threshold"]
    assert final["held_out"]["events"]["at_target"]["threshold"] == chosen
    assert "Held out (eval): scored once, with these weights and the thresholds chosen on dev" in (
        " ".join(text.split())
    )
    assert "Gate PASS (" in text.split("epoch 1:")[0]  # the verdict before the first epoch
    assert "completed. completed" not in text
    config = load_run_config(tmp_path / "run.yaml")  # the config it trained with, reusable
    assert config.train.epochs == 1
    assert f"preflight smoke {tmp_path / 'run.yaml'}" in text
    assert f"preflight runs {tmp_path / 'corpus'}" in text
    html = result.report.read_text()
    assert "The broken copy: the gate says no" in html
    assert "dev split has 0 positive windows" in html
    assert "Training run" in html
    assert "held out (eval)" in html
    assert "http://" not in html
    assert "https://" not in html
