"""The ``runs`` table: the history of training runs, kept in the manifest beside the audits.

One row per run, created on first use (``CREATE TABLE IF NOT EXISTS``)::

    runs (run_id VARCHAR PRIMARY KEY, kind VARCHAR, started TIMESTAMP, finished TIMESTAMP,
          status VARCHAR, message VARCHAR, config VARCHAR, audit_id INTEGER, run_dir VARCHAR,
          metrics VARCHAR, checkpoints VARCHAR, monitors VARCHAR, evaluation VARCHAR,
          scheduler VARCHAR, job_id VARCHAR, script VARCHAR, cluster VARCHAR)

``config``, ``metrics`` (one object per epoch), ``checkpoints``, ``monitors`` (the monitor
records), ``evaluation`` (validation and held-out scores after training: ``training.final``)
and ``cluster`` (the resources asked for) are JSON. A run ``preflight submit`` queued has its
``scheduler`` (``slurm``), ``job_id`` and batch ``script``. The table migrates itself: a
manifest whose ``runs`` table predates a column gets it (``RUNS_MIGRATIONS``) on the next write,
and reads of such a table see the missing column as NULL, so a read-only ``preflight runs``
works on an old manifest. ``status`` is a ``RunStatus``; a row left ``running`` by a killed
process, or ``interrupted`` by a signal, is what ``preflight train --resume`` picks up. Every
write opens the manifest, writes and closes it again, so ``preflight runs`` can read the table
while a run trains.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from preflight.errors import UsageError
from preflight.manifest.store import Manifest

__all__ = [
    "RUNS_DDL",
    "RunRecord",
    "RunStatus",
    "get_run",
    "list_runs",
    "new_run_id",
    "resumable_runs",
    "set_job",
    "set_status",
    "start_run",
    "update_run",
]

RUNS_DDL = """CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,          -- train (smoke runs will be recorded here too)
    started TIMESTAMP NOT NULL, finished TIMESTAMP,
    status VARCHAR NOT NULL,        -- a RunStatus value
    message VARCHAR,                -- why it ended as it did
    config VARCHAR NOT NULL,        -- the run config (JSON)
    audit_id INTEGER,               -- the audit whose gate let it run (audits.audit_id)
    run_dir VARCHAR,                -- where its checkpoints are
    metrics VARCHAR,                -- JSON list, one object per epoch
    checkpoints VARCHAR,            -- JSON {"kept": [...], "best": ...}
    monitors VARCHAR,               -- JSON list of monitor records
    evaluation VARCHAR,             -- JSON: validation and held-out scores after training
    scheduler VARCHAR,              -- slurm, for a run preflight submit queued; else NULL
    job_id VARCHAR,                 -- the scheduler's job id
    script VARCHAR,                 -- the batch script submitted
    cluster VARCHAR                 -- JSON: the resources asked for (ClusterConfig)
)"""
# Columns added after the table was first released, for runs tables that predate them.
RUNS_MIGRATIONS = tuple(
    f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {column} VARCHAR"
    for column in ("evaluation", "scheduler", "job_id", "script", "cluster")
)
_COLUMNS = (
    "run_id, kind, started, finished, status, message, config, audit_id, run_dir, metrics, "
    "checkpoints, monitors, evaluation, scheduler, job_id, script, cluster"
)
_INSERT = f"INSERT INTO runs ({_COLUMNS}) VALUES ({', '.join('?' * 17)})"


class RunStatus(StrEnum):
    """How a run ended (or that it has not)."""

    QUEUED = "queued"  # submitted to a scheduler; the job has not started training
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED_BY_MONITOR = "stopped_by_monitor"
    GATE_FAILED = "gate_failed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # SIGINT or SIGTERM: resumable from its newest checkpoint
    CANCELLED = "cancelled"  # cancelled while queued (preflight runs cancel)


class RunRecord(BaseModel):
    """One row of the ``runs`` table, its JSON columns parsed."""

    run_id: str
    kind: str
    started: datetime
    finished: datetime | None
    status: RunStatus
    message: str | None
    config: dict[str, Any]
    audit_id: int | None
    run_dir: str | None
    metrics: list[dict[str, Any]]
    checkpoints: dict[str, Any]
    monitors: list[dict[str, Any]]
    evaluation: dict[str, Any] | None = None
    scheduler: str | None = None
    job_id: str | None = None
    script: str | None = None
    cluster: dict[str, Any] | None = None


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique id: ``20250101-120000-3f9a1c``."""
    return f"{(now or datetime.now()):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def start_run(
    manifest: str | Path,
    run_id: str,
    *,
    config: dict[str, Any],
    audit_id: int | None,
    run_dir: Path | None,
    status: RunStatus = RunStatus.RUNNING,
    message: str | None = None,
    kind: str = "train",
) -> None:
    """Insert a run's row."""
    with Manifest.open(manifest) as m:
        _create(m)
        m.con.execute(
            _INSERT,
            [
                run_id, kind, datetime.now(), None, str(status), message, json.dumps(config),
                audit_id, None if run_dir is None else str(run_dir), "[]", "{}", "[]", None,
                None, None, None, None,
            ],
        )  # fmt: skip


def _create(m: Manifest) -> None:
    """The runs table, created or brought up to date (a write)."""
    m.con.execute(RUNS_DDL)
    for step in RUNS_MIGRATIONS:
        m.con.execute(step)


def update_run(
    manifest: str | Path,
    run_id: str,
    *,
    metrics: list[dict[str, Any]],
    checkpoints: dict[str, Any],
    monitors: list[dict[str, Any]],
    status: RunStatus = RunStatus.RUNNING,
    message: str | None = None,
    evaluation: dict[str, Any] | None = None,
) -> None:
    """Write a run's progress (after every epoch) or, with a final status, its end (and the
    evaluation after training, when it completed)."""
    finished = None if status is RunStatus.RUNNING else datetime.now()
    scored = None if evaluation is None else json.dumps(evaluation)
    with Manifest.open(manifest) as m:
        _create(m)  # a run resumed on a manifest whose table predates a column
        m.con.execute(
            "UPDATE runs SET status = ?, message = ?, finished = ?, metrics = ?, checkpoints = ?,"
            " monitors = ?, evaluation = ? WHERE run_id = ?",
            [
                str(status), message, finished, json.dumps(metrics), json.dumps(checkpoints),
                json.dumps(monitors), scored, run_id,
            ],
        )  # fmt: skip


def set_job(
    manifest: str | Path,
    run_id: str,
    *,
    scheduler: str,
    job_id: str | None,
    script: Path | None,
    cluster: dict[str, Any],
) -> None:
    """Record where a run was submitted: the scheduler, its job id, the script, the resources."""
    with Manifest.open(manifest) as m:
        _create(m)
        m.con.execute(
            "UPDATE runs SET scheduler = ?, job_id = ?, script = ?, cluster = ? WHERE run_id = ?",
            [scheduler, job_id, None if script is None else str(script), json.dumps(cluster),
             run_id],
        )  # fmt: skip


def set_status(manifest: str | Path, run_id: str, status: RunStatus, message: str) -> None:
    """Set only a run's status and message (its progress is written already); a final status
    sets ``finished``, ``running`` (a resumed run) clears it."""
    finished = None if status is RunStatus.RUNNING else datetime.now()
    with Manifest.open(manifest) as m:
        m.con.execute(
            "UPDATE runs SET status = ?, message = ?, finished = ? WHERE run_id = ?",
            [str(status), message, finished, run_id],
        )


def _has_runs(m: Manifest) -> bool:
    return bool(
        m.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'")[0][0]
    )


def _record(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    for key, empty in (("config", "{}"), ("metrics", "[]"), ("checkpoints", "{}")):
        values[key] = json.loads(values[key] or empty)
    values["monitors"] = json.loads(values["monitors"] or "[]")
    values["evaluation"] = json.loads(values["evaluation"] or "null")
    values["cluster"] = json.loads(values["cluster"]) if values["cluster"] else None
    return RunRecord.model_validate(values)


def _selected(m: Manifest) -> str:
    """``_COLUMNS``, with NULL for those an older runs table lacks (read-only: no migration)."""
    have = {
        str(name)
        for (name,) in m.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'"
        )
    }
    names = [c.strip() for c in _COLUMNS.split(",")]
    return ", ".join(c if c in have else f"NULL AS {c}" for c in names)


def list_runs(m: Manifest) -> list[RunRecord]:
    """Every run, oldest first (none when no run was ever recorded)."""
    if not _has_runs(m):
        return []
    query = f"SELECT {_selected(m)} FROM runs ORDER BY started, run_id"
    return [_record(r) for r in m.query(query)]


def get_run(m: Manifest, run_id: str) -> RunRecord:
    """One run, by id or by a prefix matching exactly one id.

    Raises:
        UsageError: no run, or several, match.
    """
    matches = [r for r in list_runs(m) if r.run_id.startswith(run_id)]
    exact = [r for r in matches if r.run_id == run_id]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise UsageError(f"no run {run_id!r}; `preflight runs` lists them", path=m.path)
    ids = ", ".join(r.run_id for r in matches[:5])
    raise UsageError(f"{len(matches)} runs start with {run_id!r} ({ids}); give more of the id")


def resumable_runs(m: Manifest, kind: str = "train") -> list[RunRecord]:
    """Runs that ended without finishing (killed or interrupted), newest first."""
    unfinished = (RunStatus.RUNNING, RunStatus.FAILED, RunStatus.INTERRUPTED)
    runs = [r for r in list_runs(m) if r.kind == kind and r.status in unfinished]
    return sorted(runs, key=lambda r: (r.started, r.run_id), reverse=True)
