"""The windows of one split as NumPy arrays: what the sampler and the dataset both index.

Position ``i`` in a ``WindowIndex`` is the sample index a sampler yields and a dataset reads.
For a recording corpus everything comes from the manifest in one SQL query; no recording is
opened. A Parquet source's manifest holds counts per file, not a row per sample: its rows' labels
are read from the files' label column (``parquet_rows``), a file being a recording and a row a
window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preflight.data.parquet_rows import read_row_labels
from preflight.errors import UsageError
from preflight.manifest import recordings, windows
from preflight.manifest.store import Manifest, ManifestKind


@dataclass(frozen=True)
class WindowIndex:
    """Every window of some splits, in (recording, window) order.

    Attributes:
        splits: the splits included.
        window_s: window length (s), from the manifest's provenance.
        stride_s: window stride (s).
        rec_idx: int32 [N], the recording (``recordings.rec_idx``) of each window.
        window_idx: int32 [N], the window's index in its recording.
        positive: bool [N], the window label.
        seizure: int32 [N], a manifest-wide id of the seizure a positive window overlaps
            (the first one if several), -1 for negative windows.
        patient: int32 [N], a patient code (dense, manifest-wide).
    """

    splits: tuple[str, ...]
    window_s: float
    stride_s: float
    rec_idx: np.ndarray
    window_idx: np.ndarray
    positive: np.ndarray
    seizure: np.ndarray
    patient: np.ndarray

    def __len__(self) -> int:
        return int(self.rec_idx.shape[0])

    @property
    def n_positive(self) -> int:
        """Number of positive windows."""
        return int(self.positive.sum())

    @classmethod
    def load(cls, manifest: Manifest, splits: str | tuple[str, ...]) -> WindowIndex:
        """Read the windows of ``splits`` from the manifest.

        Raises:
            UsageError: a split name the manifest does not know, or a manifest not audited yet.
        """
        names = (splits,) if isinstance(splits, str) else tuple(splits)
        if not manifest.has_derived():
            raise UsageError(
                "manifest has no windows yet; run `preflight audit`", path=manifest.path
            )
        known = recordings.split_names(manifest)
        unknown = sorted(set(names) - known)
        if unknown:
            have = ", ".join(sorted(known))
            raise UsageError(
                f"unknown split(s) {', '.join(unknown)}; the manifest has {have}",
                path=manifest.path,
            )
        window_s = float(manifest.meta("window_s") or "nan")
        stride_s = float(manifest.meta("stride_s") or "nan")
        if manifest.kind is ManifestKind.TABLES:
            return cls._of_table(manifest, names, window_s, stride_s)
        cols = windows.window_rows(manifest, names, window_s=window_s, stride_s=stride_s)
        return cls(
            splits=names,
            window_s=window_s,
            stride_s=stride_s,
            rec_idx=np.asarray(cols["rec_idx"], dtype=np.int32),
            window_idx=np.asarray(cols["window_idx"], dtype=np.int32),
            positive=np.asarray(cols["positive"], dtype=bool),
            seizure=np.asarray(cols["seizure"], dtype=np.int32),
            patient=np.asarray(cols["patient"], dtype=np.int32),
        )

    @classmethod
    def _of_table(
        cls, manifest: Manifest, names: tuple[str, ...], window_s: float, stride_s: float
    ) -> WindowIndex:
        """A Parquet source's rows, labels read from its files; no seizure ids (no events)."""
        rows = read_row_labels(manifest, names)
        codes = recordings.patient_codes(manifest)
        patient_of = np.zeros(int(codes["rec_idx"].max(initial=-1)) + 1, dtype=np.int32)
        patient_of[np.asarray(codes["rec_idx"])] = codes["code"]
        return cls(
            splits=names,
            window_s=window_s,
            stride_s=stride_s,
            rec_idx=rows.rec_idx,
            window_idx=rows.row,
            positive=rows.positive,
            seizure=np.full(len(rows.rec_idx), -1, dtype=np.int32),
            patient=patient_of[rows.rec_idx],
        )
