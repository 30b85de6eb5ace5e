"""Checkpoints that describe themselves, written atomically, read with ``weights_only=True``.

A run folder holds ``epoch-0001.pt``, ``epoch-0002.pt`` ... (one per finished epoch, the newest
``keep_last`` kept) and ``best.pt`` (a hard link to the best by validation AUROC or loss). Each
file is a ``torch.save`` of a dict of tensors and plain values only, so ``torch.load(path,
weights_only=True)`` reads it without unpickling code::

    format, version        "preflight-checkpoint", 1
    model                  {"name": "seizure_tcn", "kwargs": {...}}: rebuild(**model)
    model_state            the unwrapped model's state dict
    optimizer_state        AdamW's state dict
    scaler_state           the fp16 GradScaler's state dict, or None
    step, epoch            optimizer steps done, epochs finished (= the sampler's next epoch)
    rng                    torch (and CUDA), NumPy and Python generator states, the sampler's
                           seed and next epoch
    run_id, config         the run, and its config as a JSON string
    manifest_fingerprint   the audited corpus it trained on
    suite_hash             the expectation suite whose gate it passed
    metrics                this epoch's validation metrics (JSON string)
    history, monitors      every epoch's metrics and monitor records so far (JSON strings)
    best                   the best score so far and its file (JSON string)
    guard                  the batch guard's counts {"batches": int, "quarantined": int}

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the
final name (``os.replace``): a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from preflight.errors import UsageError
from preflight.models.registry import rebuild

__all__ = [
    "BEST",
    "FORMAT",
    "VERSION",
    "checkpoint_path",
    "epoch_checkpoints",
    "latest_readable",
    "load_checkpoint",
    "load_model",
    "mark_best",
    "prune",
    "restore_rng",
    "rng_state",
    "save_checkpoint",
]

FORMAT = "preflight-checkpoint"
VERSION = 1
BEST = "best.pt"
_EPOCH = re.compile(r"epoch-(\d+)\.pt")
_REQUIRED = (
    "model", "model_state", "optimizer_state", "step", "epoch", "rng", "run_id", "config",
    "manifest_fingerprint", "suite_hash", "history", "monitors", "best", "guard",
)  # fmt: skip


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    """Where the checkpoint after ``epoch`` finished epochs goes."""
    return run_dir / f"epoch-{epoch:04d}.pt"


def rng_state(seed: int, next_epoch: int) -> dict[str, Any]:
    """Every random generator a resumed run needs, as tensors and plain values."""
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "state": torch.tensor(internal), "gauss": gauss},
        "sampler": {"seed": seed, "epoch": next_epoch},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set every generator ``rng_state`` recorded (the sampler's epoch is the caller's)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        UsageError: the file is missing, unreadable, truncated, not a preflight checkpoint, of
            a newer format, or lacks a field.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError("checkpoint not found", path=path) from None
    except Exception as exc:  # torch's boundary: pickle, zip and I/O errors all mean unreadable
        raise UsageError(
            f"unreadable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
            path=path,
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UsageError("not a preflight checkpoint", path=path)
    if not isinstance(payload.get("version"), int) or payload["version"] > VERSION:
        raise UsageError(
            f"checkpoint format version {payload.get('version')} is newer than this preflight "
            f"reads ({VERSION})",
            path=path,
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise UsageError(f"checkpoint lacks {', '.join(missing)}", path=path)
    return payload


def load_model(path: str | Path) -> nn.Module:
    """The model a checkpoint describes, with its weights (on the CPU, in eval mode).

    Raises:
        UsageError: as ``load_checkpoint``; ConfigError when the model cannot be rebuilt.
    """
    payload = load_checkpoint(path)
    model = rebuild(payload["model"]["name"], payload["model"]["kwargs"])
    model.load_state_dict(payload["model_state"])
    return model.eval()


def epoch_checkpoints(run_dir: Path) -> list[Path]:
    """The run folder's ``epoch-*.pt`` files, newest (most epochs) first."""
    if not run_dir.is_dir():
        return []
    found = [(int(m[1]), p) for p in run_dir.iterdir() if (m := _EPOCH.fullmatch(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def latest_readable(run_dir: Path) -> tuple[dict[str, Any] | None, Path | None, list[str]]:
    """The newest checkpoint that loads, skipping (and naming) the ones that do not.

    Returns:
        ``(payload, path, problems)``: the payload and file (None when none loads), and one
        message per newer checkpoint that could not be read.
    """
    problems: list[str] = []
    for path in epoch_checkpoints(run_dir):
        try:
            return load_checkpoint(path), path, problems
        except UsageError as exc:
            problems.append(str(exc))
    return None, None, problems


def prune(run_dir: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` epoch checkpoints; returns the kept ones."""
    ordered = epoch_checkpoints(run_dir)
    for old in ordered[keep_last:]:
        old.unlink(missing_ok=True)  # best.pt is a hard link: its data stays
    return ordered[:keep_last]


def mark_best(path: Path) -> Path:
    """Make ``best.pt`` beside ``path`` the same file (hard link, else a copy), atomically."""
    best = path.with_name(BEST)
    tmp = path.with_name(f".{BEST}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            os.link(path, tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(path, tmp)
        os.replace(tmp, best)
    finally:
        tmp.unlink(missing_ok=True)
    return best
