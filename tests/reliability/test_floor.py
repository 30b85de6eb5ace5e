"""The gate's floor: no suite or config lets a seizure-free evaluation split pass.

A corpus whose dev split holds no seizure (``synth --defect no_dev_positives``) must fail the
audit (exit 1) naming the floor check, whatever suite is given: an empty suite, one that lowers
the floor's thresholds to zero, or one named in the config. (A config that makes a floor check a
warning, or lowers a threshold below 1, is a config error: see the catalogue's config cases.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app

EMPTY_SUITE = {"name": "nothing", "expectations": []}
LOWERED_SUITE = {
    "name": "lowered",
    "expectations": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "classes", "min_value": 0},
         "meta": {"check": "both_classes", "severity": "warning"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "positive_events", "min_value": 0},
         "meta": {"check": "min_positive_events"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "classes", "min_value": 1},
         "meta": {"check": "auroc_defined", "applies_to": "evaluation"}},
    ],
}  # fmt: skip
EXTRA_SUITE = {
    "name": "extra",
    "expectations": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "recordings", "min_value": 1},
         "meta": {"check": "min_recordings"}},
    ],
}  # fmt: skip


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "2000"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``nodev``: dev has no seizure; ``healthy``: every split has both classes."""
    where = tmp_path_factory.mktemp("floor")
    small = ["--patients", "2", "--recordings", "2", "--min-duration", "200"]
    small += ["--max-duration", "240"]
    assert _cli("synth", str(where / "nodev"), *small, "--defect", "no_dev_positives")[0] == 0
    assert _cli("synth", str(where / "healthy"), *small)[0] == 0
    return where


def _audit(corpora: Path, name: str, tmp_path: Path, *args: str) -> tuple[int, dict]:
    root = tmp_path / name
    shutil.copytree(corpora / name, root)
    out = tmp_path / "r.json"
    code, output = _cli("audit", str(root), "--json", str(out), "-q", *args)
    assert "Traceback" not in output
    return code, json.loads(out.read_text(encoding="utf-8"))


def _failed(report: dict) -> set[tuple[str, str | None]]:
    return {
        (c["name"], c["split"])
        for c in report["checks"]
        if not c["passed"] and c["severity"] == "error"
    }


@pytest.mark.parametrize("suite", [EMPTY_SUITE, LOWERED_SUITE], ids=["empty", "lowered"])
@pytest.mark.parametrize("how", ["--suite", "gate.suite"])
def test_a_user_suite_cannot_lower_the_floor(
    corpora: Path, tmp_path: Path, suite: dict, how: str
) -> None:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite), encoding="utf-8")
    if how == "--suite":
        args = ["--suite", str(path)]
    else:
        config = tmp_path / "c.yaml"
        config.write_text(f"gate:\n  suite: {path}\n", encoding="utf-8")
        args = ["--config", str(config)]
    code, report = _audit(corpora, "nodev", tmp_path, *args)
    assert code == 1
    assert report["verdict"] == "fail"
    failed = _failed(report)
    assert {("both_classes", "dev"), ("min_positive_events", "dev")} <= failed
    assert ("auroc_defined", "dev") in failed


def test_a_user_suite_adds_to_the_packaged_one(corpora: Path, tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(EXTRA_SUITE), encoding="utf-8")
    code, report = _audit(corpora, "healthy", tmp_path, "--suite", str(path))
    assert code == 0, _failed(report)
    names = {c["name"] for c in report["checks"]}
    assert {"min_recordings", "both_classes", "auroc_defined", "sampler_feasible"} <= names
    code, report = _audit(corpora, "nodev", tmp_path / "b", "--suite", str(path))
    assert code == 1
    assert ("both_classes", "dev") in _failed(report)


# --- expected splits ---------------------------------------------------------------------------


def _splits_present(report: dict) -> dict:
    (check,) = [c for c in report["checks"] if c["name"] == "splits_present"]
    return check


def test_a_dangling_dev_link_is_a_missing_split(corpora: Path, tmp_path: Path) -> None:
    """The TUSZ layout names dev; a dev folder link to nowhere fails the gate naming it."""
    root = tmp_path / "healthy"
    shutil.copytree(corpora / "healthy", root)
    shutil.rmtree(root / "edf" / "dev")
    (root / "edf" / "dev").symlink_to("/nonexistent/dev")
    out = tmp_path / "r.json"
    code, output = _cli("audit", str(root), "--json", str(out), "-q")
    assert code == 1, output
    report = json.loads(out.read_text(encoding="utf-8"))
    check = _splits_present(report)
    assert (check["passed"], check["severity"]) == (False, "error")
    assert "dev" in check["expected"]
    assert "dev" not in check["observed"]
    assert "edf/dev: dangling symlink" in check["message"]
    assert {(r["path"], r["reason"]) for r in report["rejected"]} == {("edf/dev", "unreadable")}


@pytest.mark.slow
def test_an_unreadable_dev_folder_is_a_missing_split(corpora: Path, tmp_path: Path) -> None:
    """A dev folder of mode 000 is one rejected entry, well under 5 %: still a missing split."""
    from tests.reliability.test_catalogue import audit_unprivileged

    root = tmp_path / "healthy"
    shutil.copytree(corpora / "healthy", root)
    out = tmp_path / "r.json"
    (root / "edf" / "dev").chmod(0)
    try:
        code, output = audit_unprivileged(["audit", str(root), "--json", str(out), "-q"], 120)
    finally:
        (root / "edf" / "dev").chmod(0o755)
    assert code == 1, output
    check = _splits_present(json.loads(out.read_text(encoding="utf-8")))
    assert not check["passed"]
    assert "edf/dev: cannot list folder" in check["message"]


def test_a_tier_of_empty_parquet_files_is_a_missing_split(tmp_path: Path) -> None:
    """Every dev file holds 0 rows: the tier is rejected file by file and dev is named empty."""
    import pyarrow.parquet as pq

    root = tmp_path / "stamps"
    assert _cli("synth", str(root), "--layout", "stamps", "--files", "2", "--rows", "16")[0] == 0
    for path in sorted((root / "dev").glob("*.parquet")):
        pq.write_table(pq.read_table(path).slice(0, 0), path)
    config = tmp_path / "c.yaml"
    config.write_text("gate:\n  max_rejected_fraction: 1.0\n", encoding="utf-8")
    out = tmp_path / "r.json"
    code, output = _cli("audit", str(root), "--config", str(config), "--json", str(out), "-q")
    assert code == 1, output
    check = _splits_present(json.loads(out.read_text(encoding="utf-8")))
    assert not check["passed"]
    assert "dev: empty: all 2 of its input file(s) were rejected" in check["message"]
