"""Writing reports to files atomically, with a clear error when the disk says no."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from preflight.errors import UsageError


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Raises:
        UsageError: the folder cannot be created or the disk is full or read-only.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for sharing
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write report: {exc.strerror or exc}", path=target) from exc


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
