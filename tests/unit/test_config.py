"""The YAML config: defaults, every field reachable, and errors that name the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.config import GateConfig, PreflightConfig, SplitThresholds, load_config
from preflight.errors import ConfigError, UsageError
from preflight.manifest.windows import WindowParams
from preflight.results import Severity
from preflight.scanning.discover import SourceFormat
from preflight.split import SplitMethod

FULL = """\
audit:
  window_s: 4
  stride_s: 2
  min_overlap_s: 1
  format: tusz
  labels_only: true
gate:
  train: {min_positive_windows: 50, min_positive_events: 5, min_positive_patients: 3}
  evaluation:
    min_positive_windows: 10
    min_positive_fraction: 0.001
    max_positive_fraction: 0.5
  balanced_sampling_below: 0.01
  max_fraction_ratio: 3
  batch_size: 64
  target_positive_fraction: 0.5
  max_rejected_fraction: 0
  train_split: train
  evaluation_splits: [dev]
  severities: {split_fraction_ratio: error, min_positive_patients: warning}
  suite: my_suite.json
split:
  method: stratified
  ratios: {train: 0.8, dev: 0.2}
  seed: 7
"""


def write(tmp_path: Path, text: str) -> Path:
    """A config file holding ``text``."""
    path = tmp_path / "preflight.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    """The ConfigError loading ``text`` raises."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


@pytest.mark.parametrize("text", ["", "# only a comment\n", "gate: {}\n", "audit:\n"])
def test_empty_file_and_sections_give_defaults(tmp_path: Path, text: str) -> None:
    """Every section and field is optional; an empty section (null in YAML) is the defaults."""
    assert load_config(write(tmp_path, text)) == PreflightConfig()


def test_defaults_suit_tiny_corpora() -> None:
    """One positive window, event and patient per split is enough by default."""
    gate = GateConfig()
    for thresholds in (gate.train, gate.evaluation):
        assert thresholds.min_positive_windows == 1
        assert thresholds.min_positive_events == 1
        assert thresholds.min_positive_patients == 1
    assert gate.balanced_sampling_below == 0.005
    assert gate.evaluation_splits is None
    assert gate.sampler_min_positive_windows() == 8  # ceil(32 * 0.25)


def test_every_field_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.audit.window_params() == WindowParams(4.0, 2.0, 1.0)
    assert config.audit.format is SourceFormat.TUSZ
    assert config.audit.labels_only is True
    gate = config.gate
    assert gate.train == SplitThresholds(
        min_positive_windows=50, min_positive_events=5, min_positive_patients=3
    )
    assert gate.evaluation.max_positive_fraction == 0.5
    assert gate.evaluation.min_positive_events == 1  # unset fields keep their default
    assert (gate.batch_size, gate.target_positive_fraction, gate.max_fraction_ratio) == (64, 0.5, 3)
    assert gate.evaluation_splits == ["dev"]
    assert gate.severities == {
        "split_fraction_ratio": Severity.ERROR,
        "min_positive_patients": Severity.WARNING,
    }
    assert gate.suite == "my_suite.json"
    assert config.split.method is SplitMethod.STRATIFIED
    assert config.split.ratios == {"train": 0.8, "dev": 0.2}
    assert config.split.seed == 7


def test_stride_defaults_to_the_window(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "audit: {window_s: 5}\n"))
    assert config.audit.window_params() == WindowParams(5.0, 5.0, 0.0)


def test_sampler_need_ignores_float_noise() -> None:
    """10 * 0.3 is 3.0000000000000004 in binary; the sampler needs 3 positives, not 4."""
    need = GateConfig(batch_size=10, target_positive_fraction=0.3).sampler_min_positive_windows
    assert need() == 3
    more = GateConfig(batch_size=10, target_positive_fraction=0.31).sampler_min_positive_windows
    assert more() == 4


def test_negative_threshold_names_key_and_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "gate:\n  train:\n    min_positive_windows: -1\n")
    expected = (
        "gate.train.min_positive_windows (line 3): Input should be greater than or equal to 1"
    )
    assert expected in str(err)
    assert err.line == 3
    assert err.path == str(tmp_path / "preflight.yaml")
    assert isinstance(err, UsageError)  # the CLI exits 2


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    """A misspelt threshold must not silently keep its default."""
    err = error_of(tmp_path, "gate:\n  min_positve_windows: 3\n")
    assert "gate.min_positve_windows (line 2): unknown key 'min_positve_windows' in gate" in str(
        err
    )
    assert "Extra inputs" not in str(err)


def test_a_misspelt_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    """pydantic's "Extra inputs are not permitted" says nothing to do; this says what to write."""
    err = error_of(tmp_path, "gate:\n  batch_sise: 8\ngates: {}\n")
    text = str(err)
    assert (
        "gate.batch_sise (line 2): unknown key 'batch_sise' in gate: did you mean 'batch_size'?"
        in text
    )
    assert "gates (line 3): unknown key 'gates' in the top level: did you mean 'gate'?" in text
    assert "known keys: audit, gate, parquet, split" in text


def test_wrong_type_and_every_problem_reported(tmp_path: Path) -> None:
    err = error_of(tmp_path, "gate:\n  batch_size: many\n  max_fraction_ratio: 0.5\nfoo: 1\n")
    text = str(err)
    assert "gate.batch_size (line 2): Input should be a valid integer" in text
    assert "gate.max_fraction_ratio (line 3): Input should be greater than or equal to 1" in text
    assert "foo (line 4): unknown key 'foo' in the top level" in text
    assert err.line == 2  # the first problem in file order


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("gate:\n  train: {min_positive_fraction: 0.5, max_positive_fraction: 0.1}\n",
         "gate.train (line 2): min_positive_fraction 0.5 > max_positive_fraction 0.1"),
        ("gate: {target_positive_fraction: 0}\n", "gate.target_positive_fraction (line 1)"),
        ("gate: {severities: {both_classes: fatal}}\n", "gate.severities.both_classes (line 1)"),
        ("audit: {window_s: 4, min_overlap_s: 5}\n", "no window could ever be positive"),
        ("audit: {format: nonsense}\n", "audit.format (line 1): Input should be 'auto'"),
        ("split: {ratios: {train: 0.5, dev: 0.2}}\n", "split ratios sum to 0.7 (needs 1)"),
        ("split: {method: random}\n", "split.method (line 1)"),
    ],
)  # fmt: skip
def test_out_of_range_values(tmp_path: Path, text: str, needle: str) -> None:
    assert needle in str(error_of(tmp_path, text))


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "gate:\n  batch_size: 3\n   seed: [\n")
    assert "not valid YAML" in str(err)
    assert err.line == 3


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    """yaml.safe_load keeps the last of two equal keys; a config must not hide one."""
    err = error_of(tmp_path, "gate:\n  batch_size: 8\n  batch_size: 16\n")
    assert "gate.batch_size is given twice" in str(err)
    assert err.line == 3


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "a config file is a mapping of sections" in str(error_of(tmp_path, "- gate\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "absent.yaml")
    assert info.value.path == str(tmp_path / "absent.yaml")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    """No Python object tags: safe_load refuses them."""
    err = error_of(tmp_path, "gate: !!python/object/apply:os.system ['true']\n")
    assert "not valid YAML" in str(err)
