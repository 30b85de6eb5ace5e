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

import difflib
import math
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

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
from preflight.results import Severity
from preflight.sources.limits import ScanLimits
from preflight.sources.parquet import ParquetOptions, parse_label_map

if TYPE_CHECKING:
    from preflight.manifest.windows import WindowParams

__all__ = [
    "DEFAULT_RATIOS",
    "FLOOR_CHECKS",
    "SPLIT_NAMES",
    "AuditConfig",
    "GateConfig",
    "ParquetOptions",
    "PreflightConfig",
    "SourceFormat",
    "SplitConfig",
    "SplitMethod",
    "SplitThresholds",
    "apply_flags",
    "check_ratios",
    "load_config",
    "parse_ratios",
]

# Float noise must not turn 10 * 0.3 into 4 positives per batch.
_EPS = 1e-9


class SourceFormat(StrEnum):
    """The ``--format`` choices: which readers an audit uses."""

    AUTO = "auto"
    TUSZ = "tusz"
    CHBMIT = "chbmit"
    SIENA = "siena"
    BIDS = "bids"
    EDFPLUS = "edfplus"
    SEIZEIT = "seizeit"
    PARQUET = "parquet"


# The split names preflight knows, in report order; ratios name some of them.
SPLIT_NAMES = ("train", "dev", "eval", "test")
DEFAULT_RATIOS: Mapping[str, float] = MappingProxyType({"train": 0.7, "dev": 0.15, "eval": 0.15})
RATIO_TOLERANCE = 1e-6


class SplitMethod(StrEnum):
    """How recordings are assigned to splits."""

    DECLARED = "declared"  # the corpus's own split (TUSZ train/dev/eval folders)
    STRATIFIED = "stratified"  # patient-grouped, stratified on positives, seeded


def check_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    """Validate split ratios and return them in the order train, dev, eval, test.

    Raises:
        UsageError: empty, an unknown split name, a ratio that is not a number > 0, or ratios
            not summing to 1.
    """
    if not ratios:
        raise UsageError("no split ratios given (e.g. train=0.7,dev=0.15,eval=0.15)")
    unknown = sorted(set(ratios) - set(SPLIT_NAMES))
    if unknown:
        raise UsageError(
            f"unknown split name(s) in ratios: {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(SPLIT_NAMES)})"
        )
    for name, value in ratios.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value <= 0:
            raise UsageError(
                f"ratio of {name} is {value!r} (needs a number > 0; leave a split out rather "
                "than giving it 0)"
            )
    total = math.fsum(ratios.values())
    if abs(total - 1.0) > RATIO_TOLERANCE:
        given = ", ".join(f"{k}={v:g}" for k, v in ratios.items())
        raise UsageError(f"split ratios sum to {total:g} (needs 1): {given}")
    return {name: float(ratios[name]) for name in SPLIT_NAMES if name in ratios}


def parse_ratios(text: str) -> dict[str, float]:
    """Parse ``"train=0.7,dev=0.15,eval=0.15"`` (as given on the command line) and validate it.

    Raises:
        UsageError: a malformed item, a repeated name, or invalid ratios (see ``check_ratios``).
    """
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value) if sep else math.nan
        except ValueError:
            number = math.nan
        if not sep or not name or math.isnan(number):
            raise UsageError(f"bad split ratio {item!r} (expected NAME=NUMBER, e.g. dev=0.15)")
        if name in out:
            raise UsageError(f"split {name!r} given twice in ratios {text!r}")
        out[name] = number
    return check_ratios(out)


class Strict(BaseModel):
    """A config section: unknown keys are errors and values do not change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigFile(Strict):
    """A whole config file, whose top-level sections may be left empty (YAML ``null``)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """``gate:`` with every line below commented out is null in YAML: the defaults."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class AuditConfig(Strict):
    """How ``preflight audit`` reads a corpus and cuts it into windows."""

    # The unit the model sees; labels, counts and the sampler are all per window.
    window_s: float = Field(default=10.0, gt=0)
    # Overlapping windows (stride < window) multiply training examples; None means the window.
    stride_s: float | None = Field(default=None, gt=0)
    # Seizure seconds a window needs to count as positive; 0 means any overlap at all.
    min_overlap_s: float = Field(default=0.0, ge=0)
    # Which readers to use; auto recognises TUSZ, CHB-MIT, Siena, SeizeIT, BIDS and EDF+ by names,
    # and Parquet tables in a folder holding no EEG file.
    format: SourceFormat = SourceFormat.AUTO
    # Audit from annotation files alone when the EDF files are not at hand.
    labels_only: bool = False
    # Apply the published errata of real corpora (preflight.sources.errata), each recorded as a
    # note; false gives the raw reading of the files as published.
    errata: bool = True
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

    def uncovered_share(self) -> float:
        """The share of every recording's signal no window covers: 0 unless the stride is
        longer than the window (then ``(stride - window) / stride``)."""
        stride = self.stride_s if self.stride_s is not None else self.window_s
        return max(0.0, (stride - self.window_s) / stride)

    def window_params(self) -> WindowParams:
        """The windowing parameters these settings describe."""
        from preflight.manifest.windows import WindowParams  # DuckDB: not for `--help`

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


class SplitThresholds(Strict):
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


class GateConfig(Strict):
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


class SplitConfig(Strict):
    """How splits are chosen (the arguments of ``preflight.split.build_split``)."""

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


class PreflightConfig(ConfigFile):
    """A whole config file."""

    # How the corpus is read and windowed.
    audit: AuditConfig = AuditConfig()
    # What the gate demands of the splits.
    gate: GateConfig = GateConfig()
    # Where the splits come from.
    split: SplitConfig = SplitConfig()
    # For Parquet tables: the label column and its map to the classes, group and split columns.
    parquet: ParquetOptions = ParquetOptions()


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
            (_locate(err, lines, model) for err in exc.errors()), key=lambda p: p[1] or 1 << 30
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


def _locate(
    err: Any, lines: dict[tuple[Any, ...], int], model: type[BaseModel]
) -> tuple[str, int | None]:
    """``gate.batch_size (line 4): Input should be ...`` and the line, for one pydantic error."""
    loc = tuple(err["loc"])
    dotted = ".".join(str(part) for part in loc) or "(top level)"
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = dotted if line is None else f"{dotted} (line {line})"
    if err["type"] == "extra_forbidden":
        return f"{where}: {unknown_key(loc, model)}", line
    return f"{where}: {err['msg'].removeprefix('Value error, ')}", line


def unknown_key(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    """What to do about an unknown key: the close match, if any, and the keys that section
    knows (``unknown key 'batch_sise' in gate: did you mean 'batch_size'? ...``)."""
    section: Any = model
    for part in loc[:-1]:  # walk down to the model of the section holding the key
        field = getattr(section, "model_fields", {}).get(part)
        section = None if field is None else field.annotation
    known = sorted(getattr(section, "model_fields", {}))
    where = ".".join(str(p) for p in loc[:-1]) or "the top level"
    key = str(loc[-1])
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    listed = f"known keys: {', '.join(known)}" if known else "remove it"
    return f"unknown key {key!r} in {where}: {hint}{listed}"


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


def apply_flags(
    cfg: PreflightConfig,
    *,
    audit: Mapping[str, object] = MappingProxyType({}),
    split: Mapping[str, object] = MappingProxyType({}),
    parquet: Mapping[str, object] = MappingProxyType({}),
) -> PreflightConfig:
    """The config with the command-line flags that were given (not None) on top of its sections.

    Args:
        cfg: the config file's settings (or the defaults).
        audit: ``audit`` section keys.
        split: ``split`` section keys; ``ratios`` as the command line's ``train=0.7,...`` text.
        parquet: ``parquet`` section keys; ``label_map`` as the command line's ``0=positive,...``.

    Raises:
        UsageError: malformed ratios, or ``--seed`` / ``--ratios`` for a split that keeps the
            corpus's own (``split.method: declared``); ``ConfigError`` for a malformed label
            map or flags that do not fit together (each named with its key).
    """
    audit_over = {k: v for k, v in audit.items() if v is not None}
    split_over = {k: v for k, v in split.items() if v is not None}
    if isinstance(split_over.get("ratios"), str):
        split_over["ratios"] = parse_ratios(str(split_over["ratios"]))
    parquet_over = {k: v for k, v in parquet.items() if v is not None}
    if isinstance(parquet_over.get("label_map"), str):
        try:
            parquet_over["label_map"] = parse_label_map(str(parquet_over["label_map"]))
        except ValueError as exc:
            raise ConfigError(f"--label-map: {exc}") from None
    try:
        merged = PreflightConfig.model_validate(
            {
                **cfg.model_dump(),
                "audit": {**cfg.audit.model_dump(), **audit_over},
                "split": {**cfg.split.model_dump(), **split_over},
            }
        )
    except ValidationError as exc:
        raise ConfigError(f"options do not fit together: {_problems(exc, '')}") from None
    stray = [f"--{k}" for k in ("seed", "ratios") if k in split_over]
    if stray and merged.split.method is SplitMethod.DECLARED:
        verb = "apply" if len(stray) > 1 else "applies"
        raise UsageError(
            f"{' and '.join(stray)} only {verb} to a split preflight builds; this audit keeps the "
            "corpus's own split (--split declared): add --split stratified, or drop "
            f"{' and '.join(stray)}"
        )
    if not parquet_over:
        return merged
    try:
        tables = ParquetOptions.model_validate({**cfg.parquet.model_dump(), **parquet_over})
    except ValidationError as exc:
        problems = _problems(exc, "parquet")
        raise ConfigError(f"Parquet options do not fit together: {problems}") from None
    return merged.model_copy(update={"parquet": tables})


def _problems(exc: ValidationError, section: str) -> str:
    """pydantic's errors as ``key: message; ...`` (``section`` names an error with no key)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or section}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )
