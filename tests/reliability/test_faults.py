"""Faults: an audit SIGKILLed anywhere, two audits of one manifest at once, a full disk.

The kill tests fork the test process (imports stay warm, so an audit of a few hundred recordings
takes about a second) and SIGKILL the child: at seeded random moments spread over an audit's
duration, and at named points of the pipeline. After each kill the manifest must open, be the
state before the audit or the complete new state, hold windows that agree with its recordings,
and the next audit must succeed with the statistics of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.errors import ManifestError
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit
from preflight.synth.corpus import synthesize
from preflight.synth.spec import SynthSpec

KILLS = 20
SEED = 20240607
FORK = multiprocessing.get_context("fork")


# --- manifest states ---------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What a manifest holds, in the terms the kill tests compare."""

    data: tuple[Any, ...]  # derived tables, parse cache and fingerprint
    audits: int  # rows of the audit history
    last_audit: str | None  # fingerprint recorded by the latest audit


WINDOWS_AGREE = """
SELECT
  (SELECT count(*) FROM windows w ANTI JOIN recordings r USING (rec_idx)),
  (SELECT count(*) FROM windows)
  - (SELECT coalesce(sum(CAST(floor((duration_s - ? + 1e-9) / ?) AS BIGINT) + 1), 0)
     FROM recordings WHERE duration_s + 1e-9 >= ?)
"""


def state_of(path: Path) -> State:
    """Open ``path`` as the next audit would (read-write) and read its state.

    Raises:
        AssertionError: windows do not agree with recordings (a half-written derived table).
    """
    with Manifest.open(path, wait_s=5) as m:
        window = float(m.meta("window_s") or 10.0)
        stride = float(m.meta("stride_s") or window)
        orphans, missing = m.query(WINDOWS_AGREE, [window, stride, window])[0]
        assert (orphans, missing) == (0, 0), "windows disagree with recordings"
        data = (
            m.query("SELECT count(*), sum(duration_s) FROM recordings")[0],
            m.query("SELECT split, count(*) FROM recordings GROUP BY 1 ORDER BY 1"),
            m.query("SELECT count(*), count(*) FILTER (WHERE positive) FROM windows")[0],
            m.query("SELECT count(*) FROM seizures")[0],
            m.query("SELECT count(*) FROM rejected")[0],
            m.query("SELECT count(*), count(content_hash) FROM files")[0],
            m.meta("fingerprint"),
            m.meta("split_method"),
        )
        audits = m.query("SELECT count(*), max_by(fingerprint, audit_id) FROM audits")[0]
    return State(data, int(audits[0]), audits[1])


def classify(state: State, before: State, after: State) -> str:
    """``before``, ``complete``, ``scanned`` (scan committed, audit record lost) or ``torn``."""
    if state == before:
        return "before"
    if state.data == after.data and state.audits == before.audits + 1:
        return "complete" if state.last_audit == after.last_audit else "torn"
    if state.data == after.data and state.audits == before.audits:
        return "scanned"
    return "torn"


# States a kill may leave: the audit is one transaction, from the scan to its audit record.
ACCEPTED_STATES = {"before", "complete"}


# --- corpus and reference audits ---------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A corpus changed after a complete audit: the manifest before, the complete state after."""

    root: Path
    snapshot: Path  # the manifest after a complete audit of the corpus before the change
    before: State
    after: State
    stats: dict[str, Any]  # totals and splits of an uninterrupted audit of the changed corpus
    seconds: float  # how long that uninterrupted audit took in a forked child


def _stats(report: Any) -> dict[str, Any]:
    return {"totals": report.totals.model_dump(), "splits": report.model_dump()["splits"]}


def restore(scenario: Scenario, manifest: Path) -> None:
    """Put the manifest back in the state before the audit."""
    for leftover in (manifest, manifest.with_name(manifest.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(scenario.snapshot, manifest)


def _child_audit(root: Path, manifest: Path, tmp: Path, point: str | None) -> None:
    """The forked audit: its own process group (to find its workers), its own TMPDIR."""
    os.setpgrp()
    tempfile.tempdir = str(tmp)
    if point is not None:
        _arm(point)
    audit(root, manifest=manifest)


def run_forked(
    root: Path, manifest: Path, tmp: Path, *, delay: float | None = None, point: str | None = None
) -> tuple[int | None, float, int]:
    """Audit in a forked child; SIGKILL it after ``delay`` s (or at ``point``).

    Returns:
        The child's exit code (``-9`` when killed), the seconds it ran, and how many of its
        worker processes outlived it (then killed here, by their process group). Workers die
        with the child (PR_SET_PDEATHSIG), but one may still be on its way out when counted.
    """
    tmp.mkdir(exist_ok=True)
    child = FORK.Process(target=_child_audit, args=(root, manifest, tmp, point))
    started = time.perf_counter()
    child.start()
    if delay is not None:
        child.join(delay)
        if child.exitcode is None:
            os.kill(child.pid, signal.SIGKILL)
    child.join()
    elapsed = time.perf_counter() - started
    orphans = len(living_members(child.pid))  # the group the child created: its pool workers
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    return child.exitcode, elapsed, orphans


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """480 header-only recordings audited; then 2 patients deleted, a quarter of csv_bi edited."""
    base = tmp_path_factory.mktemp("faults")
    spec = SynthSpec(train_patients=20, dev_patients=20, eval_patients=20, recordings_per_patient=8,
                     sparse=True, seed=SEED)  # fmt: skip
    root = synthesize(base / "corpus", spec).root
    snapshot = base / "before.duckdb"
    audit(root, manifest=snapshot)
    before = state_of(snapshot)
    for patient in sorted((root / "edf" / "eval").iterdir())[:2]:
        shutil.rmtree(patient)
    for csv in sorted(root.rglob("*.csv_bi"))[::4]:
        with csv.open("a", encoding="utf-8") as fh:
            fh.write("# edited after the first audit\n")
    reference = base / "reference.duckdb"
    shutil.copyfile(snapshot, reference)
    code, seconds, _ = run_forked(root, reference, base / "tmp")
    assert code == 0
    report = audit(root, manifest=reference)  # re-audit of the complete state: nothing changes
    after = state_of(reference)
    assert after.data != before.data
    return Scenario(root, snapshot, before, after, _stats(report), seconds)


# --- SIGKILL -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_a_whole_manifest(
    scenario: Scenario, tmp_path: Path
) -> None:
    """20 kills at seeded moments spread over an audit: before or complete, then re-auditable.

    The moments are fractions of an uninterrupted audit's duration. When a machine under a
    different load finishes an audit before its kill, that kill is tried again sooner (half the
    delay) until it lands: every kill interrupts an audit, however fast or slow the machine.
    """
    rng = random.Random(SEED)
    delays = sorted(rng.uniform(0.0, 1.0) * scenario.seconds for _ in range(KILLS))
    manifest = tmp_path / "manifest.duckdb"
    seen: dict[str, int] = {}
    retries = orphans = leftovers = 0
    for delay in delays:
        while True:
            restore(scenario, manifest)
            code, _, orphaned = run_forked(scenario.root, manifest, tmp_path / "tmp", delay=delay)
            orphans += orphaned
            leftovers += len(list((tmp_path / "tmp").iterdir()))
            shutil.rmtree(tmp_path / "tmp")
            state = classify(state_of(manifest), scenario.before, scenario.after)
            seen[state] = seen.get(state, 0) + 1
            assert state in ACCEPTED_STATES, f"kill after {delay:.3f} s left a {state} manifest"
            report = audit(scenario.root, manifest=manifest)
            assert _stats(report) == scenario.stats
            assert state_of(manifest).data == scenario.after.data
            if code == -signal.SIGKILL:
                break
            assert code == 0
            retries += 1
            delay /= 2  # the audit finished first: kill sooner (a fork alone takes longer
            # than the shortest delays, so this ends)
    print(f"\n{KILLS} kills over {scenario.seconds:.2f} s: {seen}; {retries} retried sooner, "
          f"{orphans} left worker processes behind, {leftovers} left a staging folder")  # fmt: skip


def _kill_self(*_: object, **__: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _then_kill(original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        _kill_self()

    return wrapper


def _arm(point: str) -> None:
    """Make the audit SIGKILL itself at ``point`` (in the forked child only)."""
    import preflight.pipelines.audit as audit_module
    import preflight.scanning.scan as scan_module
    import preflight.validators.gate as gate_module

    if point == "parsing":
        scan_module._parse_all = _kill_self  # type: ignore[assignment]
    elif point == "pooled":  # the worker pool is up and every chunk submitted
        scan_module.PARALLEL_MIN_FILES = 1  # a pool even for a small scenario
        scan_module.as_completed = _kill_self  # type: ignore[assignment]
    elif point == "loading":
        scan_module._load_staged = _then_kill(scan_module._load_staged)  # type: ignore[assignment]
    elif point == "deriving":
        scan_module.derive = _then_kill(scan_module.derive)  # type: ignore[assignment]
    elif point == "splitting":
        audit_module.build_split = _then_kill(audit_module.build_split)  # type: ignore[assignment]
    elif point == "gating":
        gate_module.run_gate = _kill_self  # type: ignore[assignment]
    elif point == "recording":
        audit_module._record_audit = _then_kill(audit_module._record_audit)  # type: ignore[assignment]
    else:
        raise ValueError(point)


@pytest.mark.parametrize(
    "point",
    ["parsing", "loading", "deriving", "splitting", "gating", "recording"],
)
def test_kill_at_a_named_point(scenario: Scenario, tmp_path: Path, point: str) -> None:
    """A kill at each stage: inside the scan it rolls back; after it, the audit must too."""
    manifest = tmp_path / "manifest.duckdb"
    restore(scenario, manifest)
    code, _, _ = run_forked(scenario.root, manifest, tmp_path / "tmp", point=point)
    assert code == -signal.SIGKILL
    state = classify(state_of(manifest), scenario.before, scenario.after)
    report = audit(scenario.root, manifest=manifest)
    assert _stats(report) == scenario.stats
    assert state in ACCEPTED_STATES, f"a kill while {point} left a {state} manifest"


def test_workers_die_with_a_killed_audit(scenario: Scenario, tmp_path: Path) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the scan reads in-process, without workers")
    child = FORK.Process(
        target=_child_audit, args=(scenario.root, tmp_path / "m.duckdb", tmp_path, "pooled")
    )
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    deadline = time.monotonic() + 60  # generous under load; PR_SET_PDEATHSIG acts at once
    while (alive := living_members(child.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive:
        os.killpg(child.pid, signal.SIGKILL)  # ours (the child's process group): clean up
    assert not alive, f"the audit's workers {alive} outlived it"


def living_members(group: int) -> list[int]:
    """Processes of process group ``group`` that are not zombies.

    An orphaned worker that died stays a zombie until its new parent reaps it, and not every
    container's init reaps promptly: a zombie has exited, so it does not count.
    """
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return []
        return [group]
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            alive.append(int(entry))
    return alive


# --- two audits of one manifest ----------------------------------------------------------------


def _hold(manifest: Path, ready: Any, release: Any, marker: Path) -> None:
    """Hold the manifest open for writing until ``release``; mark the moment it lets go."""
    with Manifest.open(manifest):
        ready.set()
        release.wait(60)
        marker.touch()


@pytest.fixture
def held(tmp_path: Path) -> Any:
    """A manifest that another process holds open for writing, and a way to let it go."""
    manifest, marker = tmp_path / "held.duckdb", tmp_path / "released"
    Manifest.open(manifest).close()
    ready, release = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold, args=(manifest, ready, release, marker))
    holder.start()
    assert ready.wait(60)
    yield manifest, release, marker
    release.set()
    holder.join(60)


def test_second_open_fails_with_a_clear_message(held: Any) -> None:
    manifest, _, _ = held
    with pytest.raises(ManifestError) as info:
        Manifest.open(manifest, wait_s=0.5)
    assert "manifest is in use by another preflight process (waited 0.5 s)" in str(info.value)
    assert info.value.path == str(manifest)


def test_second_audit_waits_for_the_first(held: Any, scenario: Scenario) -> None:
    manifest, release, marker = held
    threading.Timer(1.0, release.set).start()
    report = audit(scenario.root, manifest=manifest)  # waits (up to 30 s) for the holder
    assert marker.exists(), "the audit ran while another process held the manifest"
    assert _stats(report) == scenario.stats


def test_cli_reports_a_held_manifest_and_exits_2(
    held: Any, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _, _ = held
    opener = Manifest.open.__func__  # type: ignore[attr-defined]

    def impatient(cls: type[Manifest], path: Any, *, read_only: bool = False, wait_s: float = 30):
        return opener(cls, path, read_only=read_only, wait_s=min(wait_s, 0.5))

    monkeypatch.setattr(Manifest, "open", classmethod(impatient))
    result = CliRunner().invoke(
        app, ["audit", str(scenario.root), "--manifest", str(manifest), "-q"],
        env={"COLUMNS": "2000"},
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "manifest is in use by another preflight process" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _audit_to(root: Path, manifest: Path, out: Path) -> None:
    out.write_text(json.dumps(_stats(audit(root, manifest=manifest))), encoding="utf-8")


@pytest.mark.slow
def test_two_concurrent_audits_both_finish(scenario: Scenario, tmp_path: Path) -> None:
    """Started together, one waits for the other; both report the same corpus."""
    manifest = tmp_path / "manifest.duckdb"
    restore(scenario, manifest)
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    children = [FORK.Process(target=_audit_to, args=(scenario.root, manifest, o)) for o in outs]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [c.exitcode for c in children] == [0, 0]
    for out in outs:
        assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(scenario.stats))
    state = state_of(manifest)
    assert state.data == scenario.after.data
    assert state.audits == scenario.before.audits + 2


def test_audit_while_this_process_reads_the_manifest(scenario: Scenario, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.duckdb"
    restore(scenario, manifest)
    with Manifest.open(manifest, read_only=True), pytest.raises(ManifestError) as info:
        audit(scenario.root, manifest=manifest)
    assert "delete it" not in str(info.value)
    assert "already open read-only in this process" in str(info.value)


# --- a full disk -------------------------------------------------------------------------------

DISK_FULL = """
mount -t tmpfs -o size=4k tmpfs "$OUT" || exit 97
printf '{"old": "report"}' > "$OUT/r.json"
"$PYTHON" -m preflight audit "$ROOT" --manifest "$MANIFEST" --json "$OUT/r.json" -q
echo "EXIT=$?"
echo "FILES=$(ls -A "$OUT" | tr '\\n' ' ')"
echo "KEPT=$(cat "$OUT/r.json")"
"""


@pytest.mark.slow
def test_full_disk_while_writing_the_report(scenario: Scenario, tmp_path: Path) -> None:
    """A 4 KiB tmpfs (in a private mount namespace) holds the report: ENOSPC, exit 2, old kept."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a tiny tmpfs in a private mount namespace")
    out = tmp_path / "out"
    out.mkdir()
    manifest = tmp_path / "manifest.duckdb"
    restore(scenario, manifest)
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "ROOT": str(scenario.root),
           "MANIFEST": str(manifest), "COLUMNS": "2000"}  # fmt: skip
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", DISK_FULL], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    if done.returncode == 97 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert lines["EXIT"] == "2", done.stdout + done.stderr
    assert "cannot write report: No space left on device" in done.stderr
    assert "r.json" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert lines["FILES"].split() == ["r.json"]  # no temporary file left behind
    assert lines["KEPT"] == '{"old": "report"}'  # the previous report is intact
