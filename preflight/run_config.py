"""The config of a training run (``preflight train CONFIG``): pydantic models and their loader.

A run config holds the audit's sections (``audit``, ``gate``, ``split``, ``parquet``: see
``preflight.config``) and the training ones, every one optional but ``data``::

    data:
      source: corpus                # relative paths are relative to this file
    preprocess: {rate: 128, h_freq: 40}
    model:
      name: seizure_tcn             # or a user's package.module:ClassName
      kwargs: {hidden: 32, levels: 4}
    train: {epochs: 10, batch_size: 32, sampling: balanced, seed: 0}
    optim: {lr: 0.003, min_lr: 0.0003, warmup_fraction: 0.05, grad_clip: 1.0}
    validation: {splits: [dev], held_out: [eval]}
    monitors: {warmup_epochs: 1, min_positive_rate_ratio: 0.1}
    checkpoint: {keep_last: 2, best_by: auroc}
    cluster: {nodes: 2, gpus_per_node: 4, time: "12:00:00"}   # preflight submit --slurm

``train.batch_size`` and ``train.target_positive_fraction`` are what the gate checks the sampler
against (``gate.batch_size``, ``gate.target_positive_fraction``): given in one section, they are
copied to the other, and two different values are an error. Unknown keys are errors, and every
problem names its key and line, as in ``preflight.config``.
"""

from __future__ import annotations

import inspect
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from preflight.config import (
    CONFIG_FOLDER,
    AuditConfig,
    ConfigFile,
    GateConfig,
    ParquetOptions,
    PreflightConfig,
    SplitConfig,
    Strict,
    load_model,
)
from preflight.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from preflight.data.preprocess import Preprocessing

__all__ = [
    "CheckpointConfig",
    "ClusterConfig",
    "DataConfig",
    "ModelConfig",
    "MonitorConfig",
    "OptimConfig",
    "PreprocessConfig",
    "RunConfig",
    "Sampling",
    "TrainConfig",
    "ValidationConfig",
    "load_run_config",
]


def inside_config_folder(value: Path | None, info: ValidationInfo) -> Path | None:
    """An output path read from a config file must lie inside that file's folder.

    A run writes its manifest, cache and checkpoints where the config says: a config shared
    with (or handed to) someone must not make their run write over ``~/.ssh`` or ``/etc``.
    The path is taken relative to the file's folder and ``..`` is resolved by name; absolute
    paths inside the folder are fine. Symlinks already in the folder are followed as the user
    made them (a config cannot create one): ``runs -> /scratch/runs`` is how to write to
    scratch space. A config built in Python is not checked (no file).

    Raises:
        ValueError: the path resolves outside the folder (reported with its key and line).
    """
    folder = (info.context or {}).get(CONFIG_FOLDER)
    if value is None or folder is None:
        return value
    root = Path(os.path.normpath(os.path.abspath(folder)))
    target = Path(os.path.normpath(root / value))  # an absolute value stays itself
    if not target.is_relative_to(root):
        raise ValueError(
            f"{value} resolves to {target}, outside the config file's folder {root}: output "
            "paths in a run config stay inside that folder (give a relative path without '..'; "
            "a symlink in the folder may point elsewhere)"
        )
    return value


class DataConfig(Strict):
    """Where the corpus, its manifest and the preprocessed cache live."""

    # The corpus root the audit scans; relative paths in a config file are relative to the file.
    source: Path
    # The manifest; None means <source>/.preflight/manifest.duckdb, as `preflight audit` uses.
    # Given in a config file, it lies inside the file's folder (see inside_config_folder).
    manifest: Path | None = None
    # The preprocessed cache directory; None means cache/ beside the manifest. Given in a
    # config file, it lies inside the file's folder.
    cache: Path | None = None

    _outputs_inside = field_validator("manifest", "cache")(inside_config_folder)

    @property
    def manifest_path(self) -> Path:
        """``manifest``, or the audit's default ``<source>/.preflight/manifest.duckdb``."""
        from preflight.manifest.store import default_path  # DuckDB: only once a path is wanted

        return self.manifest or default_path(self.source)


class PreprocessConfig(Strict):
    """What the cache does to each recording (``preflight.data.preprocess.Preprocessing``)."""

    # The channels x holds: the 19 10-20 electrodes, or the TCP bipolar pairs (22; 16 for CHB-MIT).
    montage: Literal["10-20", "tcp", "tcp-chbmit"] = "10-20"
    # Target sampling rate (Hz); window_s x rate must be whole samples.
    rate: float = Field(default=256.0, gt=0)
    # Band-pass edges (Hz), None to skip a side: drift below, muscle and mains harmonics above.
    l_freq: float | None = 0.5
    h_freq: float | None = 70.0
    # Mains notch frequencies (Hz): 60 for US corpora, 50 for European ones.
    notch: list[float] = Field(default_factory=lambda: [60.0])
    # Cache storage: float32 is exact; float16 halves disk and page cache for large corpora.
    dtype: Literal["float32", "float16"] = "float32"
    # Per-channel scaling of x: robust z-score over the recording, over the window, or none (µV).
    normalization: Literal["recording", "window", "none"] = "recording"

    @model_validator(mode="after")
    def _valid(self) -> PreprocessConfig:
        try:
            self.preprocessing()
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return self

    def preprocessing(self) -> Preprocessing:
        """The cache parameters these settings describe."""
        from preflight.data.montage import CHBMIT_TCP_PAIRS, Montage
        from preflight.data.preprocess import CacheDtype, Preprocessing

        montage = {
            "10-20": Montage.referential,
            "tcp": Montage.tcp,
            "tcp-chbmit": lambda: Montage.bipolar(CHBMIT_TCP_PAIRS),
        }[self.montage]()
        return Preprocessing(
            montage=montage, rate=self.rate, l_freq=self.l_freq, h_freq=self.h_freq,
            notch=tuple(self.notch), dtype=CacheDtype(self.dtype),
        )  # fmt: skip


class ModelConfig(Strict):
    """The model: checked against the registry when the config is read, built after the gate."""

    # One of preflight's models (seizure_tcn, stamp_resnet) or a user's 'package.module:Class'.
    name: str = "seizure_tcn"
    # Constructor arguments (JSON values); in_channels and sampling_rate come from the data
    # when the model takes them and they are not given.
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from preflight.models.registry import resolve_model  # imports torch: only for runs

        try:
            resolve_model(name)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return name

    @field_validator("kwargs")
    @classmethod
    def _arguments_bind(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from preflight.models.registry import resolve_model

        name = info.data.get("name")
        if name is None:  # the name failed: that error says it all
            return kwargs
        try:
            inspect.signature(resolve_model(name)).bind_partial(**kwargs)
        except TypeError as exc:
            raise ValueError(f"model {name!r}: {exc}") from None
        return kwargs


class OptimConfig(Strict):
    """AdamW, a linear warm-up then a cosine decay of the learning rate, gradient clipping."""

    # Peak learning rate, reached at the end of the warm-up.
    lr: float = Field(default=3e-3, gt=0)
    # Learning rate at the end of the cosine decay (the last step).
    min_lr: float = Field(default=3e-4, ge=0)
    # Share of all steps spent warming up linearly: early Adam steps are noisy.
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    # Decoupled weight decay (AdamW) of weight matrices and kernels (not of biases, norm gains).
    weight_decay: float = Field(default=0.01, ge=0)
    # Adam's moment decay rates.
    betas: tuple[float, float] = (0.9, 0.95)
    # Largest gradient norm; larger gradients are scaled down. None disables clipping.
    grad_clip: float | None = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> OptimConfig:
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr {self.min_lr:g} > lr {self.lr:g}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas {list(self.betas)} must lie in [0, 1)")
        return self


class Sampling(StrEnum):
    """How training windows are drawn."""

    BALANCED = "balanced"  # BalancedSampler at target_positive_fraction, a floor per batch
    NATURAL = "natural"  # uniform draws: the split's own class mix


class TrainConfig(Strict):
    """The training loop (``preflight.pipelines.train``)."""

    # Seeds model initialisation, sampling and dropout: a CPU run is reproducible from it.
    seed: int = Field(default=0, ge=0)
    # Passes over the training split (or steps_per_epoch batches each).
    epochs: int = Field(default=10, ge=1)
    # Batches per epoch and rank; None draws as many windows as the training split holds.
    steps_per_epoch: int | None = Field(default=None, ge=1)
    # Windows per batch and rank; the gate checks the sampler can fill it (gate.batch_size).
    batch_size: int = Field(default=32, ge=1)
    # Balanced sampling (the default), or the natural mix (then consider pos_weight).
    sampling: Sampling = Sampling.BALANCED
    # Share of positive windows balanced sampling aims for (gate.target_positive_fraction).
    target_positive_fraction: float = Field(default=0.25, gt=0, le=1)
    # How balanced sampling spreads the positive share: per window, seizure event or patient.
    spread: Literal["window", "event", "patient"] = "event"
    # Positive windows every balanced batch holds at least (topped up when the draw has fewer).
    min_positives: int = Field(default=1, ge=0)
    # Weight positives by n_neg / n_pos of the training split (from the manifest) in the loss:
    # the other way to correct the class imbalance, for natural sampling.
    pos_weight: bool = False
    # Weight of the per-sample loss (seizure mask) next to the per-window loss, for models
    # with per-sample logits; 0 trains on window labels only.
    sample_loss_weight: float = Field(default=0.5, ge=0)
    # Where to train; auto picks CUDA when available.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Mixed precision on CUDA (bfloat16 where supported, else float16 with loss scaling).
    amp: bool = True
    # DataLoader worker processes; 0 reads batches in the training process.
    workers: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.min_positives > self.batch_size:
            raise ValueError(f"min_positives {self.min_positives} > batch_size {self.batch_size}")
        if self.pos_weight and self.sampling is Sampling.BALANCED:
            raise ValueError(
                "pos_weight: true with sampling: balanced corrects the class imbalance twice; "
                "use one of them"
            )
        return self


class ValidationConfig(Strict):
    """The validation pass at the end of every epoch."""

    # Splits whose windows are scored together every epoch; they choose the best checkpoint,
    # feed the collapse monitors and choose the false-alarm threshold. None means the gate's
    # evaluation splits that are not held out (dev on a TUSZ layout or a stratified split).
    # Naming a held-out split here is allowed but recorded as a warning.
    splits: list[str] | None = Field(default=None, min_length=1)
    # Splits scored once after training, with the best checkpoint and the thresholds chosen
    # on validation, and reported apart ("held out"). None means the evaluation splits named
    # like a test split (eval, test, holdout, held_out, heldout); [] holds nothing out.
    held_out: list[str] | None = None
    # Windows per forward pass (no gradients, so larger than the training batch).
    batch_size: int = Field(default=64, ge=1)
    # Seizure corpora: after the last epoch, SzCORE event scores at the monitors' threshold and
    # at the lowest threshold whose false alarms per 24 h stay at or below this target.
    target_false_alarms_per_24h: float = Field(default=1.0, ge=0)


class MonitorConfig(Strict):
    """When the collapse monitors stop a run (NaN/Inf in loss or gradients always stops it)."""

    # Epochs before the collapse checks can stop the run (they are recorded as warnings until
    # then): a freshly initialised model predicts near-constant scores.
    warmup_epochs: int = Field(default=1, ge=0)
    # Probability above which a window counts as predicted positive.
    threshold: float = Field(default=0.5, gt=0, lt=1)
    # Collapse when the validation positive-prediction rate is below this share of the
    # validation split's positive fraction (0.1: predicting 0.8 % where 8 % are positive).
    min_positive_rate_ratio: float = Field(default=0.1, ge=0, le=1)
    # Collapse when the validation window logits vary less than this (standard deviation).
    min_logit_std: float = Field(default=1e-3, ge=0)


class CheckpointConfig(Strict):
    """Where and which checkpoints are kept."""

    # Folder of the run folders (<dir>/<run_id>/); None means runs/ beside the manifest.
    # Given in a config file, it lies inside the file's folder (see inside_config_folder).
    dir: Path | None = None
    # Checkpoints kept besides the best one (the newest; one is written per epoch).
    keep_last: int = Field(default=2, ge=1)
    # The validation metric that picks best.pt: AUROC (higher is better) or the loss.
    best_by: Literal["auroc", "loss"] = "auroc"

    _output_inside = field_validator("dir")(inside_config_folder)


class ClusterConfig(Strict):
    """Where ``preflight submit CONFIG --slurm`` asks Slurm to run the gated training.

    ``preflight submit`` flags override these; ``preflight train`` ignores the section.
    """

    # Machines; torchrun starts procs_per_node ranks on each (world size nodes x procs).
    nodes: int = Field(default=1, ge=1)
    # GPUs asked for per node (#SBATCH --gpus-per-node); 0 trains on the CPUs.
    gpus_per_node: int = Field(default=0, ge=0)
    # Ranks per node; None means one per GPU, or 1 without GPUs.
    procs_per_node: int | None = Field(default=None, ge=1)
    # CPUs per node for the torchrun task (data loading, the rank-0 re-check).
    cpus_per_task: int = Field(default=1, ge=1)
    # Slurm's partition, account, QOS and time limit (e.g. 1-00:00:00); None leaves the
    # cluster's default.
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    # Seconds before the time limit at which Slurm sends SIGTERM: the run stops at the next
    # batch and the job is requeued to continue from its newest checkpoint.
    signal_grace_s: int = Field(default=120, ge=10)
    # More sbatch options, written as given (e.g. --mem=32G, --constraint=a100).
    sbatch_args: list[str] = Field(default_factory=list)

    @property
    def ranks_per_node(self) -> int:
        """torchrun's --nproc_per_node: procs_per_node, else one per GPU, else 1."""
        return self.procs_per_node or self.gpus_per_node or 1


_SHARED = ("batch_size", "target_positive_fraction")  # train settings the gate checks too


class RunConfig(ConfigFile):
    """A whole run config file: the audit's sections and the training ones."""

    # The corpus, manifest and cache locations.
    data: DataConfig
    # How the corpus is read and windowed, what the gate demands, where splits come from.
    audit: AuditConfig = AuditConfig()
    gate: GateConfig = GateConfig()
    split: SplitConfig = SplitConfig()
    # For Parquet tables: the label column and its map, the group, split and sample columns.
    parquet: ParquetOptions = ParquetOptions()
    # Channels, filters and rate of the cached signals.
    preprocess: PreprocessConfig = PreprocessConfig()
    # What trains, how, and when it stops.
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    optim: OptimConfig = OptimConfig()
    validation: ValidationConfig = ValidationConfig()
    monitors: MonitorConfig = MonitorConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    # Slurm resources for `preflight submit --slurm` (not used by `preflight train`).
    cluster: ClusterConfig = ClusterConfig()

    @model_validator(mode="after")
    def _gate_checks_what_trains(self) -> RunConfig:
        """train.batch_size and target_positive_fraction are the gate's: given once, used twice.

        Whichever section sets one (in a file, or as a model built in Python) gives it to the
        other; both setting different values is an error.
        """
        in_train, in_gate = self.train.model_fields_set, self.gate.model_fields_set
        for key in _SHARED:
            ours, gates = getattr(self.train, key), getattr(self.gate, key)
            if key in in_train and key in in_gate and ours != gates:
                raise ValueError(
                    f"train.{key} {ours} differs from gate.{key} {gates}; give it once, under train"
                )
        to_gate = {k: getattr(self.train, k) for k in _SHARED if k in in_train}
        to_train = {k: getattr(self.gate, k) for k in _SHARED if k in in_gate - in_train}
        # The model is frozen for its users; this is its own validation, before anyone sees it.
        object.__setattr__(self, "gate", self.gate.model_copy(update=to_gate))
        object.__setattr__(self, "train", self.train.model_copy(update=to_train))
        return self

    def preflight_config(self) -> PreflightConfig:
        """The audit, gate and split sections, as ``preflight audit`` takes them."""
        return PreflightConfig(
            audit=self.audit, gate=self.gate, split=self.split, parquet=self.parquet
        )

    def resolved(self, base: Path) -> RunConfig:
        """A copy whose relative paths are taken relative to ``base`` (the config's folder)."""

        def absolute(path: Path | None) -> Path | None:
            return None if path is None or path.is_absolute() else base / path

        data = {
            k: absolute(getattr(self.data, k)) or getattr(self.data, k)
            for k in ("source", "manifest", "cache")
        }
        directory = absolute(self.checkpoint.dir) or self.checkpoint.dir
        return self.model_copy(
            update={
                "data": self.data.model_copy(update=data),
                "checkpoint": self.checkpoint.model_copy(update={"dir": directory}),
            }
        )


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run config (``preflight train CONFIG``), as ``load_config`` does.

    Args:
        path: the YAML file.

    Returns:
        The validated config; its relative paths are made relative to the file's folder.

    Raises:
        ConfigError: as ``load_config``; also an unknown model or model argument
            (``model.name (line 12): unknown model 'tcn': did you mean 'seizure_tcn'? ...``),
            and a train setting the gate section contradicts.
    """
    path = Path(path)
    return load_model(path, RunConfig, "data, audit, gate, split, model, train ...").resolved(
        path.parent.absolute()
    )
