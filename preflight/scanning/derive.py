"""From the parse cache to the derived tables: match recordings with their annotations.

Runs inside the scan's transaction. Decisions (which annotation file labels a recording, why an
input is rejected) are made here in Python over one row per file and per annotated recording;
the bulk (events, seizures, windows) moves in SQL (``manifest.derived``, ``manifest.windows``).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from preflight.errors import Reason
from preflight.manifest import cache_tables, derived
from preflight.manifest.schema import create_derived_tables
from preflight.manifest.store import Manifest
from preflight.manifest.windows import WindowParams, build_seizures, build_windows
from preflight.scanning.discover import Kind
from preflight.scanning.layout import Placement, place
from preflight.sources import durations
from preflight.sources.limits import ScanLimits, check_duration, check_rates

# Files that list several recordings: a rejection may concern one entry (its key) only.
_LISTS = frozenset({Kind.CHBMIT_SUMMARY, Kind.SIENA_LIST})


def _priority(path: str, kind: Kind) -> int:
    """Which annotation labels windows when a recording has several (lower wins)."""
    ext = posixpath.splitext(path)[1].lower()
    order = {
        (Kind.TUSZ_CSV, ".csv_bi"): 0,
        (Kind.TUSZ_TSE, ".tse_bi"): 1,
        (Kind.TUSZ_LBL, ".lbl_bi"): 1,
        (Kind.BIDS_EVENTS, ".tsv"): 2,
        (Kind.SEIZEIT_TSV, ".tsv"): 2,
        (Kind.CHBMIT_SUMMARY, ".txt"): 3,
        (Kind.SIENA_LIST, ".txt"): 3,
        (Kind.TUSZ_CSV, ".csv"): 4,
        (Kind.TUSZ_TSE, ".tse"): 5,
        (Kind.TUSZ_LBL, ".lbl"): 6,
    }
    return order.get((kind, ext), 7)


@dataclass(slots=True)
class _Source:
    """One annotated recording inside one annotation file."""

    path: str
    kind: Kind
    key: str
    reader: str
    duration: float | None
    line: int | None
    problem: tuple[str, str, int | None] | None  # (reason, message, line)
    edf_name: str | None = None

    @property
    def rank(self) -> int:
        return 7 if self.kind is Kind.EDF else _priority(self.path, self.kind)

    @property
    def entry(self) -> str | None:
        """The entry this source is inside a list file (its key), or None for a whole file."""
        return self.key if self.kind in _LISTS else None


@dataclass(slots=True)
class _Edf:
    """What matching needs of an EDF header; channels and rates are joined in later in SQL."""

    path: str
    duration: float
    patient_field: str
    record_duration: float = 1.0


@dataclass(slots=True)
class Derived:
    """Rows for the derived tables, column-wise."""

    recordings: dict[str, list[object]] = field(default_factory=lambda: defaultdict(list))
    sources: dict[str, list[object]] = field(default_factory=lambda: defaultdict(list))
    # (path, reason, message, line, entry, cause path, cause entry): see schema.rejected
    rejected: list[tuple[str, str, str, int | None, str | None, str | None, str | None]] = field(
        default_factory=list
    )
    ids: dict[str, str] = field(default_factory=dict)  # recording id -> the file that made it

    def reject(
        self,
        path: str,
        reason: Reason | str,
        message: str,
        line: int | None = None,
        *,
        entry: str | None = None,
        cause: tuple[str, str | None] | None = None,
    ) -> None:
        """Reject ``path`` (or its list entry ``entry``); ``cause`` names the (path, entry)
        whose rejection this one follows from, for a follow-on rejection."""
        cause_path, cause_entry = cause if cause is not None else (None, None)
        self.rejected.append((path, str(reason), message, line, entry, cause_path, cause_entry))

    def reject_source(self, src: _Source) -> None:
        """Reject one annotated recording inside an annotation file, naming its key."""
        if src.problem is None:
            return
        reason, message, line = src.problem
        prefix = "" if src.kind is Kind.EDF else f"{src.key}: "
        self.reject(src.path, reason, prefix + message, line, entry=src.entry)

    def reject_siblings(self, srcs: list[_Source], cause: list[str]) -> None:
        """Reject the good annotation files of a recording rejected for another one of its
        annotation files (``cause``, by path): a sibling is never silently dropped."""
        names = ", ".join(sorted({posixpath.basename(p) for p in cause}))
        for s in srcs:
            if s.kind is Kind.EDF or s.problem is not None or s.path in cause:
                continue
            prefix = f"{s.key}: " if s.kind in _LISTS else ""
            self.reject(
                s.path, Reason.ANNOTATION_REJECTED,
                f"{prefix}not used: the recording's other annotation file {names} was rejected",
                s.line, entry=s.entry, cause=(sorted(cause)[0], None),
            )  # fmt: skip

    def add_recording(
        self,
        folder: str,
        key: str,
        srcs: list[_Source],
        label: _Source,
        where: Placement,
        duration: float,
        edf: _Edf | None = None,
    ) -> None:
        """Append one recording row (and its annotation sources); a second file for the same
        recording (``x.edf`` beside ``x.EDF`` or ``x.bdf``) is rejected naming the first."""
        rec_id = f"{folder}/{key}" if folder else key
        path = edf.path if edf else label.path
        first = self.ids.get(rec_id)
        if first is not None:
            self.reject(
                path, Reason.DUPLICATE_RECORDING,
                f"a second file for recording {rec_id}, already read from {first}: "
                "keep one of the two",
            )  # fmt: skip
            return
        self.ids[rec_id] = path
        row: dict[str, object] = {
            "recording_id": rec_id,
            "rec_idx": -1,  # numbered once the set of recordings is final
            "path": edf.path if edf else None,
            "annotation_paths": sorted({s.path for s in srcs if s.kind is not Kind.EDF}),
            "label_source": label.path,
            "label_reader": label.reader,
            "patient": where.patient,
            "session": where.session,
            "declared_split": where.split,
            "split": where.split,
            "duration_s": duration,
        }
        for col, val in row.items():
            self.recordings[col].append(val)
        for s in srcs:
            self.sources["recording_id"].append(rec_id)
            self.sources["source_path"].append(s.path)
            self.sources["key"].append(s.key)


def derive(
    m: Manifest,
    *,
    kinds: frozenset[Kind],
    labels_only: bool,
    edfplus: bool,
    params: WindowParams,
    walk_problems: list[tuple[str, Reason, str]],
    missing_hint: str = "",
    limits: ScanLimits | None = None,
) -> None:
    """Rebuild recordings, events, seizures, windows and rejected from the parse cache.

    ``missing_hint`` ends the message of an EDF without annotations (``missing_annotations``):
    what to try (``discover.missing_annotations_hint``). ``limits``: what a header or an
    annotation file may claim before it is rejected as implausible (``audit.limits``).
    """
    limits = limits or ScanLimits()
    out = Derived()
    for path, reason, message in walk_problems:
        out.reject(path, reason, message)
    file_errors = _file_errors(m, kinds, out)
    if Kind.EDF in kinds and not labels_only:
        _reject_implausible_edfs(m, limits, file_errors, out)
    sources = _load_sources(m, kinds, file_errors, edfplus=edfplus or labels_only)
    by_key: dict[tuple[str, str], list[_Source]] = defaultdict(list)
    for src in sources:
        by_key[(posixpath.dirname(src.path), src.key)].append(src)
    if labels_only:
        _match_labels_only(by_key, out, limits, file_errors)
    else:
        edfs = _load_edfs(m, kinds, file_errors)
        _match_edfs(edfs, by_key, file_errors, out, hint=missing_hint)
    create_derived_tables(m.con)
    _write(m, out, params, kinds)


def _file_errors(m: Manifest, kinds: frozenset[Kind], out: Derived) -> dict[str, Kind]:
    """Reject every file that could not be read at all; returns their paths and kinds."""
    errors: dict[str, Kind] = {}
    for path, kind, reason, message, line in cache_tables.unreadable_files(m):
        if Kind(kind) in kinds:
            errors[path] = Kind(kind)
            out.reject(path, reason, message, line)
    return errors


def _reject_implausible_edfs(
    m: Manifest, limits: ScanLimits, file_errors: dict[str, Kind], out: Derived
) -> None:
    """Reject EDF headers outside ``audit.limits`` before any window exists (see
    ``sources.limits``); their annotation files follow as ``recording_rejected``."""
    for path, rates, duration in cache_tables.edf_rates_and_durations(m):
        if path in file_errors:
            continue
        problem = check_rates(rates, limits) or check_duration(duration, limits, "header says")
        if problem is not None:
            file_errors[path] = Kind.EDF
            out.reject(path, *problem)


def _annotation_key(path: str, kind: Kind) -> str:
    """The recording key a whole annotation file belongs to; ``*`` for patient summaries."""
    if kind in (Kind.CHBMIT_SUMMARY, Kind.SIENA_LIST):
        return "*"
    stem = posixpath.splitext(posixpath.basename(path))[0]
    if kind is Kind.BIDS_EVENTS and stem.endswith("_events"):
        return stem[: -len("_events")]
    if kind is Kind.SEIZEIT_TSV:
        return stem.rpartition("_")[0]  # P_ID10_r1_a1 -> P_ID10_r1
    return stem


def _rejected_annotations(file_errors: dict[str, Kind]) -> dict[tuple[str, str], list[str]]:
    """Unreadable annotation files by (folder, recording key), so their EDFs can say why."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, kind in file_errors.items():
        if kind is not Kind.EDF:
            out[(posixpath.dirname(path), _annotation_key(path, kind))].append(path)
    return out


def _rejected_recordings(file_errors: dict[str, Kind]) -> dict[tuple[str, str], list[str]]:
    """Unreadable EDF/BDF files by (folder, recording key), so their annotations can say why."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, kind in file_errors.items():
        if kind is Kind.EDF:
            for key in _lookup_keys(path):
                out[(posixpath.dirname(path), key)].append(path)
    return out


def _load_sources(
    m: Manifest, kinds: frozenset[Kind], file_errors: dict[str, Kind], *, edfplus: bool
) -> list[_Source]:
    rows = cache_tables.annotated_recordings(m)
    out = []
    for path, kind, key, reader, duration, line, edf_name, p_reason, p_msg, p_line in rows:
        kind = Kind(kind)
        if kind not in kinds or path in file_errors:
            continue
        problem = None if p_reason is None else (p_reason, p_msg, p_line)
        if (
            kind is Kind.EDF
            and not edfplus
            and problem is None
            and not cache_tables.has_seizure(m, path)
        ):
            continue  # auto mode: EDF+ notes alone do not make a recording annotated
        # (a broken seizure annotation does: the recording is rejected for it, not "missing")
        out.append(_Source(path, kind, key, reader, duration, line, problem, edf_name))
    return out


def _load_edfs(m: Manifest, kinds: frozenset[Kind], file_errors: dict[str, Kind]) -> list[_Edf]:
    if Kind.EDF not in kinds:
        return []
    rows = cache_tables.edf_headers(m)
    return [
        _Edf(path, dur, patient or "", record or 1.0)
        for path, dur, patient, record in rows
        if path not in file_errors
    ]


def _lookup_keys(edf_path: str) -> list[str]:
    stem = posixpath.splitext(posixpath.basename(edf_path))[0]
    return [stem, stem[: -len("_eeg")]] if stem.endswith("_eeg") else [stem]


def _match_edfs(
    edfs: list[_Edf],
    by_key: dict[tuple[str, str], list[_Source]],
    file_errors: dict[str, Kind],
    out: Derived,
    *,
    hint: str,
) -> None:
    used: set[tuple[str, str]] = set()
    unreadable = _rejected_annotations(file_errors)
    for edf in edfs:
        folder = posixpath.dirname(edf.path)
        keys = _lookup_keys(edf.path)
        key, srcs = next(
            ((k, by_key[(folder, k)]) for k in keys if (folder, k) in by_key), (keys[-1], [])
        )
        used.add((folder, key))
        lost = [p for k in [*keys, "*"] for p in unreadable.get((folder, k), [])]
        if lost:
            names = ", ".join(sorted(posixpath.basename(p) for p in lost))
            out.reject(
                edf.path, Reason.ANNOTATION_REJECTED, f"its annotations were rejected: {names}",
                cause=(sorted(lost)[0], None),
            )  # fmt: skip
            out.reject_siblings(srcs, lost)
            continue
        _add_recording(edf, folder, key, srcs, out, hint=hint)
    rejected_edfs = _rejected_recordings(file_errors)
    for (folder, key), srcs in sorted(by_key.items()):
        if (folder, key) not in used:
            _reject_unmatched(folder, key, srcs, file_errors, rejected_edfs, out)


def _reject_unmatched(
    folder: str,
    key: str,
    srcs: list[_Source],
    file_errors: dict[str, Kind],
    rejected_edfs: dict[tuple[str, str], list[str]],
    out: Derived,
) -> None:
    """Annotations no readable recording matched: their recording was rejected, or is absent."""
    for src in srcs:
        if src.kind is Kind.EDF:
            continue
        if src.problem is not None:
            out.reject_source(src)
            continue
        edf_name = src.edf_name or f"{key}.edf"
        if src.edf_name is not None:
            named = (f"{folder}/{edf_name}".lstrip("/"), edf_name)
            bad = [p for p in file_errors if p in named]
        else:  # the recording is <key>.edf or <key>.bdf, whichever was rejected
            bad = rejected_edfs.get((folder, key), [])
        if bad:
            names = ", ".join(sorted(posixpath.basename(p) for p in bad))
            out.reject(
                src.path, Reason.RECORDING_REJECTED, f"annotates {names}, which was rejected",
                src.line, entry=src.entry, cause=(sorted(bad)[0], None),
            )  # fmt: skip
        else:
            out.reject(
                src.path, Reason.MISSING_RECORDING, f"annotates {edf_name}, which is not present",
                src.line, entry=src.entry,
            )  # fmt: skip


def _add_recording(
    edf: _Edf,
    folder: str,
    key: str,
    srcs: list[_Source],
    out: Derived,
    *,
    hint: str,
) -> None:
    bad = [s for s in srcs if s.problem is not None]
    for s in bad:
        out.reject_source(s)
    if any(s.kind is not Kind.EDF for s in bad):
        names = ", ".join(sorted({posixpath.basename(s.path) for s in bad}))
        first = min(bad, key=lambda s: (s.kind is Kind.EDF, s.path))
        out.reject(
            edf.path, Reason.ANNOTATION_REJECTED, f"its annotations were rejected: {names}",
            cause=(first.path, first.entry),
        )  # fmt: skip
    if bad:
        out.reject_siblings(srcs, [s.path for s in bad])
        return
    if not srcs:
        out.reject(
            edf.path, Reason.MISSING_ANNOTATIONS, f"no annotation file found for {key}{hint}"
        )
        return
    if _durations_disagree(edf, srcs, out):
        return
    label = min(srcs, key=lambda s: (s.rank, s.path))
    where = place(edf.path, key, label.kind, edf.patient_field)
    out.add_recording(folder, key, srcs, label, where, edf.duration, edf)


def _durations_disagree(edf: _Edf, srcs: list[_Source], out: Derived) -> bool:
    """Reject the recording when an annotation file states another duration than its EDF
    header (see ``sources.durations``); its annotation sources follow it. True if rejected."""
    stated = [s for s in sorted(srcs, key=lambda s: (s.rank, s.path)) if s.kind is not Kind.EDF]
    wrong = next(
        (s for s in stated if s.duration is not None
         and durations.disagree(s.duration, edf.duration, edf.record_duration)),
        None,
    )  # fmt: skip
    if wrong is None:
        return False
    where = posixpath.basename(wrong.path) + (f" line {wrong.line}" if wrong.line else "")
    out.reject(
        edf.path, Reason.DURATION_MISMATCH,
        f"the EDF header gives {edf.duration:g} s but {where} states {wrong.duration:g} s"
        f" (tolerance {durations.tolerance(edf.record_duration):g} s): a truncated file or"
        " annotations of another recording",
    )  # fmt: skip
    for s in stated:
        out.reject(
            s.path, Reason.RECORDING_REJECTED,
            f"{s.key}: its recording {posixpath.basename(edf.path)} was rejected"
            " (duration_mismatch)", s.line, entry=s.entry, cause=(edf.path, None),
        )  # fmt: skip
    return True


def _match_labels_only(
    by_key: dict[tuple[str, str], list[_Source]],
    out: Derived,
    limits: ScanLimits,
    file_errors: dict[str, Kind],
) -> None:
    unreadable = _rejected_annotations(file_errors)
    for (folder, key), all_srcs in sorted(by_key.items()):
        srcs = [s for s in all_srcs if s.kind is not Kind.EDF]
        bad = [s for s in srcs if s.problem is not None]
        for s in bad:
            out.reject_source(s)
        lost = [s.path for s in bad] + unreadable.get((folder, key), [])
        if lost:
            out.reject_siblings(srcs, lost)
        if lost or not srcs:
            continue
        label = min(srcs, key=lambda s: (s.rank, s.path))
        duration = next((s.duration for s in [label, *srcs] if s.duration is not None), None)
        if duration is None:
            msg = f"{key}: a labels-only audit needs a duration and these annotations give none"
            out.reject(label.path, Reason.NO_DURATION, msg, label.line, entry=label.entry)
            continue
        implausible = check_duration(duration, limits, f"{key}: the annotations say")
        if implausible is not None:
            out.reject(label.path, *implausible, label.line, entry=label.entry)
            continue
        out.add_recording(folder, key, srcs, label, place(label.path, key, label.kind), duration)


def _write(m: Manifest, out: Derived, params: WindowParams, kinds: frozenset[Kind]) -> None:
    derived.stage_recordings(m, out.recordings, out.sources)
    _reject_out_of_range(m, out)
    derived.number_and_describe_recordings(m)
    derived.copy_events(m)
    derived.copy_notes(m, kinds)
    if out.rejected:
        cols = ("path", "reason", "message", "line", "recording", "cause_path", "cause_recording")
        derived.insert_rejected(
            m, {c: [row[i] for row in out.rejected] for i, c in enumerate(cols)}
        )
    build_seizures(m.con)
    build_windows(m.con, params)


def _reject_out_of_range(m: Manifest, out: Derived) -> None:
    rows = derived.events_past_end(m)
    if not rows:
        return
    gone = sorted({r[0] for r in rows})
    first: dict[str, tuple[str, str | None]] = {}
    for rec_id, source, line, stop, duration, key, kind in rows:
        entry = key if Kind(kind) in _LISTS else None
        first.setdefault(rec_id, (source, entry))
        out.reject(
            source, Reason.OUT_OF_RANGE,
            f"event ends at {stop:g} s, past the recording's end at {duration:g} s", line,
            entry=entry,
        )  # fmt: skip
    culprits = sorted({(r[0], r[1]) for r in rows})
    for rec_id, source, key, kind in derived.sibling_sources(m, gone, culprits):
        cause = ", ".join(posixpath.basename(c[1]) for c in culprits if c[0] == rec_id)
        prefix = f"{key}: " if Kind(kind) in _LISTS else ""
        out.reject(
            source, Reason.ANNOTATION_REJECTED,
            f"{prefix}not used: the recording's other annotation file {cause} was rejected",
            entry=key if Kind(kind) in _LISTS else None, cause=first[rec_id],
        )  # fmt: skip
    for rec_id, path in derived.recording_paths(m, gone):
        if path is not None:
            out.reject(
                path, Reason.ANNOTATION_REJECTED, f"{rec_id}: an event lies past its end",
                cause=first[rec_id],
            )  # fmt: skip
    derived.drop_recordings(m, gone)
