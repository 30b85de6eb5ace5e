"""Which splits a corpus must have, and why one that is missing is missing.

The evaluation splits default to whichever splits hold recordings, so a split that vanished (a
dangling ``dev`` link, an unreadable ``dev`` folder, a tier of empty files) would silently stop
being evaluated. The expected splits are therefore decided apart from what was found:

1. ``gate.evaluation_splits`` configured: the train split and those;
2. a stratified split: the parts of ``split.ratios``;
3. the corpus's own split: the train split (``all`` for a corpus without splits) and every split
   the layout names: the split folder of each input file or rejected input (TUSZ ``train``,
   ``dev``, ``eval``, ``dev_test``; a Parquet file's first folder unless a split column is set),
   and of each folder that could not be listed or link that leads nowhere.

``splits_present`` (an error on the floor) then fails for each expected split without a usable
recording, naming why: missing, an unreadable folder, a dangling link, or every file rejected.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import PurePosixPath

from preflight.config import GateConfig
from preflight.manifest import checks as manifest_checks
from preflight.manifest.store import Manifest, ManifestKind
from preflight.sources import tusz

__all__ = ["UNSPLIT", "expected_splits", "why_missing"]

UNSPLIT = "all"
_TUSZ_SPLITS = ("train", "dev", "eval", "dev_test")
EXAMPLES = 3


def expected_splits(m: Manifest, config: GateConfig, found: list[str]) -> list[str]:
    """The splits the gate requires, train first."""
    if config.evaluation_splits is not None:
        wanted = [config.train_split, *config.evaluation_splits]
    elif m.meta("split_method") == "stratified":
        wanted = [config.train_split, *json.loads(m.meta("split_ratios") or "{}")]
    else:
        named = sorted(_layout_paths(m))
        train = config.train_split if found != [UNSPLIT] or named else UNSPLIT
        wanted = [train, *named]
    return list(dict.fromkeys(wanted))


def why_missing(m: Manifest, split: str) -> str:
    """Why ``split`` holds no usable recording, in words naming paths."""
    paths = _layout_paths(m).get(split, [])
    walk = [(p, msg) for p, reason, msg, is_file in paths if not is_file]
    if walk:
        listed = "; ".join(f"{p}: {msg}" for p, msg in walk[:EXAMPLES])
        return f"its folder could not be read ({listed})"
    files = [(p, reason) for p, reason, _, is_file in paths if is_file and reason is not None]
    if files:
        listed = ", ".join(f"{p} ({reason})" for p, reason in files[:EXAMPLES])
        more = f" and {len(files) - EXAMPLES} more" if len(files) > EXAMPLES else ""
        return f"empty: all {len(files)} of its input file(s) were rejected: {listed}{more}"
    if paths:
        return "empty: its files hold no usable recording"
    return "missing: no folder or file of the corpus belongs to it"


def _layout_paths(m: Manifest) -> dict[str, list[tuple[str, str | None, str, bool]]]:
    """Per split the layout names: (path, rejection reason or None, message, is a file)."""
    rows = manifest_checks.inputs_with_rejections(m)
    parquet = m.kind is ManifestKind.TABLES
    if parquet and json.loads(m.meta("parquet_options") or "{}").get("split_column"):
        return {}  # splits come from a column, not from folders
    out: dict[str, list[tuple[str, str | None, str, bool]]] = defaultdict(list)
    for path, reason, message, is_file in rows:
        split = _split_of(path, is_file=bool(is_file), parquet=parquet)
        if split is not None:
            out[split].append((path, reason, message or "", bool(is_file)))
    return out


def _split_of(path: str, *, is_file: bool, parquet: bool) -> str | None:
    parts = PurePosixPath(path).parts
    if parquet:
        return parts[0] if len(parts) > 1 or not is_file else None
    if is_file:  # an input file: its split as the TUSZ reader places it (others are unsplit)
        layout = tusz.parse_tusz_path(path)
        return None if layout is None else layout.split
    # a folder that could not be listed, or a link that leads nowhere: its nearest split folder
    return next((p for p in reversed(parts) if p in _TUSZ_SPLITS), None)
