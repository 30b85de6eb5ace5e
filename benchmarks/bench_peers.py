"""preflight's whole CLI process against the tools a user would reach for, in one run.

Prints figures; never asserts. Every tool runs as its own process (start-up and imports count),
on the same synthetic corpora written by ``preflight synth``; every tool's counts are checked
against preflight's before any ratio is printed. Rerun with::

    .venv/bin/python benchmarks/bench_peers.py                  # 2,010 + 210 (+ 6,990) recordings
    .venv/bin/python benchmarks/bench_peers.py --no-big --repeat 5

Peers (``benchmarks/peer_*.py``):

* the pandas + pyedflib script a user writes: every ``.csv_bi`` with pandas, every EDF header
  with pyedflib, windows and seizure windows per split with NumPy (pyedflib: ``pip install
  '.[bench]'``, which ``make bench`` does);
* MNE's ``read_raw_edf(preload=False)`` on every EDF (durations, so windows, but no labels);
* Great Expectations alone, validating the per-window table the pandas script writes (both
  classes and at least one positive window per split).

Then the issue-15 targets, met or missed; under a missed one, where that command's time goes
(``_profile``: imports by package, or the audit's phases under cProfile).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _profile  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PREFLIGHT = str(BIN / "preflight")
PY = sys.executable
# The benchmark corpora: (patients per split, recordings per patient).
SIZES = {"medium": (67, 10), "small": (7, 10), "big": (233, 10)}
SYNTH = ["--sparse", "--sampling-rate", "250", "--sampling-rate", "256", "--channels", "33",
         "--min-duration", "600", "--max-duration", "3600"]  # fmt: skip


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# As a user runs them: Python caches bytecode (a session may have turned that off).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], *, ok: tuple[int, ...] = (0,)) -> tuple[float, float, str]:
    """Seconds the whole process took, its CPU seconds (user + system, workers included: on a
    busy machine the steadier figure), and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if out.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    return seconds, cpu, out.stdout


def synth(root: Path, size: str) -> Path:
    patients, recordings = SIZES[size]
    corpus = root / size
    run([PREFLIGHT, "synth", str(corpus), "--force", "--patients", str(patients),
         "--recordings", str(recordings), *SYNTH])  # fmt: skip
    return corpus


def audit(corpus: Path, *, first: bool, labels_only: bool) -> tuple[float, float, dict[str, Any]]:
    """One ``preflight audit`` process; ``first`` starts from no manifest."""
    if first:
        shutil.rmtree(corpus / ".preflight", ignore_errors=True)
    seconds, cpu, _ = run(audit_cmd(corpus, labels_only=labels_only))
    splits = json.loads(_report(corpus).read_text())["splits"]
    keys = ("recordings", "windows", "positive_windows")
    return seconds, cpu, {s: {k: v[k] for k in keys} for s, v in splits.items()}


def audit_cmd(corpus: Path, *, labels_only: bool) -> list[str]:
    """``preflight audit`` of ``corpus`` as the benchmark runs it (quiet, a JSON report)."""
    flags = ["--labels-only"] if labels_only else []
    return [PREFLIGHT, "audit", str(corpus), "-q", "--json", str(_report(corpus)), *flags]


def _report(corpus: Path) -> Path:
    return corpus.parent / f"{corpus.name}.json"


def peer(script: str, *args: str) -> tuple[float, float, dict[str, Any]]:
    seconds, cpu, out = run([PY, str(HERE / script), *args])
    return seconds, cpu, json.loads(out.strip().splitlines()[-1])


def agree(name: str, theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    """Exit unless every count ``theirs`` reports equals preflight's."""
    for split, counts in theirs.items():
        for key, value in counts.items():
            if key != "passed" and ours.get(split, {}).get(key) != value:
                sys.exit(f"counts disagree: {name} {split} {key} = {value}, preflight {ours}")
    if set(theirs) != set(ours):
        sys.exit(f"splits disagree: {name} {sorted(theirs)}, preflight {sorted(ours)}")


def startup(repeat: int) -> list[tuple[str, float, float, float]]:
    commands = {
        "python -c pass (the interpreter alone)": [PY, "-c", "pass"],
        "python -c 'import preflight'": [PY, "-c", "import preflight"],
        "preflight --version": [PREFLIGHT, "--version"],
        "preflight --help": [PREFLIGHT, "--help"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeat):  # interleaved, so that load changes hit every command alike
        for name, cmd in commands.items():
            seconds, cpu, _ = run(cmd)
            times[name].append(seconds)
            cpus[name].append(cpu)
    med = statistics.median
    return [(k, med(v), min(v), med(cpus[k])) for k, v in times.items()]


def fmt(seconds: float, best: float | None = None) -> str:
    return f"{seconds:6.2f} s" + (f" (best {best:.2f})" if best is not None else "")


def totals(counts: dict[str, Any]) -> str:
    def total(key: str) -> int:
        return sum(int(c.get(key, 0)) for c in counts.values())

    parts = [f"{total('recordings'):,} rec"] if "recordings" in next(iter(counts.values())) else []
    parts.append(f"{total('windows'):,} windows")
    if "positive_windows" in next(iter(counts.values())):
        parts.append(f"{total('positive_windows'):,} positive")
    return ", ".join(parts)


Row = tuple[str, str, str, str, str]


def table(rows: list[Row]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def corpus_rows(
    label: str, corpus: Path, *, labels_only: bool, repeat: int, peers: bool
) -> tuple[list[Row], dict[str, float]]:
    """Rows for one corpus, and the figures the targets are judged on."""
    script = ["--labels-only"] if labels_only else []
    windows = corpus.parent / f"{corpus.name}-windows.parquet"
    # Interleaved: preflight first audit, its unchanged re-audit, then the pandas script.
    first, again, script_t = [], [], []
    cpu: dict[str, list[float]] = {"first": [], "again": [], "script": []}
    for _ in range(repeat):
        s, c, ours = audit(corpus, first=True, labels_only=labels_only)
        first.append(s)
        cpu["first"].append(c)
        s, c, _ = audit(corpus, first=False, labels_only=labels_only)
        again.append(s)
        cpu["again"].append(c)
        s, c, theirs = peer("peer_pandas.py", str(corpus), *script, "--windows-out", str(windows))
        script_t.append(s)
        cpu["script"].append(c)
        agree("pandas script", theirs, ours)
    med = statistics.median
    base = med(script_t)
    f, a = med(first), med(again)
    cf, ca, cs = med(cpu["first"]), med(cpu["again"]), med(cpu["script"])
    rows = [
        (f"{label}: preflight audit, first (gate + JSON)", fmt(f, min(first)), f"{cf:.2f}",
         f"{f / base:.2f}x", totals(ours)),
        (f"{label}: preflight audit, unchanged re-audit", fmt(a, min(again)), f"{ca:.2f}",
         f"{a / base:.2f}x", "same"),
        (f"{label}: pandas + pyedflib script", fmt(base, min(script_t)), f"{cs:.2f}", "1.00x",
         totals(theirs)),
    ]  # fmt: skip
    if peers:
        s, c, mne_counts = peer("peer_mne.py", str(corpus))
        agree("MNE", mne_counts, ours)
        rows.append((f"{label}: MNE read_raw_edf(preload=False)", fmt(s), f"{c:.2f}",
                     f"{s / base:.2f}x", totals(mne_counts)))  # fmt: skip
        s, c, gx_counts = peer("peer_gx.py", str(windows))
        agree("Great Expectations", gx_counts, ours)
        rows.append((f"{label}: Great Expectations alone, per-window table", fmt(s),
                     f"{c:.2f}", f"{s / base:.2f}x", totals(gx_counts)))  # fmt: skip
    return rows, {"first": f, "again": a, "ratio": f / base, "first_cpu": cf, "again_cpu": ca}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--no-big", action="store_true", help="skip the 6,990-recording corpus")
    parser.add_argument("--keep", type=Path, help="write the corpora here and keep them")
    args = parser.parse_args()
    print(f"load average at start: {load()} ({os.cpu_count()} cores)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-peers-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        corpora = {s: synth(tmp, s) for s in SIZES if not (s == "big" and args.no_big)}
        run([PY, "-m", "compileall", "-q", str(HERE.parent / "preflight"), str(HERE)])
        rows: list[Row] = [("what", "seconds (median)", "CPU s", "vs script", "counts (agree)")]
        start = startup(max(5, args.repeat * 3))
        rows += [(k, fmt(m, b), f"{c:.2f}", "", "") for k, m, b, c in start]
        medium_rows, medium = corpus_rows(
            "2,010 rec", corpora["medium"], labels_only=False, repeat=args.repeat, peers=True
        )
        small_rows, small = corpus_rows(
            "210 rec labels-only", corpora["small"], labels_only=True, repeat=args.repeat,
            peers=False,
        )  # fmt: skip
        rows += medium_rows + small_rows
        big: dict[str, float] = {}
        if "big" in corpora:
            big_rows, big = corpus_rows(
                "6,990 rec", corpora["big"], labels_only=False, repeat=1, peers=False
            )
            rows += big_rows
        table(rows)
        targets(dict(start=start), medium, small, big, corpora)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {load()}")


def targets(
    figures: dict[str, Any], medium: dict[str, float], small: dict[str, float],
    big: dict[str, float], corpora: dict[str, Path],
) -> None:  # fmt: skip
    """Print each target met or missed; under a missed one, where its time goes (``_profile``)."""
    start = {k: (m, c) for k, m, _, c in figures["start"]}
    version, help_ = [PREFLIGHT, "--version"], [PREFLIGHT, "--help"]
    imported = ["-c", "import preflight"]
    checks: list[tuple[str, float, float | None, float, Explain]] = [
        ("--version <= 0.15 s", *start["preflight --version"], 0.15, ("imports", version)),
        ("--help <= 0.15 s", *start["preflight --help"], 0.15, ("imports", help_)),
        ("import preflight <= 0.15 s", *start["python -c 'import preflight'"], 0.15,
         ("imports", imported)),
        ("re-audit 210 rec <= 0.3 s", small["again"], small["again_cpu"], 0.3,
         ("again", audit_cmd(corpora["small"], labels_only=True))),
        ("first audit 2,010 rec <= 1.0x the script", medium["ratio"], None, 1.0,
         ("first", audit_cmd(corpora["medium"], labels_only=False))),
        ("first audit 210 rec labels-only <= 1.5x", small["ratio"], None, 1.5,
         ("first", audit_cmd(corpora["small"], labels_only=True))),
    ]  # fmt: skip
    if big:
        big_cmd = audit_cmd(corpora["big"], labels_only=False)
        checks += [
            ("re-audit 6,990 rec <= 0.3 s", big["again"], big["again_cpu"], 0.3,
             ("again", big_cmd)),
            ("cold audit 6,990 rec <= 5 s", big["first"], big["first_cpu"], 5.0,
             ("first", big_cmd)),
        ]  # fmt: skip
    print("targets (medians of wall time; an absolute target also shows its CPU seconds, which")
    print("a busy machine stretches less; ratios are of wall times in this run):")
    for name, value, cpu, limit, explain in checks:
        verdict = "met   " if value <= limit else "MISSED"
        extra = "" if cpu is None else f" (CPU {cpu:.2f} s{', met on CPU' if cpu <= limit else ''})"
        print(f"  {verdict} {name}: {value:.2f}{extra}")
        if value > limit:
            for line in _where(*explain):
                print(f"           {line}")


# How to show a missed target's time: "imports" (-X importtime), or the audit's phases under
# cProfile, "first" from no manifest or "again" (unchanged re-audit); and the command.
Explain = tuple[str, list[str]]


def _where(kind: str, cmd: list[str]) -> list[str]:
    if kind == "imports":
        return _profile.imports(cmd, ENV)
    corpus = Path(cmd[2])
    if kind == "first":
        shutil.rmtree(corpus / ".preflight", ignore_errors=True)
    else:
        run(cmd)  # a manifest to re-audit
    return _profile.phases(cmd, ENV)


if __name__ == "__main__":
    main()
