"""The model registry: names for preflight's models, ``package.module:ClassName`` for a user's.

A config names its model one of two ways::

    seizure_tcn                 one of ours (the keys of MODELS)
    mylab.nets:LensNet          a user's torch.nn.Module subclass, imported with importlib

``build_model`` binds the keyword arguments to the class's signature, builds the model from them
and records on it the name and every constructor argument, defaults included. A checkpoint stores
``model_args(model)``, a plain dict of JSON values (``{"name": ..., "kwargs": {...}}``), and
``rebuild(**record)`` builds the same architecture again, even if a default has changed since.
The model is built from the recorded values, so what trains is exactly what a rebuild gives.
Nothing is evaluated: a name is only ever imported and looked up.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from torch import nn

from preflight.errors import ConfigError, UsageError
from preflight.models.seizure import SeizureTCN
from preflight.models.stamp import StampResNet

__all__ = [
    "MODELS",
    "build_model",
    "count_parameters",
    "describe",
    "model_args",
    "rebuild",
    "resolve_model",
]

MODELS: Mapping[str, type[nn.Module]] = MappingProxyType(
    {"seizure_tcn": SeizureTCN, "stamp_resnet": StampResNet}
)

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_PATH = re.compile(rf"(?P<module>{_DOTTED}):(?P<attr>{_DOTTED})")
_RECORD = "_preflight_model_args"  # instance attribute holding {"name": ..., "kwargs": ...}
_HOW_TO_NAME = "name your own model as 'package.module:ClassName'"


class _NotJSON(Exception):
    """A constructor argument that a checkpoint cannot record as a JSON value."""


def resolve_model(name_or_path: str) -> type[nn.Module]:
    """Find the class a model name or ``package.module:ClassName`` path refers to.

    Args:
        name_or_path: a key of :data:`MODELS`, or a path to a user's ``nn.Module`` subclass.

    Returns:
        The class (not an instance).

    Raises:
        ConfigError: the name is unknown, the path malformed, the module missing or failing to
            import, the attribute missing, or not an ``nn.Module`` subclass. The message quotes
            ``name_or_path``.
    """
    if not isinstance(name_or_path, str):
        raise ConfigError(f"a model name is a string, got {name_or_path!r}")
    if ":" not in name_or_path:
        if name_or_path in MODELS:
            return MODELS[name_or_path]
        near = difflib.get_close_matches(name_or_path, list(MODELS), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ConfigError(
            f"unknown model {name_or_path!r}: {hint}preflight's models are "
            f"{', '.join(MODELS)}; {_HOW_TO_NAME}"
        )
    match = _PATH.fullmatch(name_or_path)
    if match is None:
        raise ConfigError(f"model {name_or_path!r} is not a model path; {_HOW_TO_NAME}")
    module = _import(name_or_path, match["module"])
    found: object = module
    for part in match["attr"].split("."):
        if not hasattr(found, part):
            near = difflib.get_close_matches(part, [n for n in dir(found) if n[:1] != "_"], n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(
                f"model {name_or_path!r}: {getattr(found, '__name__', part)!r} has no "
                f"attribute {part!r}{hint}"
            )
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        kind = "a class" if isinstance(found, type) else f"a {type(found).__name__}"
        raise ConfigError(f"model {name_or_path!r} is {kind}, not a subclass of torch.nn.Module")
    return found


def _import(name_or_path: str, module_name: str) -> Any:
    """Import ``module_name`` for ``name_or_path``; every failure becomes a ConfigError."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise ConfigError(
                f"model {name_or_path!r}: module {module_name!r} not found; install it, or add "
                f"the folder that holds it to PYTHONPATH"
            ) from exc
        raise ConfigError(
            f"model {name_or_path!r}: importing module {module_name!r} failed: {exc}"
        ) from exc
    except Exception as exc:  # a user's module can raise anything while it is imported
        raise ConfigError(
            f"model {name_or_path!r}: importing module {module_name!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _json(value: Any) -> Any:
    """``value`` as plain JSON data; raises _NotJSON for anything else.

    Tuples become lists, and subclasses of the scalar types (an IntEnum, a StrEnum) their base
    type, which ``torch.load(weights_only=True)`` can read back.
    """
    if value is None:
        return None
    for scalar in (bool, int, float):
        if isinstance(value, scalar):
            return scalar(value)
    if isinstance(value, str):
        return str.__str__(value)  # the plain str, whatever the subclass's __str__ says
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json(item) for key, item in value.items()}
    raise _NotJSON(type(value).__name__)


def _record_kwargs(name: str, cls: type[nn.Module], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Bind ``kwargs`` to ``cls``'s signature; return them with defaults, as JSON values.

    A default that is not a JSON value is left out (a rebuild gets the same default); an
    explicit argument that is not one is an error, since a checkpoint could not rebuild it.
    """
    signature = inspect.signature(cls)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        takes = ", ".join(signature.parameters) or "no arguments"
        raise ConfigError(f"model {name!r}: {exc} (it takes {takes})") from None
    recorded: dict[str, Any] = {}
    for parameter in signature.parameters.values():  # signature order, for readable records
        if parameter.name in kwargs or parameter.default is inspect.Parameter.empty:
            continue
        try:
            recorded[parameter.name] = _json(parameter.default)
        except _NotJSON:
            continue
    for key, value in kwargs.items():
        try:
            recorded[key] = _json(value)
        except _NotJSON as exc:
            raise ConfigError(
                f"model {name!r}: argument {key!r} is a {exc}; model arguments must be JSON "
                f"values (numbers, strings, lists, mappings) so a checkpoint can record them"
            ) from None
    order = {key: index for index, key in enumerate(signature.parameters)}
    return dict(sorted(recorded.items(), key=lambda item: order.get(item[0], len(order))))


def build_model(name_or_path: str, **kwargs: Any) -> nn.Module:
    """Build a model by registry name or ``package.module:ClassName`` and record its arguments.

    Args:
        name_or_path: a key of :data:`MODELS` (``seizure_tcn``, ``stamp_resnet``) or a path to
            a user's ``nn.Module`` subclass, importable from ``sys.path``.
        **kwargs: constructor arguments, JSON values (as a YAML config gives them).

    Returns:
        The model, with its name and full arguments recorded for :func:`model_args`.

    Raises:
        ConfigError: the name does not resolve (see :func:`resolve_model`), an argument is
            unknown, missing or not a JSON value, or the constructor raised.
    """
    cls = resolve_model(name_or_path)
    recorded = _record_kwargs(name_or_path, cls, kwargs)
    try:
        model = cls(**copy.deepcopy(recorded))  # a copy: the model cannot change its record
    except ConfigError as exc:
        raise ConfigError(f"model {name_or_path!r}: {exc.message}") from exc
    except Exception as exc:  # a user's constructor can raise anything on bad arguments
        raise ConfigError(
            f"building model {name_or_path!r} with {recorded} raised {type(exc).__name__}: {exc}"
        ) from exc
    setattr(model, _RECORD, {"name": name_or_path, "kwargs": recorded})
    return model


def rebuild(name: str, kwargs: Mapping[str, Any]) -> nn.Module:
    """Build the model a checkpoint recorded: ``rebuild(**model_args(model))``.

    Args:
        name: the recorded model name or path.
        kwargs: the recorded constructor arguments.

    Returns:
        A freshly initialized model of the same architecture; load the weights into it.

    Raises:
        ConfigError: as :func:`build_model`.
    """
    return build_model(name, **kwargs)


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif isinstance(compiled := getattr(model, "_orig_mod", None), nn.Module):
            model = compiled
        else:
            return model


def model_args(model: nn.Module) -> dict[str, Any]:
    """The record a checkpoint stores to rebuild ``model``: ``{"name": str, "kwargs": dict}``.

    Args:
        model: a model made by :func:`build_model`, possibly wrapped by DDP or torch.compile.

    Returns:
        A copy of the record; its values are JSON data, safe for ``torch.load(weights_only=True)``.

    Raises:
        UsageError: the model was not made by :func:`build_model`.
    """
    record = getattr(_unwrap(model), _RECORD, None)
    if record is None:
        raise UsageError(
            f"{type(model).__name__} was not made by preflight.models.build_model, so its "
            f"constructor arguments are unknown; build it with build_model(name, **kwargs)"
        )
    return copy.deepcopy(record)


def count_parameters(model: nn.Module) -> int:
    """The number of scalar parameters of ``model`` (trainable or not)."""
    return sum(parameter.numel() for parameter in model.parameters())


def describe(model: nn.Module) -> str:
    """A one-line summary for logs: ``seizure_tcn(in_channels=19, ...): 246,401 parameters``.

    A model not made by :func:`build_model` is described by its class name.
    """
    record = getattr(_unwrap(model), _RECORD, None)
    if record is None:
        head = type(_unwrap(model)).__name__
    else:
        args = ", ".join(f"{key}={value!r}" for key, value in record["kwargs"].items())
        head = f"{record['name']}({args})"
    return f"{head}: {count_parameters(model):,} parameters"
