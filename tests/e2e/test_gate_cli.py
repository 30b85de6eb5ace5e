"""Each planted defect fails `preflight audit` with exit 1, named in every report format."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.reports.markdown import escape_markdown

SMALL = ["--patients", "2", "--min-duration", "200", "--max-duration", "260"]

# defect -> (extra audit args, failing check, split named in the message or None)
CASES = {
    "no_dev_positives": ([], "min_positive_windows", "dev"),
    "one_class": ([], "both_classes", "train"),
    "patient_leak": ([], "patient_disjoint", None),
    "duplicate_recording": ([], "recording_disjoint", None),
    "batch_too_large": (["--config", "BIG_BATCH"], "sampler_feasible", "train"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_defect_fails_in_every_format(tmp_path: Path, case: str) -> None:
    extra, check_name, split = CASES[case]
    root, out = tmp_path / "c", tmp_path / "out"
    defect = [] if case == "batch_too_large" else ["--defect", case]
    runner = CliRunner()
    assert runner.invoke(app, ["synth", str(root), *SMALL, *defect]).exit_code == 0
    big = tmp_path / "big.yaml"
    big.write_text("gate:\n  batch_size: 4096\n")
    extra = [str(big) if a == "BIG_BATCH" else a for a in extra]
    reports = {f: out / f"report.{f}" for f in ("json", "xml", "md", "html")}
    args = ["audit", str(root), *extra, "--json", str(reports["json"])]
    args += ["--junit", str(reports["xml"]), "--markdown", str(reports["md"])]
    args += ["--html", str(reports["html"])]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output

    data = json.loads(reports["json"].read_text())
    failed = [c for c in data["checks"] if c["name"] == check_name and not c["passed"]]
    assert failed, [c["name"] for c in data["checks"] if not c["passed"]]
    check = failed[0]
    assert check["severity"] == "error"
    if split is not None:
        assert check["split"] == split
        assert check["message"].startswith(f"{split} split has")
    assert "needs" in check["message"] or "allowed" in check["message"]  # the threshold is named
    message = check["message"]

    cases = ET.parse(reports["xml"]).getroot().iter("testcase")
    junit = [c for c in cases if c.get("name") == check_name and c.find("failure") is not None]
    assert any(c.find("failure").get("message") == message for c in junit)  # type: ignore[union-attr]
    assert escape_markdown(message) in reports["md"].read_text()
    assert html.escape(message, quote=False) in reports["html"].read_text()
    assert message in result.output.replace("\n", " ") or check_name in result.output


def test_healthy_corpus_passes_with_every_format(tmp_path: Path) -> None:
    root, out = tmp_path / "c", tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(app, ["synth", str(root), *SMALL]).exit_code == 0
    args = ["audit", str(root), "--json", str(out / "r.json"), "--junit", str(out / "r.xml")]
    args += ["--markdown", str(out / "r.md"), "--html", str(out / "r.html")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    suite = ET.parse(out / "r.xml").getroot()
    assert not list(suite.iter("failure"))
    assert "PASS" in (out / "r.md").read_text()
    assert "<svg" in (out / "r.html").read_text() or "data:image" in (out / "r.html").read_text()


def test_stratified_split_rescues_a_corpus_without_dev_positives(tmp_path: Path) -> None:
    """The declared split has no seizure in dev; the builder's split passes the gate."""
    root = tmp_path / "c"
    runner = CliRunner()
    synth = ["synth", str(root), "--patients", "3", "--defect", "no_dev_positives"]
    assert (
        runner.invoke(app, [*synth, "--min-duration", "200", "--max-duration", "260"]).exit_code
        == 0
    )
    assert runner.invoke(app, ["audit", str(root), "-q"]).exit_code == 1
    result = runner.invoke(app, ["audit", str(root), "--split", "stratified", "--seed", "3"])
    assert result.exit_code == 0, result.output
