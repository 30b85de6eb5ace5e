"""No single file ends an audit: plausibility limits, and any unexpected error costs one file.

The EDF and annotation-size cases live in the catalogue (``edf_absurd_record_duration``,
``edf_longer_than_a_week``, ``csv_over_the_size_limit`` ...). Here: labels-only durations no
window count can hold, an exception planted in a reader, and the limits as config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.scanning import parse
from preflight.scanning.discover import Kind
from tests.reliability.corpus import CSV_HEADER, term
from tests.reliability.limits import time_limit

TUSZ = "edf/train/aaaaaaaa/s001_2015/01_tcp_ar"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "2000"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result.exit_code, result.output


def _labels_corpus(root: Path, durations: dict[str, str]) -> None:
    """One TUSZ ``.csv_bi`` per name, with ``# duration = <text> secs`` and one seizure."""
    folder = root / TUSZ
    folder.mkdir(parents=True)
    for i, (name, duration) in enumerate(durations.items()):
        text = CSV_HEADER.replace("{duration:.2f}", duration).format(name=name, duration=0)
        rows = [term(10, 40 + i), term(0, 100, "bckg")]
        (folder / f"{name}.csv_bi").write_text(text + "\n".join(rows) + "\n", encoding="utf-8")


def _report(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / "r.json"
    code, output = _cli("audit", *args, "--json", str(out), "-q")
    assert "Traceback" not in output
    return code, json.loads(out.read_text(encoding="utf-8"))


def test_labels_only_durations_no_window_count_holds(tmp_path: Path) -> None:
    """`# duration = 1` then 300 zeros (a DuckDB conversion error) and 1e9 s (minutes and
    gigabytes of windows) are rejected; the good file is audited."""
    root = tmp_path / "c"
    _labels_corpus(
        root,
        {
            "aaaaaaaa_s001_t000": "100.00",
            "aaaaaaaa_s001_t001": "1" + "0" * 300,
            "aaaaaaaa_s001_t002": "1000000000",
        },
    )
    with time_limit(60):  # before: 31-87 s and ~5 GB for the 1e9 s file alone
        code, report = _report(tmp_path, str(root), "--labels-only")
    assert code == 1
    got = {(r["path"].rsplit("/", 1)[1], r["reason"], r["line"]) for r in report["rejected"]}
    assert got == {
        ("aaaaaaaa_s001_t001.csv_bi", "implausible_duration", None),
        ("aaaaaaaa_s001_t002.csv_bi", "implausible_duration", None),
    }
    assert report["totals"]["recordings"] == 1


def test_an_exception_in_a_reader_costs_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug planted in the TUSZ reader for one file: that file is rejected as internal_error
    with the exception's text, its EDF follows as annotation_rejected, the rest is audited."""
    real, name, version = parse._ANNOTATION_READERS[Kind.TUSZ_CSV]

    def buggy(path: str):  # type: ignore[no-untyped-def]
        if path.endswith("t001.csv_bi"):
            raise KeyError("planted bug")
        return real(path)

    monkeypatch.setitem(parse._ANNOTATION_READERS, Kind.TUSZ_CSV, (buggy, name, version))
    root = tmp_path / "c"
    _labels_corpus(root, {"aaaaaaaa_s001_t000": "100.00", "aaaaaaaa_s001_t001": "100.00"})
    code, report = _report(tmp_path, str(root), "--labels-only")
    assert code == 1
    (rejected,) = report["rejected"]
    assert rejected["reason"] == "internal_error"
    assert rejected["path"].endswith("aaaaaaaa_s001_t001.csv_bi")
    assert "KeyError: 'planted bug'" in rejected["message"]
    assert report["totals"]["recordings"] == 1


def test_raising_the_size_limit_reads_the_file_again(tmp_path: Path) -> None:
    """A file left unread for its size is read on the next audit once the limit allows it."""
    root = tmp_path / "c"
    _labels_corpus(root, {"aaaaaaaa_s001_t000": "100.00", "aaaaaaaa_s001_t001": "100.00"})
    big = root / TUSZ / "aaaaaaaa_s001_t001.csv_bi"
    with big.open("a", encoding="utf-8") as fh:  # 40,000 rows: about 1.3 MB
        fh.writelines(term(0, 100, "bckg") + "\n" for _ in range(40_000))
    config = tmp_path / "c.yaml"
    config.write_text("audit:\n  limits: {max_annotation_mb: 1}\n", encoding="utf-8")
    code, report = _report(tmp_path, str(root), "--labels-only", "--config", str(config))
    assert code == 1
    assert [r["reason"] for r in report["rejected"]] == ["too_large"]
    assert "1.3 MB is larger than the 1 MB limit" in report["rejected"][0]["message"]
    config.write_text("audit:\n  limits: {max_annotation_mb: 2}\n", encoding="utf-8")
    _, report = _report(tmp_path, str(root), "--labels-only", "--config", str(config))
    assert report["rejected"] == []
    assert report["totals"]["recordings"] == 2
    assert os.path.getsize(big) > 1024 * 1024
