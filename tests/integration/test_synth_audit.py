"""``synth`` then ``audit``: statistics known by construction, for every layout."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pytest

from preflight.manifest.windows import EPS, WindowParams
from preflight.pipelines.audit import audit
from preflight.scanning.scan import ScanOptions
from preflight.synth.corpus import synthesize
from preflight.synth.spec import Layout, SynthCorpus, SynthSpec


def expected_stats(corpus: SynthCorpus, window: WindowParams) -> dict[str, dict[str, float]]:
    """Per-split statistics computed from synth's truth, independently of the manifest."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    patients: dict[str, set[str]] = defaultdict(set)
    pos_patients: dict[str, set[str]] = defaultdict(set)
    for rec in corpus.recordings:
        if rec.rejected:
            continue
        split = rec.split or "all"
        s = out[split]
        n = math.floor((rec.duration - window.window_s + EPS) / window.stride_s) + 1
        starts = [i * window.stride_s for i in range(max(n, 0))]
        positive = sum(
            any(e.start < a + window.window_s and e.stop > a for e in rec.events) for a in starts
        )
        s["recordings"] += 1
        s["positive_recordings"] += rec.positive
        s["events"] += len(rec.events)
        s["windows"] += len(starts)
        s["positive_windows"] += positive
        s["hours"] += rec.duration / 3600
        s["positive_hours"] += rec.seizure_seconds / 3600
        patients[split].add(rec.patient)
        if rec.positive:
            pos_patients[split].add(rec.patient)
    for split, s in out.items():
        s["patients"] = len(patients[split])
        s["positive_patients"] = len(pos_patients[split])
    return out


@pytest.mark.parametrize("layout", [Layout.TUSZ, Layout.CHBMIT, Layout.BIDS])
def test_audit_matches_synth_truth(tmp_path: Path, layout: Layout) -> None:
    spec = SynthSpec(
        layout=layout, train_patients=3, dev_patients=2, eval_patients=2,
        min_duration_s=200, max_duration_s=300, seed=7,
    )  # fmt: skip
    corpus = synthesize(tmp_path / "c", spec)
    window = WindowParams(window_s=4.0, stride_s=2.0)
    report = audit(corpus.root, options=ScanOptions(window=window))
    assert report.verdict == "pass", report.rejected
    want = expected_stats(corpus, window)
    assert set(report.splits) == set(want)
    for split, stats in report.splits.items():
        got = stats.model_dump()
        for key, value in want[split].items():
            assert got[key] == pytest.approx(value, abs=1e-3), (split, key)


def test_corrupt_files_are_each_rejected_with_their_reason(tmp_path: Path) -> None:
    spec = SynthSpec(train_patients=2, dev_patients=1, eval_patients=1, min_duration_s=200,
                     max_duration_s=240, defects=frozenset({"corrupt_files"}))  # fmt: skip
    corpus = synthesize(tmp_path / "c", spec)
    report = audit(corpus.root)
    assert report.verdict == "fail"
    got = {(r.path, r.reason) for r in report.rejected}
    for rec in corpus.recordings:
        if rec.rejected:
            planted = {p for p in (rec.edf, *rec.annotations) if p}
            assert any(path in planted and reason == rec.reason for path, reason in got), rec
    good = [r for r in corpus.recordings if not r.rejected]
    assert report.totals.recordings == len(good)
