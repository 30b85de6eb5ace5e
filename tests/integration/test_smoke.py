"""``preflight smoke`` and the event-level evaluation of a run, end to end on tiny corpora.

A smoke run is the real pipeline made small: the corpus is audited and gated with the config's
thresholds, then one epoch of a few batches trains on two recordings with seizures and two
without per split, chosen from the manifest. The run's last validation pass is also scored at
the event level (SzCORE any-overlap).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from preflight.cli.runs import runs_app
from preflight.cli.train import smoke as smoke_command
from preflight.data.montage import check_recordings
from preflight.manifest.runs import RunStatus, list_runs
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.pipelines.smoke import (
    STEPS,
    SmokeSubset,
    check_subset,
    choose_files,
    choose_subset,
)
from preflight.pipelines.train import smoke, train
from preflight.run_config import load_run_config
from preflight.synth.corpus import Defect
from tests.integration.test_train import _corpus, write_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three patients per split, three recordings each, about half of them with a seizure."""
    return _corpus(
        tmp_path_factory.mktemp("smoke") / "corpus", train_patients=3, dev_patients=3,
        recordings_per_patient=3,
    )  # fmt: skip


@pytest.fixture(scope="module")
def montage(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> object:
    """The montage of the tests' run configs (TCP bipolar, the default)."""
    config = load_run_config(write_config(tmp_path_factory.mktemp("cfg"), corpus))
    return config.preprocess.preprocessing().montage


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("smoke")(smoke_command)
    app.add_typer(runs_app, name="runs")
    return app


def _subset_rows(manifest: Path, subset: SmokeSubset) -> list[tuple[str, str, bool, float]]:
    with Manifest.open(manifest, read_only=True) as m:
        return [
            (split, patient, bool(positive), float(duration))
            for split, patient, positive, duration in m.query(
                "SELECT split, patient, EXISTS (SELECT 1 FROM seizures s WHERE s.rec_idx ="
                " r.rec_idx), duration_s FROM recordings r WHERE list_contains($r, rec_idx)",
                {"r": list(subset.recordings)},
            )
        ]


def test_smoke_trains_one_short_epoch_on_two_and_two_per_split(
    cli: typer.Typer, corpus: Path, montage: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path, corpus)
    html = tmp_path / "smoke.html"
    result = CliRunner().invoke(cli, ["smoke", str(config), "--html", str(html)])
    assert result.exit_code == 0, result.output
    manifest = corpus / ".preflight" / "manifest.duckdb"
    with Manifest.open(manifest, read_only=True) as m:
        (run,) = [r for r in list_runs(m) if r.run_dir and str(tmp_path) in r.run_dir]
        subset = choose_subset(m, ("train", "dev"), check_recordings(m, montage).usable)
        windows = m.query(
            "SELECT count(*) FROM windows WHERE list_contains($r, rec_idx)"
            " AND rec_idx IN (SELECT rec_idx FROM recordings WHERE split = 'dev')",
            {"r": list(subset.recordings)},
        )[0][0]
    assert (run.kind, run.status) == ("smoke", RunStatus.COMPLETED)
    (epoch,) = run.metrics
    assert epoch["batches"] == epoch["with_positives"] == STEPS
    assert epoch["validation"]["windows"] == windows  # only the subset's dev recordings
    assert epoch["validation"]["auroc"] is not None
    assert run.evaluation is not None
    assert run.evaluation["validation"]["events"]["scorer"] == "SzCORE any-overlap"
    assert subset.per_split == {"train": (2, 2), "dev": (2, 2)}
    rows = _subset_rows(manifest, subset)
    for split in ("train", "dev"):
        for positive in (True, False):
            chosen = [r for r in rows if r[0] == split and r[2] is positive]
            assert len({patient for _, patient, _, _ in chosen}) == 2  # different patients
    assert sorted(p.name for p in Path(run.run_dir or "").iterdir()) == ["best.pt", "epoch-0001.pt"]
    page = html.read_text(encoding="utf-8")
    assert "Training run" in page
    assert "Event-level evaluation, validation (SzCORE any-overlap)" in page
    shown = CliRunner().invoke(cli, ["runs", "show", run.run_id, "--config", str(config)])
    assert "(smoke)" in shown.output
    assert "SzCORE any-overlap over 4 validation" in shown.output


def test_subset_takes_the_shortest_recording_per_patient(corpus: Path, montage: Any) -> None:
    manifest = Path(audit(corpus).manifest.path)
    with Manifest.open(manifest, read_only=True) as m:
        usable = check_recordings(m, montage).usable
        subset = choose_subset(m, ("train",), usable)
        per_patient = m.query(
            "SELECT patient, EXISTS (SELECT 1 FROM seizures s WHERE s.rec_idx = r.rec_idx) AS pos,"
            " min(duration_s) FROM recordings r WHERE split = 'train' GROUP BY ALL"
        )
    shortest = sorted(d for _, pos, d in per_patient if pos)[:2]
    chosen = sorted(d for _, _, pos, d in _subset_rows(manifest, subset) if pos)
    assert chosen == shortest


def test_smoke_on_a_gate_failing_corpus_exits_1_without_a_model(
    cli: typer.Typer, tmp_path: Path
) -> None:
    broken = _corpus(tmp_path / "broken", defects=frozenset({Defect.NO_DEV_POSITIVES}))
    config = write_config(tmp_path, broken)
    result = CliRunner().invoke(cli, ["smoke", str(config)])
    assert result.exit_code == 1, result.output
    assert "no model was built" in " ".join(result.output.split())
    with Manifest.open(broken / ".preflight" / "manifest.duckdb", read_only=True) as m:
        (run,) = list_runs(m)
    assert (run.kind, run.status, run.run_dir) == ("smoke", RunStatus.GATE_FAILED, None)
    assert not (tmp_path / "runs").exists()


def test_a_subset_missing_a_class_is_refused() -> None:
    whole = SmokeSubset(recordings=(1, 2, 3, 4), per_split={"train": (2, 2), "dev": (2, 2)})
    assert check_subset(whole, "train", ("dev",)) is None
    short = SmokeSubset(recordings=(1, 2, 3), per_split={"train": (2, 2), "dev": (0, 1)})
    message = check_subset(short, "train", ("dev",))
    assert message is not None
    assert "validation split(s) dev has no usable recording with seizures" in message


def test_smoke_turns_no_check_off() -> None:
    """The command takes a config, --quiet and --html: nothing skips the audit or the gate."""
    assert list(inspect.signature(smoke_command).parameters) == ["config", "quiet", "html"]
    assert list(inspect.signature(smoke).parameters) == [
        "config",
        "progress",
        "on_epoch",
        "on_gate",
    ]


def test_a_completed_run_reports_event_scores(corpus: Path, tmp_path: Path) -> None:
    config = load_run_config(write_config(tmp_path, corpus, train={"epochs": 1}))
    result = train(config)
    assert result.evaluation is not None
    assert result.evaluation["held_out"] is None  # train and dev only: nothing held out
    events = result.evaluation["validation"]["events"]
    assert events["params"]["tolerance_start_s"] == 30
    assert events["params"]["tolerance_end_s"] == 60
    with Manifest.open(corpus / ".preflight" / "manifest.duckdb", read_only=True) as m:
        ((recordings, patients, seizures),) = m.query(
            "SELECT count(*), list(DISTINCT patient), (SELECT count(*) FROM seizures s JOIN"
            " recordings r USING (rec_idx) WHERE r.split = 'dev') FROM recordings WHERE split"
            " = 'dev'"
        )
    assert events["recordings"] == recordings  # every dev recording
    target = events["at_target"]
    assert target["pooled"]["n_reference"] == seizures  # seizures of up to 300 s: not split
    assert target["pooled"]["false_alarms_per_24h"] <= 1.0
    assert sorted(target["per_subject"]) == sorted(patients)
    assert json.dumps(events)  # JSON-ready, as the run's row stores it


def test_smoke_on_image_stamps_trains_on_the_smallest_files_of_each_class(tmp_path: Path) -> None:
    """A table source: per tier, the two smallest files holding each class (4 files of 64 rows
    per tier here, every file holding both: two files per tier), one short epoch; the debug
    tier, named held out, is scored once at the end and never validates."""
    from preflight.synth.stamps import StampSpec, synthesize_stamps

    corpus = synthesize_stamps(tmp_path / "stamps", StampSpec(files_per_tier=4, rows_per_file=32))
    config = tmp_path / "stamps.yaml"
    config.write_text(
        f"data: {{source: {corpus.root}}}\n"
        "parquet: {label_column: is_control, label_map: {0: positive, 1: negative},"
        " group_column: region, sample_column: stamp_npz}\n"
        "gate: {train_split: train, evaluation_splits: [dev, debug], batch_size: 8}\n"
        "model: {name: stamp_resnet, kwargs: {widths: [8]}}\n"
        "train: {batch_size: 8, target_positive_fraction: 0.5, min_positives: 2,"
        " spread: window, device: cpu}\n"
        "validation: {splits: [dev], held_out: [debug], batch_size: 64}\n",
        encoding="utf-8",
    )
    result = smoke(load_run_config(config))
    assert result.exit_code == 0, result.message
    (epoch,) = result.metrics
    assert epoch["batches"] == epoch["with_positives"] == STEPS
    assert epoch["validation"]["windows"] == 2 * 32  # two dev files of 32 rows
    assert "events" not in epoch  # rows of a table have no events to score
    assert result.evaluation is not None
    held = result.evaluation["held_out"]
    assert (held["splits"], held["window"]["windows"]) == (["debug"], 2 * 32)
    assert held["window"]["auroc"] is not None
    assert "events" not in held
    with Manifest.open(corpus.root / ".preflight" / "manifest.duckdb", read_only=True) as m:
        subset = choose_files(m, ("train", "dev"))
        (kind,) = m.query("SELECT kind FROM runs WHERE run_id = ?", [result.run_id])[0]
    assert subset.per_split == {"train": (2, 2), "dev": (2, 2)}
    assert len(subset.recordings) == 4
    assert kind == "smoke"
