"""Where a missed target's time goes, printed by ``bench_peers.py`` under the target it missed.

Two views of one process, both from the standard library:

* ``imports``: ``python -X importtime`` on the command; the top-level imports by their cumulative
  time (a package is charged to the first module that imports it);
* ``phases``: the command under ``cProfile``; the cumulative seconds of the audit's phases and of
  all imports, then the functions with the most time of their own.

cProfile slows Python-level code (about 1.5-2x here), so its seconds read as shares of the
profiled total, not as wall time; the scan's worker processes are not profiled (the parent's
wait for them is its ``scan`` phase).
"""

from __future__ import annotations

import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

# (label, the end of the file's path, the function's name): cumulative seconds, which include the
# imports a phase makes on its way, so the rows overlap with "all imports" and do not add up.
PHASES = [
    ("whole process", "/bin/preflight", "<module>"),
    ("all imports (wherever made)", "<frozen importlib._bootstrap>", "_find_and_load"),
    ("typer: parse the arguments", "typer/core.py", "parse_args"),
    ("open the manifest (DuckDB)", "preflight/manifest/store.py", "open"),
    ("scan: walk, parse, derive, store", "preflight/pipelines/audit.py", "_scan"),
    ("split", "preflight/split.py", "build_split"),
    ("gate", "preflight/pipelines/audit.py", "_gate"),
    ("build the report", "preflight/pipelines/audit.py", "build_report"),
    ("record the audit", "preflight/pipelines/audit.py", "_record_audit"),
    ("write the JSON report", "preflight/reports/files.py", "write_reports"),
]


def imports(cmd: list[str], env: dict[str, str], top: int = 10) -> list[str]:
    """The ``top`` costliest packages ``cmd`` (a Python script and its arguments) imports: each
    package's modules' own import time, summed (``python -X importtime``)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd], capture_output=True, text=True, env=env
    )
    own: dict[str, int] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0].lstrip("_") or name.strip()
        own[package] = own.get(package, 0) + int(self_us)
    lines = [f"all imports: {sum(own.values()) / 1e6:.3f} s (python -X importtime), by package:"]
    ranked = sorted(own.items(), key=lambda item: item[1], reverse=True)[:top]
    lines += [f"{us / 1e6:7.3f} s  {package}" for package, us in ranked]
    return lines


def phases(cmd: list[str], env: dict[str, str], top: int = 8) -> list[str]:
    """The audit phases of ``cmd`` (a Python script and its arguments) under cProfile."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.prof"
        done = subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(out), *cmd],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if not out.exists():
            return [f"(cProfile wrote nothing: exit {done.returncode})"]
        stats = pstats.Stats(str(out))
    table = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    lines = ["phase (cProfile, cumulative; phases include their own imports)"]
    for label, where, name in PHASES:
        seconds = sum(
            ct for (file, _, fn), (_, _, _, ct, _) in table.items()
            if fn == name and file.endswith(where)
        )  # fmt: skip
        if seconds:
            lines.append(f"{seconds:7.3f} s  {label}")
    own = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines.append("most time of their own:")
    for (file, line, fn), (_, calls, tt, _, _) in own:
        lines.append(f"{tt:7.3f} s  {_short(file)}:{line} {fn} ({calls:,} calls)")
    return lines


def _short(file: str) -> str:
    """A profile's file name without the install prefix."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    if "/preflight/" in file:
        return "preflight/" + file.rsplit("/preflight/", 1)[1]
    return file.rsplit("/", 1)[-1]
