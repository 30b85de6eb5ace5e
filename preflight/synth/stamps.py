"""Write a synthetic lens-finder dataset: tiers of Parquet files of image stamps, with its truth.

``synthesize_stamps(root, spec)`` writes ``debug/``, ``train/`` and ``dev/`` tiers of Parquet files
(``part-NNNN.parquet``), one row per stamp, with the lens finder's columns:

* ``stamp_npz``: the bytes of ``np.savez_compressed`` of a float32 (3, 64, 64) g/r/z stamp: a red
  elliptical galaxy plus, for a lens, a blue arc at the Einstein radius; controls are the galaxy
  alone, half of them with a compact blue companion (a confuser); Gaussian sky noise on all;
* ``is_control``: 1 for a control (no lens: negative), 0 for a lens (positive);
* ``region``: the sky region of the file's stamps; regions differ between files and tiers.

``train`` is the tier to train on, ``dev`` the one to evaluate on, and ``debug`` the small tier a
team smoke-tests with (the gate checks it like an evaluation split). The truth
(``stamps_truth.json``) gives every tier's exact class counts, regions and planted defects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.errors import Reason, UsageError
from preflight.sources import parquet as pqs
from preflight.sources.parquet import LabelClass, ParquetOptions
from preflight.synth.folder import prepare_folder

if TYPE_CHECKING:  # NumPy and pyarrow load when stamps are written, not for `synth --help`
    import numpy as np

__all__ = [
    "BAD_FILE_REASON",
    "STAMPS_TRUTH_FILE",
    "TIERS",
    "BadFile",
    "StampCorpus",
    "StampDefect",
    "StampSpec",
    "TierTruth",
    "render_stamps",
    "synthesize_stamps",
]

STAMPS_TRUTH_FILE = "stamps_truth.json"
TIERS = ("debug", "train", "dev")
BAD_TIER = "train"  # where BadFile inputs are planted


class StampDefect(StrEnum):
    """A planted fault; each one makes the audit fail."""

    ONE_CLASS_TIER = "one_class_tier"  # the debug tier holds lenses only (the real incident)
    GROUP_LEAK = "group_leak"  # one sky region in both train and dev
    BAD_FILES = "bad_files"  # one broken file of each ``BadFile`` kind in train


class BadFile(StrEnum):
    """The broken inputs ``StampDefect.BAD_FILES`` plants."""

    MISSING_LABEL = "missing_label"  # no is_control column
    NULL_LABELS = "null_labels"  # is_control null in some rows
    OUTSIDE_MAPPING = "outside_mapping"  # is_control = 2 in some rows
    WRONG_TYPE = "wrong_type"  # is_control stored as strings
    CORRUPT_FOOTER = "corrupt_footer"  # framed as Parquet, footer bytes garbled


BAD_FILE_REASON: dict[BadFile, Reason] = {
    BadFile.MISSING_LABEL: pqs.SCHEMA_MISMATCH,
    BadFile.NULL_LABELS: pqs.NULL_VALUES,
    BadFile.OUTSIDE_MAPPING: pqs.OUTSIDE_MAPPING,
    BadFile.WRONG_TYPE: pqs.SCHEMA_MISMATCH,
    BadFile.CORRUPT_FOOTER: pqs.NOT_PARQUET,
}


@dataclass(frozen=True)
class StampSpec:
    """The shape of a synthetic stamp dataset; the defaults write 768 stamps in about a second.

    Raises:
        UsageError: a value is out of range.
    """

    # Parquet files in each tier (debug, train, dev).
    files_per_tier: int = 4
    # Stamps per file.
    rows_per_file: int = 64
    # Rows per Parquet row group: the streaming input's unit of reading and sharding.
    row_group_rows: int = 16
    # Share of controls (is_control = 1, negatives) in every tier but a one-class one.
    control_fraction: float = 0.5
    # Same spec and seed give the same stamps.
    seed: int = 0
    # Planted faults, see ``StampDefect``.
    defects: frozenset[StampDefect] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "defects", frozenset(StampDefect(d) for d in self.defects))
        for name in ("files_per_tier", "rows_per_file", "row_group_rows"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.control_fraction <= 1.0:
            raise UsageError(f"control_fraction {self.control_fraction} is not in [0, 1]")
        if self.seed < 0:
            raise UsageError(f"seed {self.seed} must be non-negative")


@dataclass
class TierTruth:
    """What one tier holds: files and exact class counts."""

    files: int = 0
    rows: int = 0
    positives: int = 0
    negatives: int = 0
    regions: list[str] = field(default_factory=list)


@dataclass
class StampCorpus:
    """The truth about a written stamp dataset."""

    root: Path
    spec: StampSpec
    tiers: dict[str, TierTruth]
    bad_files: dict[str, BadFile]  # root-relative path -> what is wrong with it
    files: list[str]  # every file written, root-relative

    @property
    def truth_path(self) -> Path:
        """Where the truth is saved."""
        return self.root / STAMPS_TRUTH_FILE

    @staticmethod
    def options() -> ParquetOptions:
        """How to audit this dataset: its label, mapping, group and sample columns."""
        return ParquetOptions(
            label_column="is_control",
            label_map={0: LabelClass.POSITIVE, 1: LabelClass.NEGATIVE},
            group_column="region",
            sample_column="stamp_npz",
        )

    def to_json(self) -> str:
        """The truth as JSON (paths relative to the root)."""
        spec = asdict(self.spec) | {"defects": sorted(self.spec.defects)}
        data: dict[str, Any] = {
            "spec": spec,
            "tiers": {name: asdict(t) for name, t in self.tiers.items()},
            "bad_files": {path: str(kind) for path, kind in self.bad_files.items()},
            "files": self.files,
        }
        return json.dumps(data, indent=2)


def synthesize_stamps(
    root: Path, spec: StampSpec | None = None, *, overwrite: bool = False
) -> StampCorpus:
    """Write a tiered stamp dataset under ``root`` and its truth file.

    Args:
        root: the dataset folder; created if absent, and it must be empty.
        spec: what to write; ``StampSpec()`` by default.
        overwrite: replace an earlier synthetic stamp dataset in ``root`` (the files its
            ``stamps_truth.json`` lists); a folder holding anything else is still refused.

    Returns:
        The truth about what was written.

    Raises:
        UsageError: ``root`` is a file, or a non-empty folder that cannot be replaced.
    """
    import numpy as np

    spec = StampSpec() if spec is None else spec
    root = Path(root)
    prepare_folder(root, overwrite=overwrite, truth_file=STAMPS_TRUTH_FILE, what="stamp dataset")
    corpus = StampCorpus(root, spec, {}, {}, [])
    regions = _regions(spec)
    for t, tier in enumerate(TIERS):
        (root / tier).mkdir(parents=True, exist_ok=True)
        truth = corpus.tiers.setdefault(tier, TierTruth())
        for i in range(spec.files_per_tier):
            rel = f"{tier}/part-{i:04d}.parquet"
            rng = np.random.default_rng([spec.seed, t, i])
            one_class = tier == "debug" and StampDefect.ONE_CLASS_TIER in spec.defects
            controls = _controls(rng, spec, one_class)
            _write(root / rel, rng, controls, regions[tier][i], spec.row_group_rows)
            truth.files += 1
            truth.rows += controls.size
            truth.negatives += int(controls.sum())
            truth.positives += int(controls.size - controls.sum())
            truth.regions.append(regions[tier][i])
            corpus.files.append(rel)
    if StampDefect.BAD_FILES in spec.defects:
        for kind in BadFile:
            rel = f"{BAD_TIER}/bad-{kind}.parquet"
            _write_bad(
                root / rel, kind, np.random.default_rng([spec.seed, 99, list(BadFile).index(kind)])
            )
            corpus.bad_files[rel] = kind
            corpus.files.append(rel)
    temporary = corpus.truth_path.with_suffix(".json.tmp")
    temporary.write_text(corpus.to_json(), encoding="utf-8")
    temporary.replace(corpus.truth_path)
    return corpus


def _regions(spec: StampSpec) -> dict[str, list[str]]:
    """A distinct sky region per file; with GROUP_LEAK, dev's first file shares train's first."""
    out = {
        tier: [f"r{t * spec.files_per_tier + i:05d}" for i in range(spec.files_per_tier)]
        for t, tier in enumerate(TIERS)
    }
    if StampDefect.GROUP_LEAK in spec.defects:
        out["dev"][0] = out["train"][0]
    return out


def _controls(rng: np.random.Generator, spec: StampSpec, one_class: bool) -> np.ndarray:
    """is_control per row, shuffled: exactly round(control_fraction x rows) ones."""
    import numpy as np

    n = spec.rows_per_file
    k = 0 if one_class else round(spec.control_fraction * n)
    return rng.permutation(np.r_[np.ones(k, np.int8), np.zeros(n - k, np.int8)])


def _write(
    path: Path, rng: np.random.Generator, controls: np.ndarray, region: str, group_rows: int
) -> None:
    """One file, a row group at a time (memory holds one row group of stamps)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from preflight.data.stamp_codec import encode_stamp

    schema = pa.schema(
        [("stamp_npz", pa.binary()), ("is_control", pa.int8()), ("region", pa.string())]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, controls.size, group_rows):
            part = controls[start : start + group_rows]
            stamps = render_stamps(rng, lens=part == 0)  # (n, 3, 64, 64)
            table = pa.table(
                {
                    "stamp_npz": [encode_stamp(s) for s in stamps],
                    "is_control": pa.array(part, pa.int8()),
                    "region": [region] * part.size,
                },
                schema=schema,
            )
            writer.write_table(table)


def _write_bad(path: Path, kind: BadFile, rng: np.random.Generator) -> None:
    """A small file broken the way ``kind`` says."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from preflight.data.stamp_codec import encode_stamp

    n = 8
    stamps = [encode_stamp(s) for s in render_stamps(rng, lens=np.arange(n) % 2 == 0)]
    labels: list[Any] = [i % 2 for i in range(n)]
    if kind is BadFile.NULL_LABELS:
        labels[3] = labels[5] = None
    elif kind is BadFile.OUTSIDE_MAPPING:
        labels[2] = 2
    columns: dict[str, Any] = {"stamp_npz": pa.array(stamps, pa.binary())}
    if kind is BadFile.WRONG_TYPE:
        columns["is_control"] = pa.array([str(v) for v in labels], pa.string())
    elif kind is not BadFile.MISSING_LABEL:
        columns["is_control"] = pa.array(labels, pa.int8())
    columns["region"] = pa.array([f"bad-{kind}"] * n)
    pq.write_table(pa.table(columns), path)
    if kind is BadFile.CORRUPT_FOOTER:
        data = bytearray(path.read_bytes())
        length = int.from_bytes(data[-8:-4], "little")
        data[-8 - length : -8] = b"\xff" * length  # magic and length intact, footer garbage
        path.write_bytes(bytes(data))


def render_stamps(rng: np.random.Generator, lens: np.ndarray) -> np.ndarray:
    """float32 (n, 3, 64, 64) g/r/z stamps: a galaxy, an arc where ``lens``, sky noise.

    Args:
        rng: the random source.
        lens: bool (n,): which stamps get a lensed arc.
    """
    import numpy as np

    from preflight.data.stamp_codec import STAMP_SHAPE

    n = lens.size
    _, h, w = STAMP_SHAPE
    y, x = np.mgrid[0:h, 0:w] - (h - 1) / 2.0  # (H, W) each, centred
    centre = rng.normal(0.0, 1.0, (2, n, 1, 1))
    dx, dy = x - centre[0], y - centre[1]  # (n, H, W)
    angle = rng.uniform(0, np.pi, (n, 1, 1))
    q = rng.uniform(0.6, 1.0, (n, 1, 1))  # axis ratio
    major = dx * np.cos(angle) + dy * np.sin(angle)
    minor = (-dx * np.sin(angle) + dy * np.cos(angle)) / q
    galaxy = rng.uniform(20, 60, (n, 1, 1)) * np.exp(
        -np.hypot(major, minor) / rng.uniform(2, 5, (n, 1, 1))
    )  # (n, H, W)
    radius, phi = np.hypot(dx, dy), np.arctan2(dy, dx)
    einstein = rng.uniform(8, 16, (n, 1, 1))
    turn = np.angle(np.exp(1j * (phi - rng.uniform(-np.pi, np.pi, (n, 1, 1)))))  # (-pi, pi]
    extent = np.radians(rng.uniform(60, 240, (n, 1, 1)))
    arc = (
        rng.uniform(4, 10, (n, 1, 1))
        * np.exp(-0.5 * ((radius - einstein) / rng.uniform(0.8, 1.8, (n, 1, 1))) ** 2)
        * np.exp(-0.5 * (turn / (extent / 2)) ** 2)
    )  # (n, H, W)
    offset = rng.uniform(-20, 20, (2, n, 1, 1))
    companion = rng.uniform(3, 10, (n, 1, 1)) * np.exp(
        -0.5 * np.hypot(dx - offset[0], dy - offset[1]) ** 2 / 1.5**2
    )
    confuser = (~lens & (rng.random(n) < 0.5))[:, None, None]
    red, blue = np.array([0.4, 0.7, 1.0]), np.array([1.0, 0.7, 0.4])  # g, r, z weights
    blue_light = np.where(lens[:, None, None], arc, 0.0) + np.where(confuser, companion, 0.0)
    sky = rng.uniform(0.8, 1.5, (n, 3, 1, 1)) * rng.standard_normal((n, 3, h, w))
    stamps = galaxy[:, None] * red[:, None, None] + blue_light[:, None] * blue[:, None, None] + sky
    return stamps.astype(np.float32)
