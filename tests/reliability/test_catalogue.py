"""Every case of the catalogue, planted into a healthy corpus holding every format, then audited.

For each case: the bad input is rejected with its reason (and line), and nothing else is except
the rejections it causes by design; every input file is in the manifest or in ``rejected``; the
number of usable recordings moves by the case's ``delta`` only; the CLI exits 0 (allowed input),
1 (a rejection fails the catalogue's gate) or 2 (config error, before any manifest is written);
and no traceback escapes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.manifest.store import Manifest
from tests.reliability.catalogue import (
    ACCEPTED,
    CATALOGUE,
    CATALOGUE_MD,
    CONFIG,
    CONFIG_ERROR,
    FAULTS,
    KINDS,
    PARQUET,
    README,
    BadInput,
    Outcome,
    markdown,
    readme_list,
)
from tests.reliability.corpus import BASE_CONFIG, write_base
from tests.reliability.limits import time_limit

# CHB-MIT summaries and Siena lists describe several recordings: one bad block rejects the file
# for that recording while it keeps labelling the others, so it may be both used and rejected.
MULTI_RECORDING = (".txt",)
# Linux capability numbers (linux/capability.h) and the prctl that drops one from the bounding set.
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def is_input(name: str) -> bool:
    """An input file by its name, decided here independently of ``discover.classify``."""
    lower = name.lower()
    ext = lower.rpartition(".")[2] if "." in lower else ""
    return (
        ext in {"edf", "bdf", "csv", "csv_bi", "tse", "tse_bi", "lbl", "lbl_bi"}
        or lower.endswith("_events.tsv")
        or (lower.startswith("chb") and lower.endswith("-summary.txt"))
        or (lower.startswith("seizures-list-") and lower.endswith(".txt"))
    )


def inputs_of(root: Path) -> set[str]:
    """Every input file under ``root`` (symlinks included, symlinked folders not followed)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(folder).relative_to(root)
        found |= {printable((rel / name).as_posix()) for name in files if is_input(name)}
    return found


def printable(path: str) -> str:
    """A path as reports should name it: bytes that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def on_disk(root: Path, path: str) -> bytes:
    """The file a report's printable ``path`` names (``\\xNN`` back to its byte)."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), path.encode("utf-8"))
    return os.fsencode(root) + b"/" + raw


@pytest.fixture(scope="session")
def base_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The healthy corpus, written once; tests audit copies of it."""
    root = tmp_path_factory.mktemp("base") / "corpus"
    root.mkdir()
    return root, write_base(root)


@contextlib.contextmanager
def fifo_watchdog(root: Path) -> Iterator[list[str]]:
    """Unblock any reader stuck opening a FIFO under ``root``; yields the FIFOs it had to open.

    Opening a FIFO for writing without blocking succeeds only while a reader has it open, so a
    FIFO that nothing reads is never counted, whatever the timing.
    """
    fifos = [
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if stat.S_ISFIFO(os.lstat(os.path.join(folder, name)).st_mode)
    ]
    released: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            for fifo in fifos:
                try:
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    continue  # no reader waiting
                released.append(fifo)

    thread = threading.Thread(target=watch, daemon=True)
    if fifos:
        thread.start()
    try:
        yield released
    finally:
        stop.set()
        if fifos:
            thread.join()


def audit_in_process(args: list[str], root: Path, timeout_s: float = 300.0) -> tuple[int, str]:
    """``preflight audit`` through CliRunner; fails the test on any uncaught exception."""
    with fifo_watchdog(root) as released, time_limit(timeout_s):
        result = CliRunner().invoke(app, args, env={"COLUMNS": "2000"})
    assert not released, f"the audit blocked opening FIFO(s) {released}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    return result.exit_code, result.output


def _drop_file_capabilities() -> None:
    """In the child before exec: root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def audit_unprivileged(args: list[str], timeout_s: float) -> tuple[int, str]:
    """``preflight audit`` in a subprocess whose permission checks apply even to root."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "preflight", *args], capture_output=True, text=True,
            preexec_fn=_drop_file_capabilities, env={**os.environ, "COLUMNS": "2000"},
            timeout=timeout_s,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot drop the capabilities that let root ignore file modes: {exc}")
    return done.returncode, done.stdout + done.stderr


def run(case: BadInput, base: Path, where: Path) -> Outcome:
    """Copy the healthy corpus, plant ``case``, audit it with the CLI."""
    root = where / "corpus"
    shutil.copytree(base, root, symlinks=True)
    config = where / "base.yaml"
    config.write_text(BASE_CONFIG, encoding="utf-8")
    report = where / "report.json"
    case.make(root)
    if case.reason == CONFIG_ERROR:
        config = root / CONFIG
    args = ["audit", str(root), "--config", str(config), "--json", str(report), "--quiet"]
    if case.unprivileged and os.geteuid() == 0:
        code, output = audit_unprivileged(args, case.timeout_s)
    else:
        code, output = audit_in_process(args, root, case.timeout_s)
    assert "Traceback" not in output
    return Outcome(root, code, output, root / ".preflight" / "manifest.duckdb")


def used_paths(manifest: Path) -> set[str]:
    """The EDF and annotation files behind the manifest's recordings."""
    with Manifest.open(manifest, read_only=True) as m:
        used = {r[0] for r in m.query("SELECT path FROM recordings") if r[0] is not None}
        used |= {p for r in m.query("SELECT annotation_paths FROM recordings") for p in r[0]}
    return used


def check_config_error(case: BadInput, outcome: Outcome) -> None:
    text = " ".join(outcome.output.split())
    where = CONFIG if case.line is None else f"{CONFIG}:{case.line}:"
    assert where in text, text
    assert case.needle is None or case.needle in text, text
    assert not (outcome.root / ".preflight").exists(), "a refused config must not touch a manifest"


def check_audit(case: BadInput, outcome: Outcome, base_recordings: int) -> None:
    report = json.loads((outcome.root.parent / "report.json").read_text(encoding="utf-8"))
    rejected = report["rejected"]
    messages = {(r["path"], r["reason"], r["line"]): r["message"] for r in rejected}
    rejected_paths = {r["path"] for r in rejected}
    if case.reason == ACCEPTED:
        assert rejected == [], rejected
        assert report["verdict"] == "pass", [c for c in report["checks"] if not c["passed"]]
    else:
        message = messages.get((case.path, case.reason, case.line))
        assert message is not None, rejected
        assert case.needle is None or case.needle in message, message
        pairs = {(path, reason) for path, reason, _ in messages}
        assert set(case.also) <= pairs, rejected
        # Nothing else is rejected: the problem stays with its file.
        assert rejected_paths == {case.path} | {p for p, _ in case.also}, rejected
    assert report["totals"]["recordings"] == base_recordings + case.delta
    used = used_paths(outcome.manifest)
    for path in inputs_of(outcome.root):
        ancestors = {p.as_posix() for p in Path(path).parents}
        assert path in used | rejected_paths or ancestors & rejected_paths, f"{path} was lost"
    both = used & rejected_paths
    assert all(p.endswith(MULTI_RECORDING) for p in both), both
    for path in rejected_paths:
        assert os.path.lexists(on_disk(outcome.root, path)), path
    accepted_file = case.reason == ACCEPTED and is_input(Path(case.path).name)
    if accepted_file and os.path.isfile(outcome.root / case.path):
        assert case.path in used


def _param(case: BadInput) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}")] if case.bug else []
    if case.unprivileged:
        marks.append(pytest.mark.slow)
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CATALOGUE])
def test_bad_input(case: BadInput, base_corpus: tuple[Path, int], tmp_path: Path) -> None:
    base, recordings = base_corpus
    outcome = run(case, base, tmp_path)
    assert outcome.exit_code == case.exit_code, outcome.output
    if case.reason == CONFIG_ERROR:
        check_config_error(case, outcome)
    else:
        check_audit(case, outcome, recordings)
    if case.check is not None:
        case.check(outcome)


def test_the_healthy_corpus_passes(base_corpus: tuple[Path, int], tmp_path: Path) -> None:
    """The baseline every case is measured against: every file audited, exit 0."""
    base, recordings = base_corpus
    root = tmp_path / "corpus"
    shutil.copytree(base, root)
    config = tmp_path / "base.yaml"
    config.write_text(BASE_CONFIG, encoding="utf-8")
    out = tmp_path / "r.json"
    code, output = audit_in_process(
        ["audit", str(root), "--config", str(config), "--json", str(out), "-q"], root
    )
    assert code == 0, output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["totals"]["recordings"] == recordings == 11
    assert report["rejected"] == []
    assert used_paths(root / ".preflight" / "manifest.duckdb") == inputs_of(root)
    assert len(inputs_of(root)) == 20


def test_catalogue_is_large_and_well_formed() -> None:
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert len(CATALOGUE) >= 40
    assert {c.kind for c in CATALOGUE} == set(KINDS)
    for case in CATALOGUE:
        assert case.reason == ACCEPTED or case.reason == CONFIG_ERROR or case.delta <= 0


def test_catalogue_markdown_is_up_to_date() -> None:
    """CATALOGUE.md is generated: `python -m tests.reliability.catalogue` rewrites it."""
    assert CATALOGUE_MD.read_text(encoding="utf-8") == markdown()


def test_readme_lists_every_case() -> None:
    """The README's list is generated too (between its catalogue markers)."""
    readme = README.read_text(encoding="utf-8")
    assert f"<!-- catalogue:start -->\n{readme_list()}<!-- catalogue:end -->" in readme
    counts = {kind: sum(c.kind == kind for c in CATALOGUE) for kind in KINDS}
    stated = " ".join(readme.split())
    assert (
        f"lists {len(CATALOGUE) + len(PARQUET)} bad inputs ({counts['edf']} EDF, "
        f"{counts['annotation']} annotation, {counts['layout']} layout, {counts['config']} config, "
        f"{len(PARQUET)} Parquet)"
    ) in stated
    assert f"The first {len(CATALOGUE)} are" in stated


# One case per file they touch, so they can be planted together.
TOGETHER = (
    "edf_truncated", "edf_only_annotation_signal", "tse_bad_row", "lbl_unknown_symbol",
    "chbmit_seizure_count_mismatch", "siena_seizure_past_registration_end",
    "bids_unknown_event_type", "annotation_without_edf", "dangling_symlink", "fifo_as_edf",
    "symlink_loop_folder", "hostile_names_audited", "folder_named_edf",
)  # fmt: skip


def test_every_kind_broken_at_once(base_corpus: tuple[Path, int], tmp_path: Path) -> None:
    """A corpus mixing good files and broken ones of every kind: each broken one is listed
    with its reason, every good one is counted."""
    base, recordings = base_corpus
    cases = [c for c in CATALOGUE if c.id in TOGETHER]
    assert len(cases) == len(TOGETHER)
    root = tmp_path / "corpus"
    shutil.copytree(base, root, symlinks=True)
    for case in cases:
        case.make(root)
    config, out = tmp_path / "base.yaml", tmp_path / "r.json"
    config.write_text(BASE_CONFIG, encoding="utf-8")
    code, output = audit_in_process(
        ["audit", str(root), "--config", str(config), "--json", str(out), "-q"], root
    )
    assert code == 1, output
    report = json.loads(out.read_text(encoding="utf-8"))
    got = {(r["path"], r["reason"]) for r in report["rejected"]}
    want = {(c.path, c.reason) for c in cases if c.reason != ACCEPTED}
    want |= {pair for c in cases for pair in c.also}
    assert got == want
    assert report["totals"]["recordings"] == recordings + sum(c.delta for c in cases)
    used = used_paths(root / ".preflight" / "manifest.duckdb")
    rejected = {path for path, _ in got}
    for path in inputs_of(root):
        assert path in used | rejected, f"{path} was lost"


def test_every_fault_names_tests_that_exist() -> None:
    """The faults and Parquet tables of CATALOGUE.md point at real test files and functions."""
    here = Path(__file__).parent
    named = [t for _, _, tests in FAULTS for t in tests] + [case[3] for case in PARQUET]
    for test in named:
        file, _, function = test.partition("::")
        source = (here / file).read_text(encoding="utf-8")
        assert not function or f"def {function}(" in source, test
