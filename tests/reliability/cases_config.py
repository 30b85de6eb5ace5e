"""Catalogue cases: config files given with --config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.reliability.bad_input import (
    CONFIG,
    CONFIG_ERROR,
    CONFIG_KIND,
    BadInput,
    Outcome,
    write,
)
from tests.reliability.corpus import (
    BASE_CONFIG,
)

BASE_LINES = len(BASE_CONFIG.splitlines())


def _config(text: str | bytes) -> Callable[[Path], None]:
    return write(CONFIG, text)


def _python_tag(root: Path) -> None:
    marker = root.parent / "executed"
    (root / CONFIG).write_text(
        f"gate: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8"
    )


def _alias_bomb() -> str:
    """Nine levels of ten aliases each: 10**9 leaves from 400 bytes of YAML."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def _nothing_executed(outcome: Outcome) -> None:
    assert not (outcome.root.parent / "executed").exists()


CONFIG_CASES = [
    BadInput(
        id="config_unknown_section",
        kind=CONFIG_KIND,
        description="unknown top-level key `gates`",
        make=_config(BASE_CONFIG + "gates:\n  batch_size: 8\n"),
        reason=CONFIG_ERROR,
        line=BASE_LINES + 1,
        path=CONFIG,
        needle="gates",
    ),
    BadInput(
        id="config_unknown_key",
        kind=CONFIG_KIND,
        description="misspelt key `gate.batch_sise`",
        make=_config(BASE_CONFIG.replace("batch_size", "batch_sise")),
        reason=CONFIG_ERROR,
        line=2,
        path=CONFIG,
        needle="gate.batch_sise",
    ),
    BadInput(
        id="config_wrong_type",
        kind=CONFIG_KIND,
        description="`gate.batch_size: eight`",
        make=_config(BASE_CONFIG.replace("batch_size: 8", "batch_size: eight")),
        reason=CONFIG_ERROR,
        line=2,
        path=CONFIG,
        needle="gate.batch_size",
    ),
    BadInput(
        id="config_wrong_container",
        kind=CONFIG_KIND,
        description="`gate.evaluation_splits: dev` (not a list)",
        make=_config(BASE_CONFIG.replace("[dev]", "dev")),
        reason=CONFIG_ERROR,
        line=3,
        path=CONFIG,
        needle="gate.evaluation_splits",
    ),
    BadInput(
        id="config_negative_window",
        kind=CONFIG_KIND,
        description="`audit.window_s: -10`",
        make=_config("audit:\n  window_s: -10\n" + BASE_CONFIG),
        reason=CONFIG_ERROR,
        line=2,
        path=CONFIG,
        needle="audit.window_s",
    ),
    BadInput(
        id="config_negative_threshold",
        kind=CONFIG_KIND,
        description="`gate.train.min_positive_windows: -1`",
        make=_config(BASE_CONFIG + "  train:\n    min_positive_windows: -1\n"),
        reason=CONFIG_ERROR,
        line=BASE_LINES + 2,
        path=CONFIG,
        needle="gate.train.min_positive_windows",
    ),
    BadInput(
        id="config_fraction_above_one",
        kind=CONFIG_KIND,
        description="`gate.max_rejected_fraction: 1.5`",
        make=_config(BASE_CONFIG.replace("0.0", "1.5")),
        reason=CONFIG_ERROR,
        line=4,
        path=CONFIG,
        needle="gate.max_rejected_fraction",
    ),
    BadInput(
        id="config_duplicate_key",
        kind=CONFIG_KIND,
        description="`gate.batch_size` given twice",
        make=_config(BASE_CONFIG + "  batch_size: 16\n"),
        reason=CONFIG_ERROR,
        line=BASE_LINES + 1,
        path=CONFIG,
        needle="given twice",
    ),
    BadInput(
        id="config_bad_yaml",
        kind=CONFIG_KIND,
        description="unclosed `[` (not YAML)",
        make=_config("gate:\n  evaluation_splits: [dev\n  batch_size: 8\n"),
        reason=CONFIG_ERROR,
        line=3,
        path=CONFIG,
        needle="not valid YAML",
    ),
    BadInput(
        id="config_python_tag",
        kind=CONFIG_KIND,
        description="`!!python/object/apply:os.system` (never executed)",
        make=_python_tag,
        reason=CONFIG_ERROR,
        line=1,
        path=CONFIG,
        needle="not valid YAML",
        check=_nothing_executed,
    ),
    BadInput(
        id="config_recursive_alias",
        kind=CONFIG_KIND,
        description="a YAML anchor that contains itself (`&a [*a]`)",
        make=_config("gate: &a [*a]\n"),
        reason=CONFIG_ERROR,
        line=1,
        path=CONFIG,
        needle="YAML anchors and aliases",
    ),
    BadInput(
        id="config_alias_bomb",
        kind=CONFIG_KIND,
        description="nested aliases expanding to 10^9 nodes (400 bytes)",
        make=_config(_alias_bomb()),
        reason=CONFIG_ERROR,
        line=1,
        path=CONFIG,
        timeout_s=60.0,  # a hang fails the case; refusing takes milliseconds
        needle="YAML anchors and aliases",
    ),
    BadInput(
        id="config_not_a_mapping",
        kind=CONFIG_KIND,
        description="a YAML list instead of sections",
        make=_config("- gate\n- audit\n"),
        reason=CONFIG_ERROR,
        line=1,
        path=CONFIG,
        needle="not a list",
    ),
    BadInput(
        id="config_undecodable",
        kind=CONFIG_KIND,
        description="config bytes that are not UTF-8",
        make=_config(b"gate:\n  batch_size: \xff\n"),
        reason=CONFIG_ERROR,
        line=None,
        path=CONFIG,
        needle="cannot read config file",
    ),
    BadInput(
        id="config_missing",
        kind=CONFIG_KIND,
        description="`--config` names a file that does not exist",
        make=lambda root: None,
        reason=CONFIG_ERROR,
        line=None,
        path=CONFIG,
        needle="config file not found",
    ),
    BadInput(
        id="config_floor_severity",
        kind=CONFIG_KIND,
        description="`gate.severities: {both_classes: warning}` (a floor check)",
        make=_config(BASE_CONFIG + "  severities:\n    both_classes: warning\n"),
        reason=CONFIG_ERROR,
        line=BASE_LINES + 2,
        path=CONFIG,
        needle="gate.severities.both_classes",
    ),
    BadInput(
        id="config_floor_severity_auroc",
        kind=CONFIG_KIND,
        description="`gate.severities: {auroc_defined: warning}` among allowed overrides",
        make=_config(
            BASE_CONFIG + "  severities:\n    split_fraction_ratio: error\n"
            "    min_positive_patients: warning\n    auroc_defined: warning\n"
        ),
        reason=CONFIG_ERROR,
        line=BASE_LINES + 4,
        path=CONFIG,
        needle="auroc_defined is a floor check",
    ),
    BadInput(
        id="config_threshold_below_floor",
        kind=CONFIG_KIND,
        description="`gate.evaluation.min_positive_events: 0` (below the floor of 1)",
        make=_config(BASE_CONFIG + "  evaluation:\n    min_positive_events: 0\n"),
        reason=CONFIG_ERROR,
        line=BASE_LINES + 2,
        path=CONFIG,
        needle="gate.evaluation.min_positive_events",
    ),
    BadInput(
        id="config_limit_out_of_bounds",
        kind=CONFIG_KIND,
        description="`audit.limits.max_recording_hours: 100000` (past a year: not a limit)",
        make=_config("audit:\n  limits:\n    max_recording_hours: 100000\n" + BASE_CONFIG),
        reason=CONFIG_ERROR,
        line=3,
        path=CONFIG,
        needle="audit.limits.max_recording_hours",
    ),
]
