"""Write a synthetic seizure corpus with known statistics, for demos, tests and benchmarks.

``synthesize(root, spec)`` plans the corpus (``synth_plan``), names it after a real layout
(``synth_layouts``), writes real EDF files (``synth_edf``) and annotation files, and saves the truth
(every recording, its split, patient, duration and seizures, and every planted defect) as
``<root>/synth_truth.json`` so an audit can be checked against it.

Example::

    corpus = synthesize(Path("corpus"), SynthSpec(defects={Defect.NO_DEV_POSITIVES}))
    corpus.summary()["splits"]["dev"]["events"]  # 0
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from preflight.errors import UsageError
from preflight.synth.edf import (
    EdfIdentity,
    channel_labels,
    corrupt_edf,
    make_signals,
    write_dense_edf,
    write_sparse_edf,
)
from preflight.synth.folder import prepare_folder
from preflight.synth.layouts import name_recordings, patient_ids, write_annotations
from preflight.synth.plan import Slot, patient_count, plan
from preflight.synth.spec import (
    TRUTH_FILE,
    Corruption,
    Defect,
    Layout,
    SynthCorpus,
    SynthEvent,
    SynthRecording,
    SynthSpec,
)

__all__ = [
    "TRUTH_FILE",
    "Corruption",
    "Defect",
    "Layout",
    "SynthCorpus",
    "SynthEvent",
    "SynthRecording",
    "SynthSpec",
    "load_truth",
    "synthesize",
]


def synthesize(
    root: Path, spec: SynthSpec | None = None, *, overwrite: bool = False
) -> SynthCorpus:
    """Write a synthetic corpus under ``root`` and its truth file.

    Args:
        root: the corpus folder; created if absent, and it must be empty.
        spec: what to write; ``SynthSpec()`` by default.
        overwrite: replace an earlier synthetic corpus in ``root`` (the files its
            ``synth_truth.json`` lists); a folder holding anything else is still refused.

    Returns:
        The truth about what was written.

    Raises:
        UsageError: ``root`` is a file, or a non-empty folder that cannot be replaced.
    """
    spec = SynthSpec() if spec is None else spec
    root = Path(root)
    prepare_folder(root, overwrite=overwrite, truth_file=TRUTH_FILE, what="corpus")
    slots = plan(spec)
    ids = patient_ids(spec.layout, patient_count(slots), spec.seed)
    channels = channel_labels(spec.layout, spec.n_channels)
    recordings = name_recordings(spec, slots, ids, len(channels))
    _make_folders(root, recordings)
    files = _write_edfs(root, spec, slots, recordings, channels)
    files += write_annotations(root, spec, recordings, channels)
    corpus = SynthCorpus(root, spec, channels, tuple(recordings), tuple(sorted(files)))
    temporary = corpus.truth_path.with_suffix(".json.tmp")
    temporary.write_text(corpus.to_json(), encoding="utf-8")
    temporary.replace(corpus.truth_path)
    return corpus


def load_truth(root: Path) -> SynthCorpus:
    """Read ``<root>/synth_truth.json`` back.

    Raises:
        UsageError: the file is absent or not a truth document.
    """
    path = Path(root) / TRUTH_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read the synth truth: {error.strerror}", path=path) from None
    return SynthCorpus.from_json(text, Path(root))


def _identity(rec: SynthRecording, layout: Layout) -> EdfIdentity:
    """The header's patient code: the id as the corpus spells it (``sub-01`` for BIDS)."""
    patient = f"sub-{rec.patient}" if layout is Layout.BIDS else rec.patient
    return EdfIdentity(patient=patient, recording=rec.key, start=rec.start)


def _write_edfs(
    root: Path,
    spec: SynthSpec,
    slots: list[Slot],
    recordings: list[SynthRecording],
    channels: tuple[str, ...],
) -> list[str]:
    """Write (or copy, or break) every EDF; return their relative paths."""
    written: list[str] = []
    for slot, rec in zip(slots, recordings, strict=True):
        if rec.edf is None:
            continue
        path = root / rec.edf
        origin = rec if slot.source is None else recordings[slot.source]
        duration = int(rec.duration)
        if spec.sparse:  # a copy is the same header over the same hole: byte-identical
            write_sparse_edf(path, channels, slot.fs, duration, _identity(origin, spec.layout))
        elif slot.source is not None:
            shutil.copyfile(root / str(origin.edf), path)
        else:
            rng = np.random.default_rng([spec.seed, 2, slot.ordinal])
            signals = make_signals(rng, channels, slot.fs, duration, slot.events)
            write_dense_edf(path, signals, slot.fs, channels, _identity(rec, spec.layout))
        if slot.corruption is not None:
            corrupt_edf(path, slot.corruption, len(channels), slot.fs, duration)
        written.append(rec.edf)
    return written


def _make_folders(root: Path, recordings: list[SynthRecording]) -> None:
    """Create every folder the corpus writes into, once each."""
    paths = [path for rec in recordings for path in (rec.edf, *rec.annotations) if path]
    for folder in sorted({Path(path).parent for path in paths}):
        (root / folder).mkdir(parents=True, exist_ok=True)
