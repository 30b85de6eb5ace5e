"""SIGINT and SIGTERM stop a command cleanly: one line, exit 130 / 143, nothing half-written.

Real signals to real subprocesses. The audit is signalled while DuckDB runs a statement (a
second-long query planted after the scan's derive step): before, SIGINT gave "RuntimeError:
Query interrupted" with exit 1 and SIGTERM had no handler. A training run signalled after its
first optimizer step is marked ``interrupted`` (resumable) and exits 143.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from preflight.cli import app

# Runs the CLI with a long DuckDB statement after derive, and a signal to itself 0.5 s into it.
AUDIT_HARNESS = """
import os, signal, sys, threading
import preflight.scanning.scan as scan_module
sig = getattr(signal, sys.argv[1])
original = scan_module.derive
def derive(m, **kw):
    original(m, **kw)
    threading.Timer(0.5, os.kill, (os.getpid(), sig)).start()
    for _ in range(20):  # about a second each: the signal lands inside one
        m.con.execute("SELECT count(*) FROM range(1500000000) t(i) WHERE i % 7 = 3").fetchall()
scan_module.derive = derive
from preflight.cli import app
sys.argv = ["preflight", *sys.argv[2:]]
app()
"""

# Sends the signal to itself right after the first optimizer step of the run.
TRAIN_HARNESS = """
import os, signal, sys
import preflight.training.loop as loop
sig = getattr(signal, sys.argv[1])
original = loop._step
def step(*args, **kwargs):
    out = original(*args, **kwargs)
    os.kill(os.getpid(), sig)
    return out
loop._step = step
from preflight.cli import app
sys.argv = ["preflight", *sys.argv[2:]]
app()
"""


def _run(harness: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", harness, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "2000"},
    )  # fmt: skip


def _audits(manifest: Path) -> tuple[int, int]:
    con = duckdb.connect(str(manifest), read_only=True)
    try:
        row = con.execute("SELECT count(*), max(audit_id) FROM audits").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1] or 0)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic corpus, audited once."""
    root = tmp_path_factory.mktemp("signals") / "corpus"
    small = ["--patients", "2", "--recordings", "2", "--min-duration", "200"]
    assert (
        CliRunner().invoke(app, ["synth", str(root), *small, "--max-duration", "240"]).exit_code
        == 0
    )
    assert CliRunner().invoke(app, ["audit", str(root), "-q"]).exit_code in (0, 1)
    return root


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_a_duckdb_statement_stops_the_audit_cleanly(
    audited: Path, tmp_path: Path, name: str, code: int
) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(audited, root)
    manifest = root / ".preflight" / "manifest.duckdb"
    before = _audits(manifest)
    done = _run(AUDIT_HARNESS, name, "audit", str(root), "--window", "5", "-q")  # derives again
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        f"interrupted by {name}: the audit stopped; its scan, split and gate are rolled back, "
        "the manifest holds the previous audit"
    ]
    assert _audits(manifest) == before  # rolled back whole
    assert CliRunner().invoke(app, ["audit", str(root), "-q"]).exit_code in (0, 1)  # usable


@pytest.mark.slow
def test_sigterm_marks_a_training_run_interrupted(tmp_path: Path) -> None:
    from tests.integration.test_train import _corpus, write_config

    corpus = _corpus(tmp_path / "corpus")
    config = write_config(tmp_path, corpus, train={"epochs": 1, "steps_per_epoch": 4})
    done = _run(TRAIN_HARNESS, "SIGTERM", "train", str(config), "-q")
    assert done.returncode == 143, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "interrupted by SIGTERM: the run is marked interrupted" in " ".join(done.stderr.split())
    con = duckdb.connect(str(corpus / ".preflight" / "manifest.duckdb"), read_only=True)
    try:
        status, message = con.execute("SELECT status, message FROM runs").fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert status == "interrupted"
    assert "SIGTERM" in message
