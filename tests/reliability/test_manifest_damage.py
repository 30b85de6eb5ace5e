"""Damaged manifests and full disks are usage errors: exit 2, one line naming the file and a fix.

Every command that opens a manifest (``audit``, ``report``, ``runs``) refuses a truncated file,
another application's DuckDB database, a schema version that is not a number or is newer than
this preflight; a full disk at commit and under the window cache exit 2 too; and no report
path may name the manifest itself.
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


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "2000"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic corpus, audited: ``<root>/.preflight/manifest.duckdb``."""
    root = tmp_path_factory.mktemp("damage") / "corpus"
    small = ["--patients", "2", "--recordings", "2", "--min-duration", "200"]
    assert _cli("synth", str(root), *small, "--max-duration", "240")[0] == 0
    assert _cli("audit", str(root), "-q")[0] in (0, 1)
    return root


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100_000])


def _schema(value: str):  # type: ignore[no-untyped-def]
    def damage(path: Path) -> None:
        con = duckdb.connect(str(path))
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [value])
        con.close()

    return damage


def _other_application(path: Path) -> None:
    path.unlink()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INTEGER, total DOUBLE)")
    con.close()


DAMAGE = {
    "truncated": (_truncated, "truncated or damaged"),
    "schema_abc": (_schema("abc"), "schema version 'abc' is not a number"),
    "schema_future": (_schema("99"), "schema version 99 is newer than this preflight"),
    "other_application": (_other_application, "not a preflight manifest"),
}


@pytest.mark.parametrize("command", ["audit", "report", "runs"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_manifest_is_a_usage_error(
    audited: Path, tmp_path: Path, damage: str, command: str
) -> None:
    manifest = tmp_path / "m.duckdb"
    shutil.copyfile(audited / ".preflight" / "manifest.duckdb", manifest)
    make, needle = DAMAGE[damage]
    make(manifest)
    args = {
        "audit": ["audit", str(audited), "--manifest", str(manifest), "-q"],
        "report": ["report", str(manifest), "-q"],
        "runs": ["runs", "--manifest", str(manifest)],
    }[command]
    code, output = _cli(*args)
    assert code == 2, output
    text = " ".join(output.split())
    assert "Traceback" not in output
    assert text.startswith(f"error: {manifest}:"), text
    assert needle in text
    assert text.count("error:") == 1


@pytest.mark.parametrize("option", ["--json", "--junit", "--markdown", "--html"])
def test_no_report_is_written_over_the_manifest(audited: Path, tmp_path: Path, option: str) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(audited, root)
    manifest = root / ".preflight" / "manifest.duckdb"
    before = manifest.read_bytes()
    code, output = _cli("audit", str(root), option, str(manifest), "-q")
    assert code == 2, output
    assert "cannot be written over the manifest" in " ".join(output.split())
    code, output = _cli("report", str(manifest), option, str(manifest), "-q")
    assert code == 2, output
    assert manifest.read_bytes() == before


FULL = """
mount -t tmpfs -o size=64k tmpfs "$OUT" || exit 97
"$PYTHON" -m preflight audit "$ROOT" --manifest "$OUT/m.duckdb" -q
echo "EXIT=$?"
"$PYTHON" -c "$CACHE"
echo "CACHE=$?"
"""
CACHE = """
import sys
from pathlib import Path
import numpy as np
from preflight.errors import PreflightError
from preflight.data.cache import _write_atomic
try:
    _write_atomic(Path("$OUT") / "x.npy", np.zeros(100_000))
except PreflightError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.slow
def test_full_disks_at_commit_and_under_the_window_cache(audited: Path, tmp_path: Path) -> None:
    """A 64 KiB tmpfs (private mount namespace) under the manifest, then under a cache entry."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a tiny tmpfs in a private mount namespace")
    out = tmp_path / "out"
    out.mkdir()
    root = tmp_path / "corpus"
    shutil.copytree(audited, root)
    shutil.rmtree(root / ".preflight")
    cache = CACHE.replace('"$OUT"', repr(str(out)))
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "ROOT": str(root),
           "CACHE": cache, "COLUMNS": "2000"}  # fmt: skip
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", FULL], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    if done.returncode == 97 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert "Traceback" not in done.stderr, done.stderr
    assert lines["EXIT"] == "2", done.stdout + done.stderr
    assert "no space left on the manifest's disk" in " ".join(done.stderr.split())
    assert lines["CACHE"] == "2", done.stdout + done.stderr
    assert "cannot write the window cache: No space left on device" in done.stderr
