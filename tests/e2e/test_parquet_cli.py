"""`preflight synth --layout stamps` then `preflight audit`, in-process, as a new user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app

SMALL = ["--layout", "stamps", "--files", "2", "--rows", "16", "--row-group-rows", "8"]
FLAGS = ["--label-column", "is_control", "--label-map", "0=positive,1=negative"]


def synth(tmp_path: Path, *defects: str) -> Path:
    """A small stamp dataset with ``defects``; its root."""
    root = tmp_path / "stamps"
    args = ["synth", str(root), *SMALL, *(a for d in defects for a in ("--defect", d))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "debug 2 files" in result.output
    return root


def audit(root: Path, *extra: str) -> tuple[int, str, dict[str, object]]:
    """Exit code, terminal output and the JSON report of `preflight audit ROOT`."""
    out = root.parent / "report.json"
    args = ["audit", str(root), "--group-column", "region", *extra, "--json", str(out)]
    result = CliRunner().invoke(app, [*args, "--config", str(_config(root))], terminal_width=200)
    report = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, result.output, report


def _config(root: Path) -> Path:
    """Batches of 8 (the small tiers hold 16 lenses each)."""
    path = root.parent / "audit.yaml"
    path.write_text("gate:\n  batch_size: 8\n")
    return path


def test_healthy_tiers_pass_with_per_tier_class_counts(tmp_path: Path) -> None:
    code, output, report = audit(synth(tmp_path), *FLAGS)
    assert code == 0, output
    splits = report["splits"]
    assert isinstance(splits, dict)
    assert {k: (v["windows"], v["positive_windows"]) for k, v in splits.items()} == {
        "train": (32, 16),
        "dev": (32, 16),
        "debug": (32, 16),
    }
    assert "Audit: Parquet tables" in output
    assert "seizure" not in output  # no EEG-only columns for tables


def test_one_class_tier_fails_with_exit_1_naming_it(tmp_path: Path) -> None:
    code, output, report = audit(synth(tmp_path, "one_class_tier"))
    assert code == 1
    assert "both_classes [debug]: debug split holds one class (positive only)" in output
    assert report["verdict"] == "fail"


def test_a_region_in_two_tiers_fails_the_leak_checks(tmp_path: Path) -> None:
    code, output, _ = audit(synth(tmp_path, "group_leak"))
    assert code == 1
    assert "patient_disjoint" in output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label-map", "0=positive,1=maybe"], "--label-map: '1=maybe' is not VALUE=positive"),
        (["--label-map", "0=positive"], "must map at least one value to each of"),
        (["--split-column", "region"], "must differ"),
    ],
)
def test_bad_parquet_flags_exit_2_naming_the_option(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    code, output, _ = audit(synth(tmp_path), *extra)
    assert code == 2
    assert message in " ".join(output.split())


def test_parquet_section_errors_name_key_and_line(tmp_path: Path) -> None:
    root = synth(tmp_path)
    config = tmp_path / "bad.yaml"
    config.write_text("parquet:\n  label_column: is_control\n  label_mapp: {0: positive}\n")
    result = CliRunner().invoke(app, ["audit", str(root), "--config", str(config)])
    assert result.exit_code == 2
    assert "parquet.label_mapp (line 3)" in " ".join(result.output.split())


def test_synth_audit_then_train_the_stamp_classifier(tmp_path: Path) -> None:
    """The issue's "done when": the one-class tier is refused; the healthy tiers train, with
    AUROC in the run's evaluation."""
    broken = synth(tmp_path / "broken", "one_class_tier")
    code, output, _ = audit(broken)
    assert code == 1
    assert "one class" in output
    root = synth(tmp_path)
    config = tmp_path / "run.yaml"
    example = (Path(__file__).parents[2] / "examples" / "stamps.yaml").read_text()
    quick = "train:\n  epochs: 2\n  steps_per_epoch: 2\n  batch_size: 8\n  min_positives: 2\n"
    config.write_text(
        example.replace("source: stamps-data", f"source: {root}")
        .split("train:\n")[0]
        .replace("kwargs: {widths: [16, 32], blocks_per_stage: 1}", "kwargs: {widths: [8]}")
        + quick
        + "  target_positive_fraction: 0.5\n  spread: window\n  device: cpu\n"
        + "monitors: {warmup_epochs: 2}\nvalidation: {splits: [dev], batch_size: 64}\n"
    )
    result = CliRunner().invoke(app, ["train", str(config)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.output
    manifest = str(root / ".preflight" / "manifest.duckdb")
    runs = CliRunner().invoke(app, ["runs", "--manifest", manifest, "--json"])
    (run,) = json.loads(runs.output)
    shown = CliRunner().invoke(
        app, ["runs", "show", run["run_id"], "--manifest", manifest, "--json"]
    )
    metrics = json.loads(shown.output)["metrics"]
    assert len(metrics) == 2
    assert 0.0 <= metrics[-1]["validation"]["auroc"] <= 1.0
