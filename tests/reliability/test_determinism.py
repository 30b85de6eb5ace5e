"""Same input, same verdict: an audit of the same bytes gives the same report every time.

Identical seizure rows once split a seizure at random (``seizure_idx`` -1, window overlap past
the window length): the merge ordered events by ``(start_s, stop_s)`` with ties, and its two
window passes could see tied rows in different orders. Every query feeding a check now has a
total order; these audits run twice on fresh manifests and must agree with each other and with
a brute-force merge.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from preflight.cli import app
from tests.reliability.corpus import csv_bi, term

FOLDER = "edf/train/aaaaaaaa/s001_2015/01_tcp_ar"
DURATION = 200
WINDOW = 10.0


def _audit(root: Path, manifest: Path) -> dict:
    out = manifest.with_suffix(".json")
    args = ["audit", str(root), "--labels-only", "--manifest", str(manifest), "--json", str(out)]
    result = CliRunner().invoke(app, [*args, "-q"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    report.pop("scan")
    report["manifest"].pop("path")
    return report


def _corpus(root: Path, intervals: list[tuple[float, float]], recordings: int = 1) -> None:
    """``recordings`` TUSZ ``.csv_bi`` files, each holding ``intervals`` as seizure rows."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    rows = [term(a, b) for a, b in intervals] + [term(0, DURATION, "bckg")]
    for t in range(recordings):
        name = f"aaaaaaaa_s001_t{t:03d}"
        (folder / f"{name}.csv_bi").write_text(csv_bi(name, DURATION, rows), encoding="utf-8")


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The brute-force union: touching intervals join, as the manifest's merge does."""
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _positive_windows(seizures: list[tuple[float, float]]) -> int:
    n = math.floor(DURATION / WINDOW)
    return sum(
        any(min(b, i * WINDOW + WINDOW) - max(a, i * WINDOW) > 0 for a, b in seizures)
        for i in range(n)
    )


def _check(report: dict, intervals: list[tuple[float, float]], recordings: int = 1) -> None:
    failed = [c for c in report["checks"] if c["name"].startswith("schema_") and not c["passed"]]
    assert failed == []
    seizures = _merged(intervals)
    assert report["totals"]["events"] == len(seizures) * recordings
    assert report["totals"]["positive_windows"] == _positive_windows(seizures) * recordings


@pytest.mark.slow
def test_two_thousand_identical_seizure_rows(tmp_path: Path) -> None:
    """The reported case: one seizure written 2,000 times is one seizure, audit after audit.
    Thirty such files make the events table big enough for DuckDB to sort it in parallel,
    where tied rows came out in a different order for each window pass."""
    intervals = [(20.0, 50.0)] * 2000
    _corpus(tmp_path / "c", intervals, recordings=30)
    reports = [_audit(tmp_path / "c", tmp_path / f"m{i}.duckdb") for i in range(3)]
    for report in reports:
        _check(report, intervals, recordings=30)
    assert reports[0] == reports[1] == reports[2]


# Whole seconds on a coarse grid make duplicates and touching intervals (b == next a) common.
_INTERVAL = st.tuples(st.integers(0, 38), st.integers(1, 6)).map(
    lambda t: (float(t[0] * 5), float(t[0] * 5 + t[1] * 5))
)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.lists(_INTERVAL, min_size=1, max_size=12),
    copies=st.integers(1, 40),
)
def test_duplicate_and_touching_intervals_audit_the_same_twice(
    tmp_path_factory: pytest.TempPathFactory, base: list[tuple[float, float]], copies: int
) -> None:
    where = tmp_path_factory.mktemp("det")
    intervals = [iv for iv in base for _ in range(copies)]
    intervals = [(a, min(b, float(DURATION))) for a, b in intervals]
    _corpus(where / "c", intervals)
    first = _audit(where / "c", where / "a.duckdb")
    second = _audit(where / "c", where / "b.duckdb")
    _check(first, intervals)
    assert first == second
