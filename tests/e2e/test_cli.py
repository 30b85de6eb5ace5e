"""The command line, in-process with CliRunner and once end to end in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app

SPLIT_KEYS = {
    "recordings", "patients", "positive_recordings", "positive_patients", "events", "windows",
    "positive_windows", "hours", "positive_hours",
}  # fmt: skip
TOTAL_KEYS = {
    "recordings", "rejected", "patients", "positive_recordings", "positive_patients", "events",
    "windows", "positive_windows", "hours", "positive_hours",
}  # fmt: skip
CHECK_KEYS = {"name", "split", "severity", "passed", "observed", "expected", "message"}


def check_contract(report: dict) -> None:
    """The JSON audit report of ARCHITECTURE.md: keys and types."""
    assert report["verdict"] in ("pass", "fail")
    assert set(report["manifest"]) == {"path", "fingerprint"}
    assert set(report["totals"]) == TOTAL_KEYS
    assert all(
        isinstance(report["totals"][k], int) for k in TOTAL_KEYS - {"hours", "positive_hours"}
    )
    for stats in report["splits"].values():
        assert set(stats) == SPLIT_KEYS
    for check in report["checks"]:
        assert set(check) >= CHECK_KEYS
        assert check["severity"] in ("error", "warning")
    for rejected in report["rejected"]:
        assert {"path", "reason", "message"} <= set(rejected)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small healthy synthetic corpus, written once for this module."""
    root = tmp_path_factory.mktemp("cli") / "corpus"
    args = ["synth", str(root), "--patients", "2", "--min-duration", "200", "--max-duration", "260"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return root


def test_audit_passes_and_writes_the_json_contract(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["audit", str(corpus), "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    check_contract(report)
    truth = json.loads((corpus / "synth_truth.json").read_text())["summary"]
    for split, stats in truth["splits"].items():
        for key in ("recordings", "patients", "events", "positive_recordings"):
            assert report["splits"][split][key] == stats[key], (split, key)


def test_broken_corpus_exits_1(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    runner = CliRunner()
    synth = [
        "synth",
        str(root),
        "--patients",
        "1",
        "--min-duration",
        "200",
        "--max-duration",
        "220",
    ]
    assert runner.invoke(app, [*synth, "--defect", "corrupt_files"]).exit_code == 0
    result = runner.invoke(app, ["audit", str(root)])
    assert result.exit_code == 1
    assert "edf_truncated" in result.output
    assert "Verdict: FAIL" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["audit", "/nonexistent/corpus"], "no such file or folder"),
        (["audit", "EMPTY"], "found no recording or annotation file"),
        (["audit", "EMPTY", "--window", "-1"], "Invalid value"),
        (["audit", "EMPTY", "--format", "nope"], "Invalid value"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_all_inputs_rejected_exits_2(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.edf").write_text("<html>not an EDF</html>")
    result = CliRunner().invoke(app, ["audit", str(root)])
    assert result.exit_code == 2
    assert "not_edf" in result.output
    assert "no usable recording" in result.output


def test_end_to_end_in_a_subprocess(tmp_path: Path) -> None:
    """`preflight synth DIR && preflight audit DIR --json FILE`, as a user types it."""
    root, out = tmp_path / "c", tmp_path / "r.json"
    cli = [sys.executable, "-m", "preflight"]
    subprocess.run([*cli, "synth", str(root)], check=True, capture_output=True)
    done = subprocess.run(
        [*cli, "audit", str(root), "--json", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    check_contract(json.loads(out.read_text()))
    assert "Verdict: PASS" in done.stdout


def test_report_renders_the_stored_audit(corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["audit", str(corpus), "-q"]).exit_code == 0
    manifest = corpus / ".preflight" / "manifest.duckdb"
    out = tmp_path / "again.json"
    result = runner.invoke(app, ["report", str(manifest), "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    check_contract(json.loads(out.read_text()))
    assert out.stat().st_mode & 0o044  # readable by others, as the umask allows
    missing = runner.invoke(app, ["report", str(manifest), "--audit", "999"])
    assert missing.exit_code == 2
    assert "no report of audit 999" in missing.output
