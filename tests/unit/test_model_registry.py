"""The model registry: names, ``package.module:ClassName`` paths, records and rebuilds."""

from __future__ import annotations

import inspect
import io
import re
from enum import IntEnum
from pathlib import Path

import pytest
import torch
from torch import nn

from preflight.errors import ConfigError, UsageError
from preflight.models import (
    MODELS,
    SeizureTCN,
    StampResNet,
    build_model,
    count_parameters,
    describe,
    model_args,
    rebuild,
    resolve_model,
)

HERE = "tests.unit.test_model_registry"
TINY = f"{HERE}:Tiny"


class Tiny(nn.Module):
    """A user's model, named ``tests.unit.test_model_registry:Tiny`` in the registry tests."""

    def __init__(
        self,
        in_features: int,
        hidden: int = 4,
        widths: tuple[int, ...] = (2, 3),
        act: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.widths = widths
        self.net = nn.Sequential(nn.Linear(in_features, hidden), act(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class NotAModule:
    """A class that is not an ``nn.Module``, for the registry's error."""


def helper() -> None:
    """A function, for the registry's error."""


def test_models_table_is_read_only() -> None:
    assert dict(MODELS) == {"seizure_tcn": SeizureTCN, "stamp_resnet": StampResNet}
    with pytest.raises(TypeError):
        MODELS["mine"] = Tiny  # type: ignore[index]


@pytest.mark.parametrize("name", list(MODELS))
def test_build_by_name_records_every_argument(name: str) -> None:
    model = build_model(name)
    assert isinstance(model, MODELS[name])
    record = model_args(model)
    assert record["name"] == name
    assert list(record["kwargs"]) == list(inspect.signature(MODELS[name]).parameters)


def test_record_survives_a_weights_only_checkpoint_and_rebuilds_the_same_model() -> None:
    torch.manual_seed(0)
    model = build_model("stamp_resnet", widths=(8, 16), blocks_per_stage=2).eval()
    assert model_args(model) == {
        "name": "stamp_resnet",
        "kwargs": {
            "in_channels": 3,
            "widths": [8, 16],
            "blocks_per_stage": 2,
            "channels_last": False,
        },
    }
    buffer = io.BytesIO()
    torch.save({"model_args": model_args(model), "model": model.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    torch.manual_seed(1)
    again = rebuild(**checkpoint["model_args"]).eval()
    assert repr(again) == repr(model)
    shapes = {k: v.shape for k, v in again.state_dict().items()}
    assert shapes == {k: v.shape for k, v in model.state_dict().items()}
    again.load_state_dict(checkpoint["model"])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))


def test_user_model_by_module_path() -> None:
    model = build_model(TINY, in_features=3)
    assert isinstance(model, Tiny)
    assert model.widths == [2, 3]  # built from the record, as a rebuild will be
    # ``act``'s default is a class, not a JSON value: left out, and a rebuild defaults it again.
    assert model_args(model) == {
        "name": TINY,
        "kwargs": {"in_features": 3, "hidden": 4, "widths": [2, 3]},
    }
    assert repr(rebuild(**model_args(model))) == repr(model)


def test_enum_arguments_are_recorded_as_plain_values() -> None:
    class Size(IntEnum):
        THREE = 3

    record = model_args(build_model(TINY, in_features=Size.THREE))
    assert type(record["kwargs"]["in_features"]) is int


def test_a_path_may_name_our_own_models_too() -> None:
    model = build_model("preflight.models.seizure:SeizureTCN", hidden=8, levels=2)
    assert isinstance(model, SeizureTCN)
    assert describe(model).startswith(
        "preflight.models.seizure:SeizureTCN(in_channels=19, sampling_rate=256.0, hidden=8, "
    )


def test_user_model_from_a_file_on_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pf_user_nets.py").write_text(
        "from torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, width: int = 5) -> None:\n"
        "        super().__init__()\n"
        "        self.layer = nn.Linear(width, 1)\n"
    )
    monkeypatch.syspath_prepend(tmp_path)
    model = build_model("pf_user_nets:Net", width=7)
    assert count_parameters(model) == 8
    assert describe(model) == "pf_user_nets:Net(width=7): 8 parameters"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("seizure-tcn", "unknown model 'seizure-tcn': did you mean 'seizure_tcn'?"),
        ("resnet50", "preflight's models are seizure_tcn, stamp_resnet"),
        ("a:b:c", "model 'a:b:c' is not a model path; name your own model as"),
        ("pf_no_such_package.nets:Net", "module 'pf_no_such_package.nets' not found"),
        ("tests.unit.pf_no_such_module:Net", "module 'tests.unit.pf_no_such_module' not found"),
        (f"{TINY}y", "has no attribute 'Tinyy' (did you mean 'Tiny'?)"),
        (f"{HERE}:NotAModule", "is a class, not a subclass of torch.nn.Module"),
        (f"{HERE}:helper", "is a function, not a subclass of torch.nn.Module"),
        (f"{HERE}:TINY", "is a str, not a subclass of torch.nn.Module"),
        (3, "a model name is a string, got 3"),
    ],
)
def test_unresolvable_names_raise_config_error_quoting_them(name: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        resolve_model(name)  # type: ignore[arg-type]
    assert repr(name) in str(caught.value)


@pytest.mark.parametrize(
    ("module", "source", "message"),
    [
        ("pf_needs_dep", "import pf_missing_dep\n", "failed: No module named 'pf_missing_dep'"),
        ("pf_raises", "raise RuntimeError('no GPU here')\n", "raised RuntimeError: no GPU here"),
    ],
)
def test_a_module_that_fails_to_import_raises_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, message: str
) -> None:
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_model(f"{module}:Net")


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("seizure_tcn", {"hiden": 3}, "unexpected keyword argument 'hiden' (it takes in_channels"),
        (TINY, {}, "missing a required argument: 'in_features'"),
        (TINY, {"in_features": 3, "act": nn.GELU}, "argument 'act' is a type; model arguments"),
        ("seizure_tcn", {"hidden": 0}, "model 'seizure_tcn': SeizureTCN: hidden must be"),
        (TINY, {"in_features": -1}, f"building model '{TINY}' with {{'in_features': -1, "),
    ],
)
def test_bad_arguments_raise_config_error(
    name: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_model(name, **kwargs)


def test_model_args_needs_a_model_built_by_the_registry() -> None:
    with pytest.raises(UsageError, match=r"was not made by preflight\.models\.build_model"):
        model_args(SeizureTCN())
    assert describe(Tiny(2)) == "Tiny: 17 parameters"


def test_model_args_looks_through_wrappers() -> None:
    model = build_model("seizure_tcn", hidden=8, levels=2)
    assert model_args(nn.DataParallel(model)) == model_args(model)
    record = model_args(model)
    record["kwargs"]["hidden"] = 99  # a copy: the model's record is unchanged
    assert model_args(model)["kwargs"]["hidden"] == 8
