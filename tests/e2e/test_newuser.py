"""What a new user meets: help, options refused or warned, manifests found, readable logs.

Each test walks one step a new user takes (issue: the gate up front, manifests found by
themselves, readable CI logs, honest help), in-process with CliRunner and, where the point is
what a CI log captures, in a subprocess with standard output piped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from preflight.cli import app
from preflight.manifest.runs import list_runs
from preflight.manifest.store import Manifest
from preflight.reports.model import AuditReport
from preflight.reports.runs import render_runs


def _run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> object:
    """The CLI in-process; ``cwd`` changes the working folder for the call."""
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        os.chdir(old)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small healthy synthetic corpus (TUSZ layout), audited once."""
    root = tmp_path_factory.mktemp("newuser") / "corpus"
    args = ["synth", str(root), "--patients", "2", "--min-duration", "200", "--max-duration", "260"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, ["audit", str(root), "-q"]).exit_code == 0
    return root


# --- 12. help ---------------------------------------------------------------------------


def test_help_shows_defaults_flags_and_exit_codes() -> None:
    wide = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
    audit = _run("audit", "--help", env=wide)
    text = audit.output
    assert "Window length (s) [default: 10]." in text  # rich ate "[default: 10]": " ."
    assert " ." not in text
    assert "<bool>" not in text  # --labels-only, --quiet, --help take no value
    assert "Exit codes: 0 passed; 1 the gate" in _flat(text)
    root = _run("--help", env=wide)
    assert "Exit codes: 0 passed" in _flat(root.output)
    assert "<bool>" not in root.output


# --- 8, 9. options refused or warned, messages that point at something ---------------------


def test_seed_without_a_built_split_is_refused(corpus: Path, tmp_path: Path) -> None:
    result = _run("audit", str(corpus), "--seed", "3", "-q")
    assert result.exit_code == 2
    assert "--seed only applies to a split preflight builds" in _flat(result.output)
    built = ["--seed", "3", "--split", "stratified", "--manifest", str(tmp_path / "m"), "-q"]
    assert _run("audit", str(corpus), *built).exit_code in (0, 1)


def test_parquet_options_on_an_eeg_corpus_are_named(corpus: Path, tmp_path: Path) -> None:
    warned = _run(
        "audit", str(corpus), "--label-column", "x", "-q", "--manifest", str(tmp_path / "m")
    )
    assert warned.exit_code == 0
    assert "warning: --label-column applies to Parquet tables" in _flat(warned.output)
    refused = _run(
        "audit", str(corpus), "--format", "tusz", "--label-map", "1=positive,0=negative", "-q"
    )
    assert refused.exit_code == 2
    assert "--label-map applies to Parquet tables, and --format tusz" in _flat(refused.output)


def test_a_stride_longer_than_the_window_says_what_is_never_seen(
    corpus: Path, tmp_path: Path
) -> None:
    args = ["--window", "10", "--stride", "40", "--manifest", str(tmp_path / "m"), "-q"]
    result = _run("audit", str(corpus), *args)
    assert result.exit_code in (0, 1)  # few windows: the sampler check may fail
    assert "the stride (40 s) is longer than the window (10 s): 75% of every" in _flat(
        result.output
    )


def test_a_window_longer_than_every_recording_is_one_error(corpus: Path) -> None:
    result = _run("audit", str(corpus), "--window", "5000", "--manifest", str(corpus / "w.db"))
    assert result.exit_code == 2
    text = _flat(result.output)
    assert "is longer than every recording (the longest is" in text
    assert "0 positive and 0 negative" not in text


def test_a_format_that_ignores_the_annotations_names_the_right_one(
    corpus: Path, tmp_path: Path
) -> None:
    result = _run("audit", str(corpus), "--format", "chbmit", "--manifest", str(tmp_path / "m"))
    text = _flat(result.output)
    assert "--format chbmit reads no tusz_csv file" in text
    assert "use --format tusz or --format auto" in text
    assert "--format edfplus" not in text


def test_quiet_does_not_point_at_a_list_it_did_not_print(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.edf").write_text("not an EDF")
    result = _run("audit", str(root), "-q")
    assert result.exit_code == 2
    assert "see the list above" not in result.output
    assert "lists them" in _flat(result.output)


def test_synth_force_replaces_a_corpus_that_was_audited(tmp_path: Path) -> None:
    root = tmp_path / "c"
    args = ["synth", str(root), "--patients", "1", "--min-duration", "200", "--max-duration", "220"]
    assert _run(*args).exit_code == 0
    assert _run("audit", str(root), "-q").exit_code in (0, 1)  # writes root/.preflight
    again = _run(*args, "--force")
    assert again.exit_code == 0, again.output
    assert "overwrite=" not in again.output


# --- 5, 6. the manifest found by itself ----------------------------------------------------


def test_report_takes_a_corpus_folder_and_lists_the_audits(corpus: Path) -> None:
    result = _run("report", str(corpus))
    assert result.exit_code == 0, result.output
    assert "Is a directory" not in result.output
    assert "this manifest holds" in result.output
    assert "(--audit ID shows another)" in result.output
    assert _run("report", cwd=corpus).exit_code == 0  # the current folder's .preflight/


def test_with_nothing_found_they_say_where_they_looked(corpus: Path) -> None:
    for command in ("report", "runs"):
        result = _run(command, cwd=corpus.parent)
        assert result.exit_code == 2
        text = _flat(result.output)
        assert "no manifest found (looked for .preflight/manifest.duckdb and manifest.duckdb)" in (
            text
        )
        assert "corpus/.preflight/manifest.duckdb below" in text


def _gate_failing_config(corpus: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "data": {"source": str(corpus)},
        "gate": {"train": {"min_positive_patients": 99}},
        "checkpoint": {"dir": str(folder / "runs")},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_runs_finds_the_manifest_and_manifest_applies_to_show(corpus: Path, tmp_path: Path) -> None:
    config = _gate_failing_config(corpus, tmp_path)
    trained = _run("train", str(config), "-q")
    assert trained.exit_code == 1
    assert trained.output.startswith("Gate FAIL (")  # before anything else
    manifest = corpus / ".preflight" / "manifest.duckdb"
    for args in (["runs", str(corpus)], ["runs", str(config)], ["runs", str(manifest)]):
        listed = _run(*args)
        assert listed.exit_code == 0, (args, listed.output)
        assert " train " in listed.output
        assert "gate_failed" in listed.output
    with Manifest.open(manifest, read_only=True) as m:
        run_id = list_runs(m)[-1].run_id
    shown = _run("runs", "--manifest", str(manifest), "show", run_id, cwd=tmp_path)
    assert shown.exit_code == 0, shown.output
    assert f"Run {run_id} (train)" in shown.output
    assert _run("runs", str(corpus), "show", run_id, cwd=tmp_path).exit_code == 0
    assert _run("runs", "show", run_id, str(corpus), cwd=tmp_path).exit_code == 0


# --- 16. runs at 80 columns ---------------------------------------------------------------


def test_runs_fit_80_columns_with_kind_and_whole_messages(corpus: Path, tmp_path: Path) -> None:
    _run("train", str(_gate_failing_config(corpus, tmp_path)), "-q")
    with Manifest.open(corpus / ".preflight" / "manifest.duckdb", read_only=True) as m:
        runs = list_runs(m)
    console = Console(width=80, record=True, force_terminal=True)
    render_runs(runs, console)
    lines = console.export_text().splitlines()
    header = next(line for line in lines if line.startswith("run "))
    assert header.split() == ["run", "kind", "status", "epochs", "best"]
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in "".join(lines)
    message = " ".join(line.strip() for line in lines if line.startswith("    "))
    assert "the gate failed" in message
    assert "min_positive_patients" in message


# --- 11. a second audit waiting for the lock ------------------------------------------------


def test_a_second_audit_says_at_once_that_it_waits(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "locked.duckdb"
    duckdb.connect(str(manifest)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(manifest)!r}); print('held', flush=True);"
         " time.sleep(3)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    began = time.monotonic()
    result = _run("audit", str(corpus), "--manifest", str(manifest), "-q")
    holder.wait()
    assert result.exit_code == 0, result.output
    assert f"waiting for another audit of this manifest (pid {holder.pid})" in result.output
    assert time.monotonic() - began < 30


# --- 15. typed provenance, old reports still readable ---------------------------------------


def test_provenance_is_typed_and_old_reports_still_render(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert _run("audit", str(corpus), "--json", str(out), "-q").exit_code == 0
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["window_s"] == 10.0
    assert provenance["labels_only"] is False
    assert provenance["errata"] is True
    manifest = tmp_path / "old.duckdb"
    assert _run("audit", str(corpus), "--manifest", str(manifest), "-q").exit_code == 0
    con = duckdb.connect(str(manifest))  # a report stored before provenance was typed
    stored = json.loads(con.execute("SELECT report FROM audits").fetchone()[0])
    stored["provenance"] = {k: None if v is None else str(v).lower() if isinstance(v, bool)
                            else str(v) for k, v in stored["provenance"].items()}  # fmt: skip
    assert stored["provenance"]["window_s"] == "10.0"
    con.execute("UPDATE audits SET report = ?", [json.dumps(stored)])
    con.close()
    again = tmp_path / "again.json"
    shown = _run("report", str(manifest), "--json", str(again))
    assert shown.exit_code == 0, shown.output
    assert "windows of 10.0 s" in shown.output
    assert json.loads(again.read_text())["provenance"]["window_s"] == 10.0
    old = AuditReport.model_validate({**stored, "provenance": {"split_seed": "3"}})
    assert old.provenance == {"split_seed": 3}


# --- what CI captures: piped output, one line per sentence -----------------------------------


def test_piped_output_has_no_wrapped_sentences(corpus: Path, tmp_path: Path) -> None:
    """audit, report, runs and train with standard output piped, as a CI log captures them."""
    config = _gate_failing_config(corpus, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    outputs = {}
    for args in (["audit", str(corpus)], ["train", str(config)], ["runs", str(corpus)],
                 ["report", str(corpus)]):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "preflight", *args], capture_output=True, text=True, env=env,
            timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
        assert "Traceback" not in done.stderr
        outputs[args[0]] = done.stdout
    train = outputs["train"].splitlines()
    assert train[0].startswith("Gate FAIL (")
    # a failed check's sentence stays on its line (a wrapped one would end mid-sentence)
    assert any(
        line.startswith("ERROR min_positive_patients [train]: train split has") for line in train
    )
    runs = outputs["runs"].splitlines()
    assert any(line.startswith("    the gate failed") and "(needs >= 99)" in line for line in runs)
    assert (
        "rec recordings, pat patients, seiz seizure events, win windows, h hours"
        in (outputs["audit"])
    )
    for text in outputs.values():
        assert "…" not in text
