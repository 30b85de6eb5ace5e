"""Typed configuration: pydantic models for the YAML config file, and its loader.

A config file has up to four sections, each optional::

    audit:                      # how the corpus is cut into windows
      window_s: 10
    gate:                       # the gate's thresholds
      train: {min_positive_patients: 3}
      evaluation: {min_positive_windows: 20}
      batch_size: 64
      severities: {split_fraction_ratio: error}
    split:                      # keep the corpus's split or build one
      method: stratified
      seed: 7
    parquet:                    # for Parquet tables: which columns say what
      label_column: is_control
      label_map: {0: positive, 1: negative}
      group_column: region

Unknown keys are errors (a misspelt threshold must not silently keep its default), and so are
YAML anchors and aliases (a self-referencing or nested alias is a hang, not a config). A training
run's config (``preflight train CONFIG``) adds sections of its own: see ``preflight.run_config``,
which reads it with the loader here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from preflight.errors import ConfigError, UsageError
from preflight.manifest.windows import WindowParams
from preflight.pipelines.discover import SourceFormat
from preflight.pipelines.split import DEFAULT_RATIOS, SplitMethod, check_ratios
from preflight.scanning_limits import ScanLimits
from preflight.sources.parquet import ParquetOptions
from preflight.validators.results import Severity

__all__ = [
    "FLOOR_CHECKS",
    "AuditConfig",
    "GateConfig",
    "ParquetOptions",
    "PreflightConfig",
    "SplitConfig",
    "SplitThresholds",
    "load_config",
]

# Float noise must not turn 10 * 0.3 into 4 positives per batch.
_EPS = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuditConfig(_Strict):
    """How ``preflight audit`` reads a corpus and cuts it into windows."""

    # The unit the model sees; labels, counts and the sampler are all per window.
    window_s: float = Field(default=10.0, gt=0)
    # Overlapping windows (stride < window) multiply training examples; None means the window.
    stride_s: float | None = Field(default=None, gt=0)
    # Seizure seconds a window needs to count as positive; 0 means any overlap at all.
    min_overlap_s: float = Field(default=0.0, ge=0)
    # Which readers to use; auto recognises TUSZ, CHB-MIT, Siena, BIDS and EDF+ by file names,
    # and Parquet tables in a folder holding no EEG file.
    format: SourceFormat = SourceFormat.AUTO
    # Audit from annotation files alone when the EDF files are not at hand.
    labels_only: bool = False
    # What a header or annotation file may claim before it is rejected as implausible.
    limits: ScanLimits = ScanLimits()

    @model_validator(mode="after")
    def _overlap_fits(self) -> AuditConfig:
        if self.min_overlap_s > self.window_s:
            raise ValueError(
                f"min_overlap_s {self.min_overlap_s:g} > window_s {self.window_s:g}: "
                "no window could ever be positive"
            )
        return self

    def window_params(self) -> WindowParams:
        """The windowing parameters these settings describe."""
        return WindowParams(
            window_s=self.window_s,
            stride_s=self.stride_s if self.stride_s is not None else self.window_s,
            min_overlap_s=self.min_overlap_s,
        )


# The gate's floor (``validators.floor``): checks no config can make a warning. Their thresholds
# can be raised but not lowered below 1, and a user suite adds to the packaged one.
FLOOR_CHECKS = frozenset(
    {"both_classes", "auroc_defined", "min_positive_events", "min_positive_windows",
     "splits_present"}
)  # fmt: skip


class _FloorDowngrade(str):
    """A ``gate.severities`` entry asking a floor check to be a warning (refused below)."""


def _not_below_floor(value: Any) -> Any:
    if isinstance(value, _FloorDowngrade):
        raise ValueError(
            f"{value} is a floor check and always an error (see the README's Reliability "
            "section: the floor); raise its threshold instead, or remove this line"
        )
    return value


class SplitThresholds(_Strict):
    """What one split (train, or each evaluation split) must hold to be worth a training run.

    The minimums cannot go below 1: the floor (``validators.floor``) needs a positive in each.
    """

    # Fewer positive windows than this cannot teach (train) or measure (evaluation) a detector.
    min_positive_windows: int = Field(default=1, ge=1)
    # Many positive windows can come from one long seizure; events count distinct seizures.
    min_positive_events: int = Field(default=1, ge=1)
    # One patient's seizures look alike: generalising and measuring need several patients.
    min_positive_patients: int = Field(default=1, ge=1)
    # Below this positive-window fraction a split is one-class in all but name (0.01 %).
    min_positive_fraction: float = Field(default=0.0001, ge=0, le=1)
    # Above this, labels are likely inverted or the background was dropped.
    max_positive_fraction: float = Field(default=0.9, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> SplitThresholds:
        if self.min_positive_fraction > self.max_positive_fraction:
            raise ValueError(
                f"min_positive_fraction {self.min_positive_fraction:g} > "
                f"max_positive_fraction {self.max_positive_fraction:g}"
            )
        return self


class GateConfig(_Strict):
    """Thresholds and policy of the gate (``preflight.validators.gate.run_gate``)."""

    # Thresholds for the training split: it must hold something to learn from.
    train: SplitThresholds = SplitThresholds()
    # Thresholds for each evaluation split: it must hold something to measure.
    evaluation: SplitThresholds = SplitThresholds()
    # Below this positive-window fraction in train, uniform sampling starves the positive class
    # and the run needs balanced sampling (a warning: 0.5 %).
    balanced_sampling_below: float = Field(default=0.005, ge=0, le=1)
    # Splits whose positive fractions differ by more than this factor measure a different task
    # than they train (a warning).
    max_fraction_ratio: float = Field(default=5.0, ge=1)
    # The training batch size, to check that the sampler can fill batches as asked.
    batch_size: int = Field(default=32, ge=1)
    # The positive fraction the balanced sampler aims for in each batch; with batch_size it sets
    # how many distinct positive windows train needs (ceil(batch_size * fraction)).
    target_positive_fraction: float = Field(default=0.25, gt=0, le=1)
    # Above this fraction of rejected input files, the corpus on disk is not the corpus audited.
    max_rejected_fraction: float = Field(default=0.05, ge=0, le=1)
    # The split the model trains on; a corpus with the single split "all" trains on that.
    train_split: str = Field(default="train", min_length=1)
    # The splits that evaluate; None means every split except train_split.
    evaluation_splits: list[str] | None = None
    # Per check name, a severity replacing the suite's or the built-in one (e.g. make
    # split_fraction_ratio an error, or min_positive_patients a warning). Names are checked when
    # the gate runs, against the built-in checks and the suite's (a user suite adds names).
    # A floor check (FLOOR_CHECKS) cannot be made a warning.
    severities: dict[str, Annotated[Severity, BeforeValidator(_not_below_floor)]] = {}
    # The expectation suite: a packaged name (seizure, binary_table) or a JSON file path; None
    # picks by corpus kind. `preflight audit --suite` overrides it.
    suite: str | None = None

    @field_validator("severities", mode="before")
    @classmethod
    def _mark_floor_downgrades(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            k: _FloorDowngrade(k) if k in FLOOR_CHECKS and v == Severity.WARNING else v
            for k, v in value.items()
        }

    def sampler_min_positive_windows(self) -> int:
        """Distinct positive windows one batch needs: ``ceil(batch_size * target fraction)``."""
        return math.ceil(self.batch_size * self.target_positive_fraction - _EPS)


class SplitConfig(_Strict):
    """How splits are chosen (the arguments of ``preflight.pipelines.split.build_split``)."""

    # Keep the corpus's split (declared), or build a patient-disjoint stratified one.
    method: SplitMethod = SplitMethod.DECLARED
    # Share of the corpus per built split (train, dev, eval, test); they must sum to 1.
    ratios: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RATIOS))
    # The same seed gives the same split on the same manifest.
    seed: int = 0

    @model_validator(mode="after")
    def _ratios_valid(self) -> SplitConfig:
        try:
            check_ratios(self.ratios)
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return self


class PreflightConfig(_Strict):
    """A whole config file."""

    # How the corpus is read and windowed.
    audit: AuditConfig = AuditConfig()
    # What the gate demands of the splits.
    gate: GateConfig = GateConfig()
    # Where the splits come from.
    split: SplitConfig = SplitConfig()
    # For Parquet tables: the label column and its map to the classes, group and split columns.
    parquet: ParquetOptions = ParquetOptions()

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        return drop_null_sections(data)


def drop_null_sections(data: Any) -> Any:
    """``gate:`` with every line below commented out is null in YAML: the defaults."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if v is not None}
    return data


def load_config(path: str | Path) -> PreflightConfig:
    """Read and validate a YAML config file (``yaml.safe_load``; unknown keys are errors).

    Args:
        path: the YAML file.

    Returns:
        The validated config; missing sections and fields take their defaults.

    Raises:
        ConfigError: the file cannot be read, is not YAML, holds a YAML anchor or alias, is not a
            mapping, repeats a key, or a value is unknown, of the wrong type or out of range. The
            message names every offending key as a dotted path with its line
            (``gate.batch_size (line 4): ...``).
    """
    return load_model(Path(path), PreflightConfig, "audit, gate, split, parquet")


_M = TypeVar("_M", bound=BaseModel)

# The validation-context key holding the folder of the config file being read.
CONFIG_FOLDER = "config_folder"


def load_model(path: Path, model: type[_M], sections: str) -> _M:
    """Read ``path`` as YAML and validate it as ``model`` (the machinery of ``load_config``).

    Args:
        path: the YAML file.
        model: the pydantic model of a whole file.
        sections: the top-level sections, named when the file is not a mapping.

    Raises:
        ConfigError: as ``load_config``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", path=path) from None
    try:
        _refuse_aliases(text, path)
        data = yaml.safe_load(text)
        lines = _key_lines(yaml.compose(text), (), path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = None if mark is None else mark.line + 1
        raise ConfigError(f"not valid YAML: {problem}", path=path, line=line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"a config file is a mapping of sections ({sections}), not a {type(data).__name__}",
            path=path,
            line=1,
        )
    try:
        # Validators that check paths against the file's folder find it in the context.
        return model.model_validate(data, context={CONFIG_FOLDER: path.parent.absolute()})
    except ValidationError as exc:
        problems = sorted(
            (_locate(err, lines) for err in exc.errors()), key=lambda p: p[1] or 1 << 30
        )
        message = "; ".join(p for p, _ in problems)
        raise ConfigError(message, path=path, line=problems[0][1]) from None


def _refuse_aliases(text: str, path: Path) -> None:
    """Config files hold no YAML anchors or aliases (``&name``, ``*name``).

    An alias can refer to its own anchor (a value that contains itself) or nest (a 400-byte
    "billion laughs" file that expands to 10^9 values): neither can be a meaningful config,
    and refusing both outright is simpler and safer than bounding them. The parser's events
    are read one at a time, so nothing is expanded to find them.

    Raises:
        ConfigError: the first anchor or alias, with its line.
    """
    for event in yaml.parse(text):
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            mark = event.start_mark
            raise ConfigError(
                f"YAML anchors and aliases ({sign}{anchor}) are not allowed in a config file; "
                "write the values out",
                path=path,
                line=None if mark is None else mark.line + 1,
            )


def _locate(err: Any, lines: dict[tuple[Any, ...], int]) -> tuple[str, int | None]:
    """``gate.batch_size (line 4): Input should be ...`` and the line, for one pydantic error."""
    loc = tuple(err["loc"])
    dotted = ".".join(str(part) for part in loc) or "(top level)"
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = dotted if line is None else f"{dotted} (line {line})"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}", line


def _key_lines(node: yaml.Node | None, prefix: tuple[Any, ...], path: Path) -> dict[Any, int]:
    """The 1-based line of every mapping key, by key path; duplicate keys are errors."""
    out: dict[tuple[Any, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a complex key: pydantic reports it; no line to give
            loc = (*prefix, key_node.value)
            if loc in out:
                dotted = ".".join(str(p) for p in loc)
                raise ConfigError(
                    f"{dotted} is given twice", path=path, line=key_node.start_mark.line + 1
                )
            out[loc] = key_node.start_mark.line + 1
            out.update(_key_lines(value_node, loc, path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*prefix, index)] = item.start_mark.line + 1
            out.update(_key_lines(item, (*prefix, index), path))
    return out
