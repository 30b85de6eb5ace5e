"""Finding the input files under a data root and deciding which reader owns each.

Only file names decide: no file is opened here. Folders whose name starts with a dot (such as the
manifest's own ``.preflight``) are skipped, symlinked folders are followed once (a loop is
reported, not followed forever), and a folder that cannot be listed becomes a rejected input, as
do a symlink that leads nowhere (whatever its name: it may be a whole split) and an input whose
name is not UTF-8 (named with its odd bytes escaped).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from preflight.config import SourceFormat
from preflight.errors import Reason
from preflight.sources.seizeit import is_annotation_name as is_seizeit_annotation


class Kind(StrEnum):
    """What a file is, by its name."""

    EDF = "edf"
    TUSZ_CSV = "tusz_csv"  # .csv_bi (term) and .csv (per channel)
    TUSZ_TSE = "tusz_tse"  # .tse_bi and .tse (v1.5)
    TUSZ_LBL = "tusz_lbl"  # .lbl and .lbl_bi (v1.5)
    BIDS_EVENTS = "bids_events"
    CHBMIT_SUMMARY = "chbmit_summary"
    SIENA_LIST = "siena_list"
    SEIZEIT_TSV = "seizeit_tsv"  # P_IDnn_rN_a1.tsv


_ALLOWED: dict[SourceFormat, frozenset[Kind]] = {
    SourceFormat.AUTO: frozenset(Kind),
    SourceFormat.TUSZ: frozenset({Kind.EDF, Kind.TUSZ_CSV, Kind.TUSZ_TSE, Kind.TUSZ_LBL}),
    SourceFormat.CHBMIT: frozenset({Kind.EDF, Kind.CHBMIT_SUMMARY}),
    SourceFormat.SIENA: frozenset({Kind.EDF, Kind.SIENA_LIST}),
    SourceFormat.BIDS: frozenset({Kind.EDF, Kind.BIDS_EVENTS}),
    SourceFormat.EDFPLUS: frozenset({Kind.EDF}),
    SourceFormat.SEIZEIT: frozenset({Kind.EDF, Kind.SEIZEIT_TSV}),
    SourceFormat.PARQUET: frozenset(),
}


_BY_SUFFIX = {
    "edf": Kind.EDF, "bdf": Kind.EDF,
    "csv": Kind.TUSZ_CSV, "csv_bi": Kind.TUSZ_CSV,
    "tse": Kind.TUSZ_TSE, "tse_bi": Kind.TUSZ_TSE,
    "lbl": Kind.TUSZ_LBL, "lbl_bi": Kind.TUSZ_LBL,
}  # fmt: skip


def kinds_read(fmt: SourceFormat, *, labels_only: bool = False) -> frozenset[Kind]:
    """The kinds of file an audit in format ``fmt`` reads (recordings left out with labels only)."""
    return _ALLOWED[fmt] - ({Kind.EDF} if labels_only else frozenset())


def missing_annotations_hint(fmt: SourceFormat, present: Iterable[Kind]) -> str:
    """What to tell a user about an EDF without annotations, audited in format ``fmt``.

    With a restricted ``--format``, annotation files of another format are never read: name
    the format that would read them, rather than suggest EDF+ annotations.
    """
    ignored = set(present) - _ALLOWED[fmt]
    owners = [
        str(f) for f in SourceFormat
        if f not in (SourceFormat.AUTO, SourceFormat.EDFPLUS) and _ALLOWED[f] & ignored
    ]  # fmt: skip
    if fmt is not SourceFormat.AUTO and owners:
        choices = " or ".join(f"--format {f}" for f in [*owners, "auto"])
        return (
            f" (--format {fmt} reads no {', '.join(sorted(ignored))} file, and this folder "
            f"holds some: use {choices})"
        )
    if fmt is SourceFormat.EDFPLUS:
        return ""
    return " (for EDF+ annotations without seizures, use --format edfplus)"


def classify(name: str) -> Kind | None:
    """The kind of a file from its name, or None for a file no reader owns."""
    lower = name.lower()
    kind = _BY_SUFFIX.get(lower.rpartition(".")[2]) if "." in lower else None
    if kind is not None:
        return kind
    if lower.endswith("_events.tsv"):
        return Kind.BIDS_EVENTS
    if lower.endswith("-summary.txt") and lower.startswith("chb"):
        return Kind.CHBMIT_SUMMARY
    if lower.startswith("seizures-list-") and lower.endswith(".txt"):
        return Kind.SIENA_LIST
    if is_seizeit_annotation(name):
        return Kind.SEIZEIT_TSV
    return None


@dataclass(frozen=True, slots=True)
class Found:
    """One input file: its root-relative posix path, kind, size and mtime."""

    rel: str
    kind: Kind
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Discovery:
    """What a walk of the data root found."""

    files: list[Found] = field(default_factory=list)
    # Folders or files that could not be listed or stat'ed: (rel path, reason, message).
    problems: list[tuple[str, Reason, str]] = field(default_factory=list)
    ignored: int = 0  # files no reader of the chosen format owns


def discover(root: Path, fmt: SourceFormat, *, labels_only: bool = False) -> Discovery:
    """Walk ``root`` and list the files the chosen format reads.

    Args:
        root: the data root folder.
        fmt: the ``--format`` choice.
        labels_only: skip recordings (EDF/BDF): the audit works from annotations alone.

    Returns:
        The files found, sorted by path, with the problems met on the way.
    """
    allowed = kinds_read(fmt, labels_only=labels_only)
    out = Discovery()
    seen: set[tuple[int, int]] = set()
    pending = [(os.fspath(root), "")]
    while pending:  # iterative: deep trees cannot exhaust the stack
        folder, rel = pending.pop()
        _list(folder, rel, out, allowed, seen, pending)
    out.files.sort(key=lambda f: f.rel)
    return out


def _list(
    folder: str,
    rel: str,
    out: Discovery,
    allowed: frozenset[Kind],
    seen: set[tuple[int, int]],
    pending: list[tuple[str, str]],
) -> None:
    try:
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            out.problems.append((rel or ".", Reason.UNREADABLE, "symlink loop: folder seen before"))
            return
        seen.add((st.st_dev, st.st_ino))
        entries = list(os.scandir(folder))
    except OSError as exc:
        out.problems.append((rel or ".", Reason.UNREADABLE, f"cannot list folder: {exc.strerror}"))
        return
    prefix = f"{rel}/" if rel else ""
    for entry in entries:
        name = entry.name
        try:
            if entry.is_dir():
                if name.startswith("."):
                    continue
                if is_utf8(name):
                    pending.append((entry.path, prefix + name))
                else:
                    out.problems.append(undecodable_name(prefix + name, "folder"))
                continue
            kind = classify(name)
            if kind is None or kind not in allowed:
                dangling = None if name.startswith(".") else dangling_link(entry.path)
                if dangling is not None:
                    out.problems.append((printable(prefix + name), Reason.UNREADABLE, dangling))
                else:
                    out.ignored += 1
                continue
            if not is_utf8(name):
                out.problems.append(undecodable_name(prefix + name, "file"))
                continue
            st = entry.stat()  # follows symlinks: a dangling link raises and is reported
            out.files.append(Found(prefix + name, kind, st.st_size, st.st_mtime_ns))
        except OSError as exc:
            problem = f"cannot stat: {exc.strerror}"
            out.problems.append((printable(prefix + name), Reason.UNREADABLE, problem))


def dangling_link(path: str) -> str | None:
    """The problem with a symlink that leads nowhere (a ``dev`` folder link to an unmounted
    disk is a lost split, not an ignorable name), or None for anything else."""
    if not os.path.islink(path) or os.path.exists(path):
        return None
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return f"dangling symlink: its target {printable(target)} does not exist"


def undecodable_name(rel: str, what: str) -> tuple[str, Reason, str]:
    """A name that is not UTF-8 cannot be stored, reported or handed to pyarrow as text: it is
    rejected under a printable path (its bytes shown as ``\\xNN``) and never opened."""
    inside = "; its files are not audited" if what == "folder" else ""
    return (
        printable(rel),
        Reason.UNDECODABLE,
        f"{what} name is not valid UTF-8 (bytes shown as \\xNN): rename it{inside}",
    )


def is_utf8(name: str) -> bool:
    """False for a name ``os.scandir`` decoded with surrogate escapes (bytes not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: str) -> str:
    """``path`` with the bytes that are not UTF-8 shown as ``\\xNN``: safe to store and print."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
