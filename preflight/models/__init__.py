"""Torch models and the registry that names them.

- :class:`SeizureTCN` (``seizure_tcn``): EEG windows ``(B, C, T)`` -> per-window ``(B,)`` and
  per-sample ``(B, T)`` logits.
- :class:`StampResNet` (``stamp_resnet``): image stamps ``(B, 3, 64, 64)`` -> logits ``(B,)``.
- :func:`build_model` builds one of ours by name or a user's ``package.module:ClassName`` and
  records its arguments; :func:`model_args` returns the record a checkpoint stores and
  :func:`rebuild` turns it back into a model.

Importing this package imports torch; ``import preflight`` does not.
"""

from preflight.models.registry import (
    MODELS,
    build_model,
    count_parameters,
    describe,
    model_args,
    rebuild,
    resolve_model,
)
from preflight.models.seizure import SeizureOutput, SeizureTCN
from preflight.models.stamp import StampResNet

__all__ = [
    "MODELS",
    "SeizureOutput",
    "SeizureTCN",
    "StampResNet",
    "build_model",
    "count_parameters",
    "describe",
    "model_args",
    "rebuild",
    "resolve_model",
]
