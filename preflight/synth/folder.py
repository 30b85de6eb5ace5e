"""The folder a synthetic dataset goes to: new, empty, or holding an earlier one to replace."""

from __future__ import annotations

import json
import os
from pathlib import Path

from preflight.errors import UsageError

__all__ = ["prepare_folder"]


def prepare_folder(root: Path, *, overwrite: bool, truth_file: str, what: str) -> None:
    """Make ``root`` an empty folder, removing an earlier synthetic dataset if allowed.

    An earlier dataset is recognised by its truth file (``truth_file``), which lists every file
    it wrote under ``"files"``: those files, the truth file and the folders they leave empty are
    removed. Entries whose name starts with a dot (such as the ``.preflight`` folder an audit of
    the dataset wrote) are neither removed nor counted as someone else's files.

    Args:
        root: the folder to write.
        overwrite: replace an earlier synthetic dataset (``preflight synth --force``).
        truth_file: the name of the truth file that lists the earlier dataset's files.
        what: what the folder holds, for messages (``corpus``, ``stamp dataset``).

    Raises:
        UsageError: ``root`` is a file; it is not empty and ``overwrite`` is off or it holds no
            truth file; or it holds a file the earlier dataset did not write.
    """
    if root.exists() and not root.is_dir():
        raise UsageError(f"the {what} folder is a file", path=root)
    if root.is_dir() and any(not name.startswith(".") for name in os.listdir(root)):
        truth = root / truth_file
        if not overwrite or not truth.is_file():
            why = f" (it holds no {truth_file})" if overwrite else ""
            raise UsageError(
                f"the {what} folder is not empty{why}; choose a new or empty folder, or replace "
                f"an earlier synthetic {what} there with `preflight synth --force`",
                path=root,
            )
        _remove(root, json.loads(truth.read_text(encoding="utf-8")).get("files", []), truth)
        leftover = sorted(name for name in os.listdir(root) if not name.startswith("."))
        if leftover:
            raise UsageError(
                f"the {what} folder holds {leftover[0]!r}, which no earlier synthetic {what} "
                "wrote; choose a new or empty folder",
                path=root,
            )
    root.mkdir(parents=True, exist_ok=True)


def _remove(root: Path, files: list[str], truth: Path) -> None:
    """Delete ``files`` and ``truth``, then the folders under ``root`` they leave empty."""
    for relative in files:
        (root / relative).unlink(missing_ok=True)
    truth.unlink()
    folders = {parent for relative in files for parent in Path(relative).parents if parent.parts}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if (root / folder).is_dir() and not any((root / folder).iterdir()):
            (root / folder).rmdir()
