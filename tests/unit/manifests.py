"""Building small manifests directly in DuckDB, without files to scan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from preflight.manifest.schema import create_derived_tables
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams, build_seizures, build_windows


@dataclass(frozen=True)
class Rec:
    """One recording to put in a test manifest; ``seizures`` are (start_s, stop_s) pairs."""

    name: str
    patient: str
    duration_s: float = 600.0
    seizures: tuple[tuple[float, float], ...] = ()
    declared_split: str = "all"
    content_hash: str | None = None


def make_manifest(
    path: Path,
    recs: Sequence[Rec],
    *,
    params: WindowParams | None = None,
    rejected: Sequence[tuple[str, str, str]] = (),
) -> Manifest:
    """Open a manifest at ``path`` holding ``recs`` with their seizures and windows labelled.

    Args:
        path: the DuckDB file to create.
        recs: the recordings, in any order.
        params: windowing (default 10 s windows, 10 s stride).
        rejected: (path, reason, message) rows for the ``rejected`` table.
    """
    m = Manifest.open(path)
    create_derived_tables(m.con)
    ordered = sorted(recs, key=lambda r: r.name)
    columns: dict[str, list[object]] = {
        "recording_id": [r.name for r in ordered],
        "path": [f"{r.name}.edf" for r in ordered],
        "annotation_paths": [[f"{r.name}.csv_bi"] for r in ordered],
        "label_source": [f"{r.name}.csv_bi" for r in ordered],
        "label_reader": ["test"] * len(ordered),
        "patient": [r.patient for r in ordered],
        "declared_split": [r.declared_split for r in ordered],
        "split": [r.declared_split for r in ordered],
        "duration_s": [r.duration_s for r in ordered],
        "content_hash": [r.content_hash for r in ordered],
    }
    described = {row[0] for row in m.query("DESCRIBE recordings")}
    if "rec_idx" in described:  # windows keyed by a dense integer index (newer schema)
        columns["rec_idx"] = list(range(len(ordered)))
    m.insert("recordings", columns)
    events = [
        (r.name, i, f"{r.name}.csv_bi", start, stop, "seiz", True)
        for r in ordered
        for i, (start, stop) in enumerate(r.seizures)
    ]
    if events:
        names = ("recording_id", "event_idx", "source_path", "start_s", "stop_s", "label")
        cols = {n: [e[k] for e in events] for k, n in enumerate(names)}
        m.insert("events", {**cols, "positive": [True] * len(events)})
    if rejected:
        m.insert("rejected", {k: [row[i] for row in rejected] for i, k in
                              enumerate(("path", "reason", "message"))})  # fmt: skip
    build_seizures(m.con)
    build_windows(m.con, params or WindowParams())
    return m
