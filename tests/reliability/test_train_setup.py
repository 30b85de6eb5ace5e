"""Training set-up errors are exit 2 with one line, never a traceback.

A user's model returning the wrong shape or holding no parameters, and a torchrun environment
that is half there (``WORLD_SIZE=2`` without torchrun) or malformed (``RANK=abc``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from preflight.cli import app
from preflight.manifest.store import Manifest
from preflight.synth.corpus import SynthSpec, synthesize
from tests.integration.conftest import one_torch_thread  # noqa: F401  (a fixture)
from tests.integration.test_train import write_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny TUSZ-layout corpus at 128 Hz the gate passes."""
    root = tmp_path_factory.mktemp("setup") / "corpus"
    synthesize(
        root,
        SynthSpec(
            train_patients=2, dev_patients=2, eval_patients=0, recordings_per_patient=2,
            min_duration_s=120, max_duration_s=160, sampling_rates=(128,),
            seizures_per_recording=(1, 1), seizure_duration_s=(15.0, 30.0),
        ),
    )  # fmt: skip
    return root


def _train(config: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The exit code and the output after the gate's line (which comes first when it passed)."""
    result = CliRunner().invoke(app, ["train", str(config)], env={"COLUMNS": "2000", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}") from result.exception
    lines = [line for line in result.output.splitlines() if not line.startswith("Gate PASS")]
    return result.exit_code, " ".join(" ".join(lines).split())


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("WrongShape", "the model's output does not fit: a model must return window logits (B,)"),
        ("NoParameters", "has no trainable parameters"),
    ],
)
def test_a_user_model_that_cannot_train_is_a_usage_error(
    corpus: Path, tmp_path: Path, model: str, needle: str
) -> None:
    config = write_config(
        tmp_path, corpus, model={"name": f"tests.reliability.user_models:{model}", "kwargs": {}}
    )
    code, output = _train(config)
    assert code == 2, output
    assert output.startswith("error:")
    assert needle in output
    with Manifest.open(corpus / ".preflight" / "manifest.duckdb", read_only=True) as m:
        status = m.query("SELECT status FROM runs ORDER BY started DESC LIMIT 1")[0][0]
    assert status == "failed"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"WORLD_SIZE": "2"}, "WORLD_SIZE=2 asks for 2 processes but"),
        ({"RANK": "abc"}, "RANK='abc' is not a whole number"),
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a whole number"),
    ],
)
def test_a_broken_torchrun_environment_is_a_usage_error(
    corpus: Path, tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    config = write_config(tmp_path, corpus)
    code, output = _train(config, env)
    assert code == 2, output
    assert output.startswith("error:")
    assert needle in output
