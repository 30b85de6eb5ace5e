"""Nothing lost beside a bad file, in a labels-only audit too (the EDF cases are catalogued).

A recording's broken ``.csv_bi`` rejects the recording; its good per-channel ``.csv`` is then
rejected as a follow-on naming the broken file, never audited alone nor dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from tests.reliability.corpus import csv_bi, term

FOLDER = "edf/train/aaaaaaaa/s001_2015/01_tcp_ar"
KEY = "aaaaaaaa_s001_t001"


@pytest.mark.parametrize(
    ("broken", "raw"),
    [
        (".csv_bi", csv_bi(KEY, 100, ["TERM,0.0000,inf,bckg,1.0000"]).encode()),
        (".csv_bi", csv_bi(KEY, 100, [term(0, 100, "bckg")]).encode("utf-16")),
        (".csv", csv_bi(KEY, 100, ["FP1-F7,0.0000,100.0000,bc\x00kg,1.0000"]).encode()),
    ],
    ids=["inf_stop", "utf16", "nul_label"],
)
def test_labels_only_rejects_the_sibling_of_a_bad_file(
    tmp_path: Path, broken: str, raw: bytes
) -> None:
    root = tmp_path / "c"
    folder = root / FOLDER
    folder.mkdir(parents=True)
    good = "aaaaaaaa_s001_t000"
    (folder / f"{good}.csv_bi").write_text(csv_bi(good, 100, [term(10, 40)]), encoding="utf-8")
    (folder / f"{KEY}.csv_bi").write_text(csv_bi(KEY, 100, [term(10, 30)]), encoding="utf-8")
    channel = csv_bi(KEY, 100, ["FP1-F7,0.0000,100.0000,bckg,1.0000"])
    (folder / f"{KEY}.csv").write_text(channel, encoding="utf-8")
    (folder / f"{KEY}{broken}").write_bytes(raw)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["audit", str(root), "--labels-only", "--json", str(out)])
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    reasons = {r["path"].rsplit("/", 1)[1]: r["reason"] for r in report["rejected"]}
    sibling = ".csv" if broken == ".csv_bi" else ".csv_bi"
    assert reasons[f"{KEY}{sibling}"] == "annotation_rejected"
    assert reasons[f"{KEY}{broken}"] != "annotation_rejected"
    assert set(reasons) == {f"{KEY}.csv", f"{KEY}.csv_bi"}
    assert report["totals"]["recordings"] == 1
