"""The packaged expectation kind evaluated without GX gives GX's results (GX is the oracle)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.config import GateConfig, SplitThresholds
from preflight.validators import direct
from preflight.validators.gate import aggregate_frame
from preflight.validators.suites import (
    PACKAGED_SUITES,
    ExpectationSpec,
    Suite,
    load_suite,
    run_suite,
)

SPLITS = ("train", "dev", "eval")
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def split_stats(draw: st.DrawFn) -> dict[str, Any]:
    """One split's statistics as ``queries.split_stats`` gives them, edge cases included."""
    windows = draw(st.integers(0, 2_000_000))
    positive = draw(st.integers(0, windows))
    recordings = draw(st.integers(0, 500))
    positive_recordings = draw(st.integers(0, recordings))
    patients = draw(st.integers(0, recordings))
    hours = draw(st.floats(0, 1e4, allow_nan=False))
    return {
        "recordings": recordings,
        "patients": patients,
        "positive_recordings": positive_recordings,
        "positive_patients": draw(st.integers(0, patients)),
        "events": draw(st.integers(0, 300)),
        "windows": windows,
        "positive_windows": positive,
        "hours": hours,
        "positive_hours": draw(st.floats(0, hours, allow_nan=False)) if hours else 0.0,
    }


@st.composite
def thresholds(draw: st.DrawFn) -> SplitThresholds:
    low = draw(st.floats(0, 1))
    return SplitThresholds(
        # the floor (issue 14): the minimums of positives cannot go below 1
        min_positive_windows=draw(st.integers(1, 3000)),
        min_positive_events=draw(st.integers(1, 50)),
        min_positive_patients=draw(st.integers(1, 20)),
        min_positive_fraction=low,
        max_positive_fraction=draw(st.floats(low, 1)),
    )


@st.composite
def gate_configs(draw: st.DrawFn) -> GateConfig:
    return GateConfig(
        train=draw(thresholds()),
        evaluation=draw(thresholds()),
        balanced_sampling_below=draw(st.floats(0, 1)),
        batch_size=draw(st.integers(1, 512)),
        target_positive_fraction=draw(st.floats(0.001, 1)),
    )


def records(checks: list[Any]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in checks]


@pytest.mark.parametrize("name", PACKAGED_SUITES)
@_SETTINGS
@given(stats=st.lists(split_stats(), min_size=1, max_size=3), config=gate_configs(), data=st.data())
def test_packaged_suites_give_gx_records(
    name: str, stats: list[dict[str, Any]], config: GateConfig, data: st.DataObject
) -> None:
    """Every record (passed, observed, expected, message) is the one GX's run yields."""
    splits = ["all"] if len(stats) == 1 and data.draw(st.booleans()) else SPLITS[: len(stats)]
    frame = aggregate_frame(dict(zip(splits, stats, strict=False)), config)
    suite = load_suite(name)
    assert all(direct.evaluable(e) for e in suite.expectations)
    ours = run_suite(suite, frame, config)
    oracle = run_suite(suite, frame, config, great_expectations=True)
    assert records(ours) == records(oracle)


_NUMBER = st.one_of(
    st.integers(-5, 5), st.floats(-5, 5, allow_nan=False), st.sampled_from([0, 0.0, 1, 2.5])
)
_BOUND = st.one_of(st.none(), _NUMBER, st.just({"$PARAMETER": "a"}), st.just({"$PARAMETER": "b"}))


@_SETTINGS
@given(
    value=_NUMBER,
    low=_BOUND,
    high=_BOUND,
    strict=st.tuples(st.sampled_from([None, True, False]), st.sampled_from([None, True, False])),
    params=st.fixed_dictionaries({"a": _NUMBER, "b": _NUMBER}),
)
def test_between_outcomes_equal_gx(
    value: float,
    low: Any,
    high: Any,
    strict: tuple[bool | None, bool | None],
    params: dict[str, float],
) -> None:
    """Random bounds, parameters and strictness on a random value: GX decides the same."""
    from preflight.validators import _gx

    kwargs: dict[str, Any] = {"column": "positive_fraction", "min_value": low, "max_value": high}
    kwargs |= {k: v for k, v in zip(("strict_min", "strict_max"), strict, strict=True) if v}
    spec = ExpectationSpec(type=direct.BETWEEN, kwargs=kwargs)
    ours = direct.outcomes({0: spec}, {"positive_fraction": value}, params)
    if low is None and high is None:
        assert ours is None  # GX rejects the expectation; it is left to say so
        return
    suite = Suite("probe", "probe.json", "0", (spec,))
    row = pd.DataFrame({"positive_fraction": [value]})
    oracle = _gx.validate(_gx.batch_definition(), _gx.build_suite(suite, [0]), row, params, suite)
    assert ours == oracle


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "classes"}},
        {"type": direct.BETWEEN, "kwargs": {"column": "classes", "min_value": 2, "mostly": 0.5}},
        {"type": direct.BETWEEN, "kwargs": {"column": "classes", "min_value": "2"}},
        {"type": direct.BETWEEN, "kwargs": {"column": "classes", "min_value": True}},
        {"type": direct.BETWEEN, "kwargs": {"column": "classes", "strict_min": "yes"}},
        {"type": direct.BETWEEN, "kwargs": {"column": "classes"}},
        {"type": direct.BETWEEN, "kwargs": {"column": "classes", "min_value": 1}, "id": "x"},
    ],
)
def test_other_expectations_are_left_to_gx(spec: dict[str, Any]) -> None:
    assert not direct.evaluable(ExpectationSpec.model_validate(spec))


def test_nan_or_missing_parameters_are_left_to_gx() -> None:
    spec = ExpectationSpec(
        type=direct.BETWEEN, kwargs={"column": "x", "min_value": {"$PARAMETER": "a"}}
    )
    assert direct.outcomes({0: spec}, {"x": float("nan")}, {"a": 1}) is None
    assert direct.outcomes({0: spec}, {"x": 1}, {"a": None}) is None
    assert direct.outcomes({0: spec}, {"x": 1}, {"a": 1}) == {0: (True, None)}


def test_a_user_suite_of_another_kind_runs_in_gx(tmp_path: Path) -> None:
    """``mostly`` is GX's to interpret: the suite runs there, and its record says what GX did."""
    path = tmp_path / "mostly.json"
    expectation = {
        "type": direct.BETWEEN,
        "kwargs": {"column": "classes", "min_value": 2, "mostly": 0.5},
        "meta": {"check": "classes_mostly"},
    }
    path.write_text(json.dumps({"name": "mostly", "expectations": [expectation]}))
    stats = {"recordings": 1, "patients": 1, "positive_recordings": 0, "positive_patients": 0,
             "events": 0, "windows": 10, "positive_windows": 0, "hours": 1.0,
             "positive_hours": 0.0}  # fmt: skip
    frame = aggregate_frame({"train": stats}, GateConfig())
    (check,) = run_suite(load_suite(path), frame, GateConfig())
    assert (check.name, check.passed) == ("classes_mostly", False)


def test_packaged_suites_never_import_gx(tmp_path: Path) -> None:
    """A whole audit with a packaged suite leaves Great Expectations unimported."""
    code = (
        "import sys, preflight\n"
        "from preflight.synth.corpus import synthesize\n"
        "from preflight.synth.spec import SynthSpec\n"
        f"synthesize({str(tmp_path / 'c')!r}, SynthSpec(seed=3))\n"
        f"report = preflight.audit({str(tmp_path / 'c')!r})\n"
        "print(report.verdict, 'great_expectations' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False"
